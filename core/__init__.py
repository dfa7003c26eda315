"""vidprov: provenance and AI-video detection, bundled with video generation.

Subpackages: :mod:`vidprov.media` (streaming video I/O), :mod:`vidprov.watermark`,
:mod:`vidprov.provenance`, :mod:`vidprov.generator`, :mod:`vidprov.detector`,
:mod:`vidprov.cli` and :mod:`vidprov.api`.
"""

from importlib.metadata import PackageNotFoundError, version

from vidprov.errors import KeyError_, MediaError, VidprovError

try:
    __version__ = version("vidprov")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["KeyError_", "MediaError", "VidprovError", "__version__"]
