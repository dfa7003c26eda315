"""The signal processing: residual at the working resolution, perceptual mask, informed embedding.

Embedding adds ``alpha * mask * upsample(signs * gain)`` to luma. The pattern lives on a fixed
grid and is resized to the frame, so rescaling the video is close to a no-op for the detector.
Per frame, the gains are raised where the host image already opposes a bit (informed embedding:
a few fixed-point steps push each bit's projection to a target), so the static host does not
drown the mark.

Featureless areas (flat or smooth-gradient, black bars, blown-out sky) are where the codec
spends almost nothing, and there the smooth mark is at its most expensive: after 8-bit rounding
it is an irregular +-1 pattern that x264 at CRF 23 must code coefficient by coefficient (a
static dark gradient: +75% bytes, mostly in the intra frame; ``benchmarks/watermark_flat.py``).
So there the mark takes the form H.264 codes cheapest: constant over square blocks aligned with
the codec's transform or macroblock grid (:func:`block_size`; one DC coefficient each), integer
(exact after rounding), static, and only on the blocks well inside one grid cell (about one in
nine): +0% on that gradient at 640x360, and it still reads after CRF 28. On a featureless block
that *changes* over time (a fade, a gradient whose brightness drifts) any fixed pattern defeats
the encoder's prediction: a brightening flat gradient grew 4.5x (dense mark) or 2.6x (block
mark) at CRF 23, so such blocks carry no mark. A clip that is featureless *and* changing
everywhere therefore carries none. The classes (``NORMAL``, ``STILL_FLAT``, ``MOVING_FLAT``) are
decided per block over neighbouring frames by :func:`vidprov.watermark.embed.block_classes`.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidprov.watermark.config import KeyedPattern, WatermarkConfig

_BLUR_SIGMA = 1.0
_EPS = 4.0
_FLOOR = 0.5  # the mask in flat areas


def _highpass(y: np.ndarray, grid: tuple[int, int], interpolation: int, sigma: float) -> np.ndarray:
    """Luma resized to the grid, minus its Gaussian blur (``sigma`` in cells); (rows, columns)."""
    w = cv2.resize(y.astype(np.float32, copy=False), grid, interpolation=interpolation)
    return w - cv2.GaussianBlur(w, (0, 0), sigma)


def _whitened(d: np.ndarray) -> np.ndarray:
    """A grid residual divided by its local energy: quiet cells, where the mark dominates, count
    most; flattened."""
    local = cv2.blur(d * d, (5, 5))
    return (d * (10.0 / (local + _EPS))).ravel()


def residual(y: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """High-pass residual of luma at the working resolution, flattened (float32)."""
    return _highpass(y, grid, cv2.INTER_AREA, _BLUR_SIGMA).ravel()


def weighted_residual(y: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """:func:`residual` divided by its local energy (:func:`_whitened`)."""
    return _whitened(_highpass(y, grid, cv2.INTER_AREA, _BLUR_SIGMA))


_SHARP_SIGMA = 0.7


def sharp_residual(y: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """:func:`weighted_residual` for a mark blurred across cells (a downscaled copy, heavy
    compression): sampled at the cell centres (bilinear, not an area average that mixes in
    neighbouring cells) with a sharper high-pass. The detector reads it when the plain one
    yields no payload; it reads payloads the plain one loses after a 0.5x resize or CRF 35
    (docs/watermark.md, the read-back over keys)."""
    return _whitened(_highpass(y, grid, cv2.INTER_LINEAR, _SHARP_SIGMA))


def mask(y: np.ndarray) -> np.ndarray:
    """Perceptual mask: local texture (7x7 standard deviation), floored in flat areas."""
    mu = cv2.boxFilter(y, cv2.CV_32F, (7, 7))
    var = cv2.sqrBoxFilter(y, cv2.CV_32F, (7, 7))
    cv2.subtract(var, cv2.multiply(mu, mu, dst=mu), dst=var)  # in place: fewer big temporaries
    cv2.max(var, 0.0, dst=var)
    cv2.sqrt(var, dst=var)
    cv2.multiply(var, 1 / 6.0, dst=var)
    cv2.max(var, _FLOOR, dst=var)
    return cv2.min(var, 2.5, dst=var)


#: |block mean of the smooth mark| from which a still featureless block gets +-1: at strength 1
#: only blocks well inside one grid cell reach it (about 11% of them at 5 pixels per cell); the
#: rest stay unmarked, which is what keeps them cheap
_BLOCK_MIN = 0.55

#: block classes (:func:`embed_luma`'s ``blocks``): marked as usual, featureless and still
#: (block-constant integer mark), featureless and changing (no mark)
NORMAL, STILL_FLAT, MOVING_FLAT = 0, 1, 2


def block_size(shape: tuple[int, ...], grid: tuple[int, int]) -> int:
    """Side (pixels) of the featureless-area blocks for frames of ``shape``: H.264's 8x8
    transform, or its 16x16 macroblock once a grid cell spans 8 pixels, so that a block stays
    under two cells wide and the share of marked blocks (and their bytes) does not grow with the
    resolution (with 16-pixel blocks the benchmark's still dark gradient costs +6% at 1280x720)."""
    return 16 if shape[1] >= 8 * grid[0] else 8


def block_grid(shape: tuple[int, ...], size: int) -> tuple[int, int]:
    """(rows, columns) of ``size``-pixel blocks covering a frame of ``shape`` (partial ones
    count), aligned with its top-left corner like the codec's."""
    return -(-shape[0] // size), -(-shape[1] // size)


def block_means(a: np.ndarray, size: int) -> np.ndarray:
    """Mean of each block (edges replicated into partial blocks), float32."""
    rows, cols = block_grid(a.shape, size)
    a = a.astype(np.float32, copy=False)
    if (rows * size, cols * size) != a.shape:
        pad_b, pad_r = rows * size - a.shape[0], cols * size - a.shape[1]
        a = cv2.copyMakeBorder(a, 0, pad_b, 0, pad_r, cv2.BORDER_REPLICATE)
    return cv2.resize(a, (cols, rows), interpolation=cv2.INTER_AREA)


def block_stats(y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each block of a luma plane (float32)."""
    f = y.astype(np.float32)
    mean = block_means(f, size)
    sq = block_means(cv2.multiply(f, f, dst=f), size)
    return mean, cv2.sqrt(cv2.max(sq - mean * mean, 0.0))


def _upsample(cells: np.ndarray, grid: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    return cv2.resize(
        cells.reshape(grid[1], grid[0]).astype(np.float32),
        (shape[1], shape[0]),
        interpolation=cv2.INTER_LINEAR,
    )


_WORK = 4  # pixels per grid cell at which the informed-embedding iterations run


#: per-frame luma distortion cap at strength 1: Y-PSNR >= 40 dB before rounding (about 38.5
#: dB measured after 8-bit rounding and the RGB round trip)
_MAX_MSE = 255.0**2 / 10 ** (40.0 / 10)


def embed_luma(
    y: np.ndarray,
    pattern: KeyedPattern,
    coded: np.ndarray,
    config: WatermarkConfig,
    blocks: np.ndarray | None = None,
) -> np.ndarray:
    """Return marked luma (uint8) for one frame.

    The gain iterations only need each bit's projection at the grid resolution, so they run on
    the frame and mask area-reduced to ``_WORK`` pixels per cell; the mark itself is then made
    once at full resolution.

    Args:
        y: luma plane, uint8 (h, w).
        pattern: the keyed cell signs and owners.
        coded: +-1 per coded bit (the pilot is appended as +1 here).
        blocks: class of each block (:func:`block_size`, :func:`block_grid`; ``NORMAL``,
            ``STILL_FLAT``, ``MOVING_FLAT``), from the frames around this one
            (:func:`vidprov.watermark.embed.block_classes`); ``None``: no special blocks.
    """
    grid, s, owner = pattern.grid, pattern.signs, pattern.owner
    target = np.append(coded, 1.0).astype(np.float32)
    m = mask(y)
    m *= config.alpha
    nb = pattern.n_bits + 1
    work = (min(y.shape[1], grid[0] * _WORK), min(y.shape[0], grid[1] * _WORK))
    if work != (y.shape[1], y.shape[0]):
        yw = cv2.resize(y, work, interpolation=cv2.INTER_AREA).astype(np.float32)
        mw = cv2.resize(m, work, interpolation=cv2.INTER_AREA)
    else:
        yw, mw = y.astype(np.float32), m
    special = blocks is not None and bool((blocks != NORMAL).any())
    if special:  # the gains must not count on moving featureless blocks: they stay unmarked
        gate = (blocks != MOVING_FLAT).astype(np.float32)
        mw = mw * cv2.resize(gate, work, interpolation=cv2.INTER_NEAREST)  # m itself stays whole
    wshape = (work[1], work[0])

    def project(img: np.ndarray) -> np.ndarray:
        return np.bincount(owner, weights=s * residual(img, grid), minlength=nb)

    host = project(yw)
    unit = project(mw * _upsample(s, grid, wshape))
    unit = np.maximum(unit, 1e-3)
    gain = target.copy()
    for _ in range(config.iterations):
        p = host + project(mw * _upsample(s * gain[owner], grid, wshape))
        short = unit - target * p
        gain = np.clip(
            gain + np.where(short > 0, target * short / unit, 0.0),
            -config.max_gain,
            config.max_gain,
        )
    delta = _upsample(s * gain[owner], grid, y.shape)
    size = block_size(y.shape, grid)
    marks = _special_blocks(delta, m, blocks, size, config.alpha) if special else None
    delta *= m
    if marks is not None:
        si, sj, q = marks
        _blocks_view(delta, size)[si, :, sj, :] = q[:, None, None]
    # very textured frames: cap the distortion (a worst-frame PSNR floor at the default
    # strength; an explicitly raised strength raises the cap with it)
    cap = _MAX_MSE * config.strength**2
    mse = float(np.mean(delta * delta))
    if mse > cap:
        delta *= np.float32(np.sqrt(cap / mse))
    return cv2.add(y, delta, dtype=cv2.CV_8U)


def _blocks_view(a: np.ndarray, size: int) -> np.ndarray:
    """(rows, size, cols, size) view of the complete blocks of a plane (writes go through)."""
    rows, cols = a.shape[0] // size, a.shape[1] // size
    return a[: rows * size, : cols * size].reshape(rows, size, cols, size)


def _special_blocks(
    smooth: np.ndarray, m: np.ndarray, blocks: np.ndarray, size: int, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zero the mask ``m`` on the special blocks and return the ``STILL_FLAT`` blocks that get a
    mark (rows, columns, values): the block mean of ``smooth`` (the upsampled cell pattern, before
    masking) times the floor mask, rounded to +-1 (more at a high strength) where it reaches
    ``_BLOCK_MIN`` (blocks well inside one grid cell). Only the blocks concerned are zeroed, so
    that the cost follows the flat area; partial blocks at the right and bottom edges stay
    ``NORMAL``."""
    m4 = _blocks_view(m, size)
    b = blocks[: m4.shape[0], : m4.shape[2]]
    ri, ci = np.nonzero(b != NORMAL)
    m4[ri, :, ci, :] = 0.0
    si, sj = np.nonzero(b == STILL_FLAT)
    if len(ri) > b.size // 4:  # many special blocks: one whole-plane pass is faster
        v = block_means(smooth[: b.shape[0] * size, : b.shape[1] * size], size)[si, sj]
    else:
        v = _blocks_view(smooth, size)[si, :, sj, :].mean(axis=(1, 2))
    v *= np.float32(alpha * _FLOOR)
    mag = np.abs(v)
    keep = mag >= _BLOCK_MIN
    q = np.copysign(np.maximum(np.round(mag[keep]), 1.0), v[keep]).astype(np.float32)
    return si[keep], sj[keep], q
