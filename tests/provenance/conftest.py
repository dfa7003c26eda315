"""Provenance fixtures: a watermarked clip and its signed copy, per module, in ``keyed_home``."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidprov.keys import load_watermark_key
from vidprov.media import make_clip
from vidprov.provenance import SignResult, sign_file
from vidprov.watermark import embed_file

PAYLOAD = "0123456789abcdef"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def marked(keyed_home: Path, workdir: Path) -> Path:
    """A 3 s 640x360 clip with sound, watermarked with PAYLOAD."""
    src = make_clip(
        workdir / "src.mp4", seconds=3.0, width=640, height=360, fps=30, audio=True, seed=4
    )
    key = load_watermark_key(keyed_home / "watermark.key")
    embed_file(src, workdir / "marked.mp4", key, PAYLOAD)
    return workdir / "marked.mp4"


@pytest.fixture(scope="module")
def signed(keyed_home: Path, marked: Path, workdir: Path) -> SignResult:
    mp = pytest.MonkeyPatch()
    mp.setenv("VIDPROV_HOME", str(keyed_home))
    try:
        return sign_file(marked, workdir / "signed.mp4")
    finally:
        mp.undo()
