"""Geometric synchronisation: find the pattern again after cropping (and rescaling).

A crop that keeps the aspect ratio shows a sub-rectangle of the pattern's grid, magnified by
``s = 1 / (1 - 2c)`` (``c`` the crop per side) and shifted. The detector keeps, besides the
grid-resolution residual, a whitened residual at twice the grid resolution (``HI_FACTOR`` pixels
per cell when nothing is cropped). To test a scale, that residual is resized so that a grid cell
spans two pixels again, summed over 2x2 blocks and sampled at one of four half-cell phases: the
result is a residual *in grid coordinates* covering the visible cells. Every integer cell offset
of it inside the grid is then tested at once with two correlations (pilot numerator and energy
denominator, ``cv2.matchTemplate``).

Each hypothesis yields a residual ``v`` in grid coordinates (zero on invisible cells) that does
not depend on the key, so the Chernoff bound of :mod:`vidprov.watermark.detect` holds for it as
for the uncropped pattern. The search ranks hypotheses by pilot correlation (cheap: two
correlations per scale and phase), keeps the best ``per_scale`` of every scale and phase, and the
detector picks among those by the full statistic (pilot and coded-bit cells). However they were
picked, the result pays a Bonferroni factor of every hypothesis that exists,
:func:`hypothesis_count` (about 1.9e5 for the default grid), so the p-value stays a bound on an
unmarked clip scoring this well under any hypothesis.

Limits: the aspect ratio must be kept (same scale on both axes), scales from 1 to ``MAX_SCALE``
(crops up to about 19% per side), no rotation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from vidprov.watermark.config import KeyedPattern

HI_FACTOR = 2  # pixels per grid cell in the synchronisation residual (uncropped)
MAX_SCALE = 1.6  # largest magnification searched (crop of 18.75% per side)
_BLUR_SIGMA = 2.0  # one grid cell at HI_FACTOR
_EPS = 4.0


def hires_residual(y: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Whitened high-pass luma residual at ``HI_FACTOR`` times the grid resolution (float32)."""
    size = (grid[0] * HI_FACTOR, grid[1] * HI_FACTOR)
    w = cv2.resize(y.astype(np.float32, copy=False), size, interpolation=cv2.INTER_AREA)
    d = w - cv2.GaussianBlur(w, (0, 0), _BLUR_SIGMA)
    local = cv2.blur(d * d, (9, 9))
    return d * (10.0 / (local + _EPS))


@dataclass(frozen=True)
class Hypothesis:
    """Where the visible frame sits in the grid: its width in half-cells, phase, cell offset."""

    width: int
    phase: tuple[int, int]
    offset: tuple[int, int]


def _widths(grid: tuple[int, int]) -> range:
    full = grid[0] * HI_FACTOR
    return range(full, int(np.ceil(full / MAX_SCALE)) - 1, -1)


def _height(width: int, grid: tuple[int, int]) -> int:
    return round(grid[1] * HI_FACTOR * width / (grid[0] * HI_FACTOR))


def _phases(acc: np.ndarray, width: int, grid: tuple[int, int]):  # type: ignore[no-untyped-def]
    """The residual at this scale in grid coordinates, for each half-cell phase."""
    rs = cv2.resize(acc, (width, _height(width, grid)), interpolation=cv2.INTER_AREA)
    b = rs[:-1, :-1] + rs[1:, :-1] + rs[:-1, 1:] + rs[1:, 1:]
    for py in range(HI_FACTOR):
        for px in range(HI_FACTOR):
            bp = np.ascontiguousarray(b[py::HI_FACTOR, px::HI_FACTOR])
            if bp.shape[0] <= grid[1] and bp.shape[1] <= grid[0] and bp.size:
                yield (px, py), bp


@lru_cache(maxsize=8)
def hypothesis_count(grid: tuple[int, int]) -> int:
    """Number of (scale, phase, offset) hypotheses :func:`search` tests (its Bonferroni factor)."""
    total = 0
    for width in _widths(grid):
        hs = _height(width, grid)
        for py in range(HI_FACTOR):
            for px in range(HI_FACTOR):
                bh = len(range(py, hs - 1, HI_FACTOR))
                bw = len(range(px, width - 1, HI_FACTOR))
                if 0 < bh <= grid[1] and 0 < bw <= grid[0]:
                    total += (grid[1] - bh + 1) * (grid[0] - bw + 1)
    return total


def search(
    acc: np.ndarray, pattern: KeyedPattern, per_scale: int = 2
) -> list[tuple[Hypothesis, np.ndarray]]:
    """Candidate hypotheses for an accumulated :func:`hires_residual`, with the residual in grid
    coordinates under each: the ``per_scale`` best pilot correlations of every scale and phase.
    The caller ranks them with the full statistic (pilot and data cells)."""
    gw, gh = pattern.grid
    pilot = (pattern.owner == pattern.n_bits).reshape(gh, gw)
    signs = (pattern.signs.reshape(gh, gw) * pilot).astype(np.float32)
    ones = pilot.astype(np.float32)
    out: list[tuple[Hypothesis, np.ndarray]] = []
    for width in _widths(pattern.grid):
        for phase, bp in _phases(acc, width, pattern.grid):
            num = cv2.matchTemplate(signs, bp, cv2.TM_CCORR)
            den = cv2.matchTemplate(ones, bp * bp, cv2.TM_CCORR)
            z = (num / np.sqrt(np.maximum(den, 1e-12))).ravel()
            z[den.ravel() <= 1e-12] = 0.0
            top = np.argsort(z)[::-1][:per_scale]
            for k in top:
                oy, ox = divmod(int(k), num.shape[1])
                hyp = Hypothesis(width, phase, (ox, oy))
                out.append((hyp, _place(bp, hyp.offset, pattern.grid)))
    return out


def _place(bp: np.ndarray, offset: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    out = np.zeros((grid[1], grid[0]), np.float32)
    ox, oy = offset
    out[oy : oy + bp.shape[0], ox : ox + bp.shape[1]] = bp
    return out.ravel()


def to_grid(acc: np.ndarray, hyp: Hypothesis, grid: tuple[int, int]) -> np.ndarray:
    """An accumulated :func:`hires_residual` mapped to grid coordinates under ``hyp``
    (flattened, zero on cells outside the visible frame)."""
    for phase, bp in _phases(acc, hyp.width, grid):
        if phase == hyp.phase:
            return _place(bp, hyp.offset, grid)
    raise ValueError(f"no such phase {hyp.phase} at width {hyp.width}")  # pragma: no cover
