"""vidprov.provenance."""
