"""vidprov.generator."""
