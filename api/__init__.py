"""vidprov.api: the HTTP service (FastAPI) over the library, and its one-page upload UI."""

from vidprov.api.app import create_app
from vidprov.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
