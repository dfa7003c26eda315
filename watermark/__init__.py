"""vidprov.watermark."""
