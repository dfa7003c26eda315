"""Provenance fixtures: a home with keys, a watermarked clip and its signed copy (per module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vidprov.keys import init_keys, load_watermark_key
from vidprov.media import make_clip
from vidprov.provenance import SignResult, sign_file
from vidprov.watermark import embed_file

PAYLOAD = "0123456789abcdef"


@pytest.fixture(scope="module")
def pki_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    init_keys(home)
    return home


@pytest.fixture
def env_home(pki_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """VIDPROV_HOME pointing at the module's keyed home."""
    monkeypatch.setenv("VIDPROV_HOME", str(pki_home))
    yield pki_home


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def marked(pki_home: Path, workdir: Path) -> Path:
    """A 3 s 640x360 clip with sound, watermarked with PAYLOAD."""
    src = make_clip(
        workdir / "src.mp4", seconds=3.0, width=640, height=360, fps=30, audio=True, seed=4
    )
    key = load_watermark_key(pki_home / "watermark.key")
    embed_file(src, workdir / "marked.mp4", key, PAYLOAD)
    return workdir / "marked.mp4"


@pytest.fixture(scope="module")
def signed(pki_home: Path, marked: Path, workdir: Path) -> SignResult:
    mp = pytest.MonkeyPatch()
    mp.setenv("VIDPROV_HOME", str(pki_home))
    try:
        return sign_file(marked, workdir / "signed.mp4")
    finally:
        mp.undo()
