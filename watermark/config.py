"""Watermark settings and the keyed pattern derived from the 256-bit key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from vidprov.errors import WatermarkError
from vidprov.fields import check_field_types
from vidprov.watermark.coding import CODED_BITS, LIST_SIZE

#: p-value threshold for "detected": at most one false alarm in a million unmarked clips.
P_THRESHOLD = 1e-6


@dataclass(frozen=True)
class WatermarkConfig:
    """How the mark is made and read.

    Attributes:
        strength: multiplier of the base amplitude (1.0 is tuned for mean Y-PSNR >= 43 dB).
        grid: working resolution (width, height) of the pattern, whatever the frame size.
        pilot_fraction: share of cells carrying the known pilot (detection); the rest carry bits.
        window: seconds per analysis window (segment time resolution before refinement).
        p_threshold: a clip or segment is "detected" when its p-value is at most this.
        min_side: frames smaller than this (pixels) cannot carry the mark.
        sync: when the mark is not found where it was embedded, search crop/scale hypotheses
            (:mod:`vidprov.watermark.sync`; about 0.1-0.3 s per clip, whatever its length).
        sharp: when the plain residual yields no payload, also read the sharp one
            (:func:`vidprov.watermark.signal.sharp_residual`; downscaled copies).
        list_size: decoder paths offered to the payload's CRC (:func:`vidprov.watermark.coding.
            decode`); more reads more payloads near the margin and costs a decoded payload's
            p-value a factor of ``list_size``; 1 is plain Viterbi.
    """

    strength: float = 1.0
    grid: tuple[int, int] = (128, 72)
    pilot_fraction: float = 0.1
    window: float = 0.5
    p_threshold: float = P_THRESHOLD
    min_side: int = 64
    sync: bool = True
    base_amplitude: float = 1.45
    iterations: int = 3
    max_gain: float = 2.0
    list_size: int = LIST_SIZE
    sharp: bool = True

    def __post_init__(self) -> None:
        check_field_types(self, WatermarkError)
        if not 0 < self.strength <= 10:
            raise WatermarkError(f"strength must be in (0, 10], got {self.strength}")
        if not 0 < self.window <= 10:
            raise WatermarkError(f"window must be in (0, 10] seconds, got {self.window}")
        if not 1 <= self.list_size <= 1024:
            raise WatermarkError(f"list_size must be in [1, 1024], got {self.list_size}")
        if not 0 < self.pilot_fraction < 1:
            raise WatermarkError(f"pilot_fraction must be in (0, 1), got {self.pilot_fraction}")
        if not 0 < self.p_threshold < 1:
            raise WatermarkError(f"p_threshold must be in (0, 1), got {self.p_threshold}")
        gw, gh = self.grid
        cells = round(gw * gh * (1 - self.pilot_fraction))
        if not (16 <= gw <= 1024 and 16 <= gh <= 1024) or cells < CODED_BITS:
            raise WatermarkError(
                f"grid must be 16..1024 cells a side, leaving at least {CODED_BITS} cells for "
                f"the payload after the pilot, got {self.grid}"
            )
        if not 16 <= self.min_side <= 4096:
            raise WatermarkError(f"min_side must be in [16, 4096] pixels, got {self.min_side}")
        if not (self.base_amplitude > 0 and self.max_gain > 0 and self.iterations >= 0):
            raise WatermarkError(
                "base_amplitude and max_gain must be positive and iterations at least 0, got "
                f"{self.base_amplitude}, {self.max_gain}, {self.iterations}"
            )

    @property
    def alpha(self) -> float:
        return self.base_amplitude * self.strength


@dataclass(frozen=True, eq=False)
class KeyedPattern:
    """Per-cell signs (+-1) and owners (coded bit index, or ``n_bits`` for the pilot)."""

    signs: np.ndarray
    owner: np.ndarray
    n_bits: int
    grid: tuple[int, int]


def keyed_pattern(key: bytes, grid: tuple[int, int], pilot_fraction: float) -> KeyedPattern:
    """Derive the pattern from the key with SHAKE-256 (stable across numpy versions).

    Raises:
        WatermarkError: the key is not 256 bits of ``bytes`` (or ``bytearray``).
    """
    from vidprov.keys import check_watermark_key

    return _keyed_pattern(check_watermark_key(key), grid, pilot_fraction)


@lru_cache(maxsize=16)
def _keyed_pattern(key: bytes, grid: tuple[int, int], pilot_fraction: float) -> KeyedPattern:
    cells = grid[0] * grid[1]
    stream = hashlib.shake_256(b"vidprov-watermark-v1" + key + repr(grid).encode()).digest(
        5 * cells
    )
    raw = np.frombuffer(stream, dtype=np.uint8)
    signs = np.where(raw[:cells] & 1, 1.0, -1.0).astype(np.float32)
    order = np.argsort(raw[cells:].view(np.uint32), kind="stable")
    n_pilot = round(cells * pilot_fraction)
    owner = np.empty(cells, dtype=np.int64)
    owner[order[:n_pilot]] = CODED_BITS
    owner[order[n_pilot:]] = np.arange(cells - n_pilot) % CODED_BITS
    return KeyedPattern(signs=signs, owner=owner, n_bits=CODED_BITS, grid=grid)
