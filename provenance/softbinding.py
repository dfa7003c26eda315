"""C2PA soft binding for video: one block per second, value = the watermark payload read there.

The assertion (label ``c2pa.soft-binding``) names our algorithm and lists blocks whose
``scope.timespan`` is in milliseconds and whose ``value`` is the 8-byte payload in base64.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vidprov.errors import ProvenanceError
from vidprov.watermark.results import WatermarkReading

ALG = "io.vidprov.watermark.ss64.v1"
LABEL = "c2pa.soft-binding"


def payload_to_value(payload_hex: str) -> str:
    """The soft-binding value (base64 of the 8 payload bytes) for a 16-hex-digit payload.

    Raises:
        ProvenanceError: not 16 hex digits.
    """
    try:
        raw = bytes.fromhex(payload_hex)
    except ValueError as exc:
        raise ProvenanceError(f"payload {payload_hex!r} is not hex") from exc
    if len(raw) != 8:
        raise ProvenanceError(f"payload {payload_hex!r} is not 64 bits")
    return base64.b64encode(raw).decode()


def value_to_payload(value: str) -> str:
    """The payload hex for a soft-binding value (base64 or, leniently, 16 hex digits).

    Raises:
        ProvenanceError: neither form decodes to 8 bytes.
    """
    if len(value) == 16:
        try:
            return bytes.fromhex(value).hex()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProvenanceError(f"soft-binding value {value!r} is not base64") from exc
    if len(raw) != 8:
        raise ProvenanceError(f"soft-binding value {value!r} is not 8 bytes")
    return raw.hex()


@dataclass(frozen=True)
class SoftBindingBlock:
    """One block: ``value`` (base64) covers ``[start_ms, end_ms)`` of the clip."""

    start_ms: int
    end_ms: int
    value: str
    alg: str = ALG

    @property
    def payload(self) -> str:
        return value_to_payload(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "value": self.value,
            "payload": self.payload,
        }


def blocks_from_reading(reading: WatermarkReading, duration: float) -> tuple[SoftBindingBlock, ...]:
    """One block per second of ``duration`` whose second is mostly covered by a decoded segment."""
    out = []
    for k in range(math.ceil(duration - 1e-6)):
        lo, hi = float(k), min(float(k + 1), duration)
        best, cover = None, 0.0
        for s in reading.segments:
            ov = min(hi, s.end) - max(lo, s.start)
            if s.payload and ov > cover:
                best, cover = s.payload, ov
        if best is not None and cover >= 0.5 * (hi - lo):
            out.append(SoftBindingBlock(round(lo * 1000), round(hi * 1000), payload_to_value(best)))
    return tuple(out)


def remap(
    blocks: Iterable[SoftBindingBlock], start: float, end: float, offset: float = 0.0
) -> tuple[SoftBindingBlock, ...]:
    """Blocks of ``[start, end)`` seconds of a source, moved to begin at ``offset`` seconds.

    A block the range cuts is kept when 0.1 s or more of it is left; a block inside the range
    is kept whole, however short (a clip's last, short block: a concatenation that dropped it
    declared spans that fit the clip's mark better than the clip's own, and recovery led a
    stripped copy of the clip to the concatenation)."""
    out = []
    s_ms, e_ms, o_ms = round(start * 1000), round(end * 1000), round(offset * 1000)
    for b in blocks:
        lo, hi = max(b.start_ms, s_ms), min(b.end_ms, e_ms)
        whole = (lo, hi) == (b.start_ms, b.end_ms) and hi > lo
        if whole or hi - lo >= 100:
            out.append(SoftBindingBlock(lo - s_ms + o_ms, hi - s_ms + o_ms, b.value, b.alg))
    return tuple(out)


def to_assertion(blocks: tuple[SoftBindingBlock, ...]) -> dict[str, Any]:
    """The ``c2pa.soft-binding`` assertion for these blocks (all of one algorithm)."""
    return {
        "label": LABEL,
        "data": {
            "alg": blocks[0].alg if blocks else ALG,
            "blocks": [
                {"scope": {"timespan": {"start": b.start_ms, "end": b.end_ms}}, "value": b.value}
                for b in blocks
            ],
        },
    }


def from_manifest(manifest: dict[str, Any]) -> tuple[SoftBindingBlock, ...]:
    """The soft-binding blocks a manifest (c2pa reader JSON) declares, of any algorithm."""
    out = []
    for a in manifest.get("assertions", []):
        if a.get("label") != LABEL:
            continue
        data = a.get("data") or {}
        alg = str(data.get("alg", ""))
        for b in data.get("blocks", []):
            span = (b.get("scope") or {}).get("timespan") or {}
            try:
                out.append(
                    SoftBindingBlock(int(span["start"]), int(span["end"]), str(b["value"]), alg)
                )
            except (KeyError, TypeError, ValueError):
                continue
    return tuple(out)
