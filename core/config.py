"""Where vidprov keeps its keys and stores: ``VIDPROV_HOME`` (default ``~/.vidprov``)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "VIDPROV_HOME"


def home_dir() -> Path:
    """The vidprov home folder, from ``VIDPROV_HOME`` or ``~/.vidprov`` (not created here)."""
    env = os.environ.get(ENV_HOME)
    return Path(env).expanduser() if env else Path.home() / ".vidprov"
