"""Where a composite's generated pieces lie: what an edit records about its sources' time.

A concatenation's manifest declares one digitalSourceType for the whole clip (a composite with
generated media, say) and its soft binding covers only the pieces our mark is in. It also
records, in vidprov's own assertion, each piece of its timeline and what that piece's source
was: ``generated`` (declared so by its manifest, or marked from end to end), ``composite``
(generated in part) or ``unclaimed`` (no generated-content claim and no mark: camera footage,
or generated footage nobody declared). A trim of it keeps the pieces it holds, and so can
declare what it is itself, and a scan can label the declared pieces without the mark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vidprov.errors import ProvenanceError

KINDS = ("generated", "composite", "unclaimed")
_MIN_S = 1e-3  # a piece shorter than this (a millisecond: the report's rounding) is dropped


@dataclass(frozen=True)
class Piece:
    """``[start, end)`` seconds of a clip's timeline and what its source was (:data:`KINDS`)."""

    start: float
    end: float
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ProvenanceError(f"a piece's kind is one of {', '.join(KINDS)}, not {self.kind!r}")
        if not 0.0 <= self.start < self.end < float("inf"):  # NaN fails this too
            raise ProvenanceError(
                f"a piece runs from 0 or later to a later end, not {self.start}..{self.end}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "kind": self.kind}


def pieces_from(data: Any) -> tuple[Piece, ...]:
    """The pieces a manifest's ``composition`` list holds; entries that are not well formed
    (another writer's, a damaged store) are left out, not trusted."""
    out = []
    for item in data if isinstance(data, list) else ():
        try:
            out.append(Piece(float(item["start"]), float(item["end"]), item["kind"]))
        except (KeyError, TypeError, ValueError, OverflowError, ProvenanceError):
            continue
    return tuple(sorted(out, key=lambda p: p.start))


def composition_of(manifest: dict[str, Any] | None) -> tuple[Piece, ...]:
    """The pieces recorded in a manifest (c2pa reader JSON, or a stored manifest)."""
    from vidprov.provenance.manifest import GENERATION_LABEL

    for a in (manifest or {}).get("assertions", []):
        if isinstance(a, dict) and a.get("label") == GENERATION_LABEL:
            data = a.get("data")
            return pieces_from(data.get("composition") if isinstance(data, dict) else None)
    return ()


def remap_pieces(
    pieces: Iterable[Piece], start: float, end: float, offset: float = 0.0
) -> tuple[Piece, ...]:
    """The parts of ``pieces`` inside ``[start, end)``, moved to begin at ``offset``."""
    out = []
    for p in pieces:
        a, b = max(p.start, start), min(p.end, end)
        if b - a >= _MIN_S:
            out.append(Piece(a - start + offset, b - start + offset, p.kind))
    return tuple(out)


def declared_by(pieces: tuple[Piece, ...]) -> str | None:
    """What a clip made of ``pieces`` is (``generated``, ``composite`` or ``unclaimed``); None
    when there are none."""
    if not pieces:
        return None
    kinds = {p.kind for p in pieces}
    if kinds == {"generated"}:
        return "generated"
    return "unclaimed" if kinds == {"unclaimed"} else "composite"
