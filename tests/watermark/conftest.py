"""Watermark fixtures: a key and small textured clips."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

KEY = bytes(range(32))


@pytest.fixture
def key() -> bytes:
    return KEY


@pytest.fixture
def host(clip_factory: Callable[..., Path]) -> Path:
    """A 3 s 640x360 30 fps textured clip with sound."""
    return clip_factory("host.mp4", seconds=3.0, width=640, height=360, fps=30, audio=True, seed=3)
