"""Top-level ISO-BMFF boxes (MP4/MOV): where the manifest sits and which bytes it hashes."""

from __future__ import annotations

import struct
from collections.abc import Iterator
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
    return list(_walk(Path(path)))


def _walk(path: Path) -> Iterator[Box]:
    """Each top-level box in order, up to the first broken one, which raises
    :class:`ProvenanceError`."""
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
            uuid = f.read(16) if kind == b"uuid" else None
            box = Box(kind.decode("latin-1"), pos, size, uuid)
            if size < header or pos + size > total:
                if box.is_manifest:  # cut short inside the manifest box: it is still there
                    yield box
                raise ProvenanceError(f"bad box size {size} at byte {pos}", path)
            yield box
            pos += size


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
    """Whether a C2PA manifest box sits among the top-level boxes up to the first broken one
    (a file cut short inside its ``moov`` still shows the manifest box in front of it)."""
    try:
        for box in _walk(Path(path)):
            if box.is_manifest:
                return True
    except (ProvenanceError, OSError, struct.error):
        return False
    return False
