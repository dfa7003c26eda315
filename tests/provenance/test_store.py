"""Manifest store and soft-binding values."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidprov.errors import ProvenanceError
from vidprov.provenance import ALG, ManifestStore, SoftBindingBlock
from vidprov.provenance.softbinding import (
    payload_to_value,
    remap,
    value_to_payload,
)


def test_value_round_trip() -> None:
    v = payload_to_value("00ff00ff00ff00ff")
    assert v == "AP8A/wD/AP8="
    assert value_to_payload(v) == value_to_payload("00ff00ff00ff00ff") == "00ff00ff00ff00ff"
    for bad in ("zz", "AAAA", "not base64!"):
        with pytest.raises(ProvenanceError):
            value_to_payload(bad)


def test_find_oldest_first(tmp_path: Path) -> None:
    s = ManifestStore(tmp_path / "m.sqlite")
    v = payload_to_value("0123456789abcdef")
    blocks = (SoftBindingBlock(0, 1000, v),)
    s.add("urn:a", {"label": "urn:a"}, b"A", blocks, title="a")
    s.add("urn:b", {"label": "urn:b"}, b"B", blocks, title="b")
    s.add(
        "urn:c", {"label": "urn:c"}, b"C", (SoftBindingBlock(0, 1000, payload_to_value("00" * 8)),)
    )
    assert s.find(ALG, v) == ["urn:a", "urn:b"]
    got = s.get("urn:a")
    assert got is not None and got.manifest_store == b"A" and got.title == "a"
    assert s.get("urn:zzz") is None and s.count() == 3
    # re-adding replaces, never duplicates
    s.add("urn:a", {"label": "urn:a"}, b"A2", ())
    assert s.find(ALG, v) == ["urn:b"] and s.count() == 3


def test_not_a_database(tmp_path: Path) -> None:
    p = tmp_path / "m.sqlite"
    p.write_text("this is not sqlite" * 100)
    with pytest.raises(ProvenanceError, match="manifest store"):
        ManifestStore(p)


def test_remap() -> None:
    v = payload_to_value("0123456789abcdef")
    b = tuple(SoftBindingBlock(s, e, v) for s, e in [(0, 1000), (1000, 2000), (2000, 2500)])
    r = remap(b, 0.8, 2.2, offset=10.0)
    assert [(x.start_ms, x.end_ms) for x in r] == [(10000, 10200), (10200, 11200), (11200, 11400)]
    # cut to under 0.1 s: dropped; a short block inside the range: kept whole
    b = tuple(SoftBindingBlock(s, e, v) for s, e in [(0, 1000), (1000, 2000), (2000, 2042)])
    assert [(x.start_ms, x.end_ms) for x in remap(b, 0.95, 2.042)] == [(50, 1050), (1050, 1092)]
    assert [(x.start_ms, x.end_ms) for x in remap(b, 0.0, 2.042, 3.0)][-1] == (5000, 5042)


def test_a_short_last_block_does_not_decide_recovery() -> None:
    """A clip of 2.042 s declares [2.0, 2.042) last; its mark read over 0-2.0 s fitted a
    concatenation that had dropped that block (IoU 1.0) better than the clip (0.979)."""
    from vidprov.provenance.verify import _mismatch

    seen = [(0.0, 2.0)]
    clip = _mismatch(seen, [(0, 1000), (1000, 2000), (2000, 2042)])
    assert clip == _mismatch(seen, [(0, 1000), (1000, 2000)])  # a tie: the oldest wins
    assert clip < _mismatch(seen, [(0, 1000), (1000, 2000), (2000, 2500)])  # a worse fit
