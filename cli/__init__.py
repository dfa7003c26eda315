"""vidprov.cli: the click command line (thin over the library)."""
