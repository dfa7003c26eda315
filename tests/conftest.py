"""Shared fixtures: every test makes its own small clips."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vidprov.media import make_clip


@pytest.fixture
def clip_factory(tmp_path: Path) -> Callable[..., Path]:
    """Make a synthetic clip in the test folder: ``clip_factory(name, **make_clip_kwargs)``."""

    def make(name: str = "clip.mp4", **kwargs: object) -> Path:
        return make_clip(tmp_path / name, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def clip(clip_factory: Callable[..., Path]) -> Path:
    """A 1 s 160x120 30 fps clip with an AAC tone."""
    return clip_factory("clip.mp4", seconds=1.0, width=160, height=120, fps=30, audio=True)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private VIDPROV_HOME for the test."""
    h = tmp_path / "home"
    monkeypatch.setenv("VIDPROV_HOME", str(h))
    return h
