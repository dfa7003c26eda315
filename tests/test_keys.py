"""Watermark key loading: typed errors for missing and malformed keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidprov.errors import KeyError_
from vidprov.keys import init_keys, load_watermark_key


def test_round_trip(home: Path) -> None:
    r = init_keys()
    assert Path(r.watermark_key).parent == home
    assert len(load_watermark_key()) == 32


def test_missing_key(home: Path) -> None:
    with pytest.raises(KeyError_, match="keys init"):
        load_watermark_key()


@pytest.mark.parametrize("text", ["zz" * 32, "ab" * 31, ""])
def test_malformed_key(tmp_path: Path, text: str) -> None:
    p = tmp_path / "k"
    p.write_text(text)
    with pytest.raises(KeyError_, match="256-bit") as ei:
        load_watermark_key(p)
    assert str(p) in str(ei.value)
