"""vidprov.detector."""
