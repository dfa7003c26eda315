"""vidprov.api."""
