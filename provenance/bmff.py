"""Top-level ISO-BMFF boxes (MP4/MOV): where the manifest sits and which bytes it hashes."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from vidprov.errors import ProvenanceError

C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
# Top-level boxes c2pa's BMFF hash leaves out (besides the manifest's own uuid box).
UNHASHED = {b"ftyp", b"free", b"skip", b"mfra"}


@dataclass(frozen=True)
class Box:
    """One top-level box: its type, where it starts and how long it is (header included)."""

    type: str
    offset: int
    size: int
    uuid: bytes | None = None

    @property
    def is_manifest(self) -> bool:
        return self.uuid == C2PA_UUID

    @property
    def hashed(self) -> bool:
        """Whether c2pa's BMFF hash covers this box."""
        return not self.is_manifest and self.type.encode() not in UNHASHED


def top_level_boxes(path: str | Path) -> list[Box]:
    """The file's top-level boxes in order.

    Raises:
        ProvenanceError: the file is not a well-formed BMFF file.
    """
    path = Path(path)
    out: list[Box] = []
    total = path.stat().st_size
    with open(path, "rb") as f:
        pos = 0
        while pos < total:
            f.seek(pos)
            head = f.read(8)
            if len(head) < 8:
                raise ProvenanceError(f"truncated box header at byte {pos}", path)
            size, kind = struct.unpack(">I4s", head)
            header = 8
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                header = 16
            elif size == 0:
                size = total - pos
            if size < header or pos + size > total:
                raise ProvenanceError(f"bad box size {size} at byte {pos}", path)
            uuid = f.read(16) if kind == b"uuid" else None
            out.append(Box(kind.decode("latin-1"), pos, size, uuid))
            pos += size
    return out


def hashed_ranges(path: str | Path) -> list[tuple[int, int]]:
    """Byte ranges ``[start, end)`` that c2pa's BMFF hash covers (the hashed top-level boxes,
    headers excluded): any change there must make the manifest invalid. Used by tamper tests.

    Raises:
        ProvenanceError: as :func:`top_level_boxes`.
    """
    return [(b.offset + 8, b.offset + b.size) for b in top_level_boxes(path) if b.hashed]


def manifest_range(path: str | Path) -> tuple[int, int] | None:
    """Where the embedded manifest box's payload lies, if there is one.

    Raises:
        ProvenanceError: as :func:`top_level_boxes`.
    """
    for b in top_level_boxes(path):
        if b.is_manifest:
            return (b.offset + 24, b.offset + b.size)
    return None


def has_manifest_box(path: str | Path) -> bool:
    """Whether a C2PA manifest box sits among the top-level boxes before the first broken one
    (a file cut short inside its ``moov`` still shows the manifest box in front of it)."""
    try:
        total = Path(path).stat().st_size
        with open(path, "rb") as f:
            pos = 0
            while pos + 8 <= total:
                f.seek(pos)
                size, kind = struct.unpack(">I4s", f.read(8))
                if size == 1:
                    size = struct.unpack(">Q", f.read(8))[0]
                elif size == 0:
                    size = total - pos
                if kind == b"uuid" and f.read(16) == C2PA_UUID:
                    return True
                if size < 8:
                    return False
                pos += size
    except (OSError, struct.error):
        return False
    return False
