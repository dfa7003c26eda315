"""Shared fixtures: every test makes its own small clips."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from vidprov.keys import init_keys
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


@pytest.fixture(scope="module")
def keyed_home(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """A vidprov home with a watermark key and the dev signing PKI (one per test module, so
    manifest stores do not leak between modules).

    The watermark key is fixed per module (derived from its name), so a run does not depend on
    a random key: segment boundaries on the tiny synthetic clips land off by more than the tests'
    0.5 s for a few percent of keys (docs/watermark.md)."""
    home = tmp_path_factory.mktemp("home")
    init_keys(home)
    key = hashlib.sha256(b"vidprov-test-key:" + request.module.__name__.encode()).hexdigest()
    (home / "watermark.key").write_text(key + "\n")
    return home


@pytest.fixture
def env_home(keyed_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """VIDPROV_HOME pointing at the module's keyed home."""
    monkeypatch.setenv("VIDPROV_HOME", str(keyed_home))
    return keyed_home
