"""The signal processing: residual at the working resolution, perceptual mask, informed embedding.

Embedding adds ``alpha * mask * upsample(signs * gain)`` to luma. The pattern lives on a fixed
grid and is resized to the frame, so rescaling the video is close to a no-op for the detector.
Per frame, the gains are raised where the host image already opposes a bit (informed embedding:
a few fixed-point steps push each bit's projection to a target), so the static host does not
drown the mark.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidprov.watermark.config import KeyedPattern, WatermarkConfig

_BLUR_SIGMA = 1.0
_EPS = 4.0


def residual(y: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """High-pass residual of luma at the working resolution, flattened (float32)."""
    w = cv2.resize(y.astype(np.float32, copy=False), grid, interpolation=cv2.INTER_AREA)
    return (w - cv2.GaussianBlur(w, (0, 0), _BLUR_SIGMA)).ravel()


def weighted_residual(y: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Residual divided by its local energy: quiet cells, where the mark dominates, count most."""
    d = residual(y, grid)
    local = cv2.blur((d * d).reshape(grid[1], grid[0]), (5, 5)).ravel()
    return d * (10.0 / (local + _EPS))


def mask(y: np.ndarray) -> np.ndarray:
    """Perceptual mask: local texture (7x7 standard deviation), floored in flat areas."""
    mu = cv2.boxFilter(y, cv2.CV_32F, (7, 7))
    var = cv2.sqrBoxFilter(y, cv2.CV_32F, (7, 7))
    cv2.subtract(var, cv2.multiply(mu, mu, dst=mu), dst=var)  # in place: fewer big temporaries
    cv2.max(var, 0.0, dst=var)
    cv2.sqrt(var, dst=var)
    cv2.multiply(var, 1 / 6.0, dst=var)
    cv2.max(var, 0.5, dst=var)
    return cv2.min(var, 2.5, dst=var)


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
    y: np.ndarray, pattern: KeyedPattern, coded: np.ndarray, config: WatermarkConfig
) -> np.ndarray:
    """Return marked luma (uint8) for one frame.

    The gain iterations only need each bit's projection at the grid resolution, so they run on
    the frame and mask area-reduced to ``_WORK`` pixels per cell; the mark itself is then made
    once at full resolution.

    Args:
        y: luma plane, uint8 (h, w).
        pattern: the keyed cell signs and owners.
        coded: +-1 per coded bit (the pilot is appended as +1 here).
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
    delta *= m
    # very textured frames: cap the distortion (a worst-frame PSNR floor at the default
    # strength; an explicitly raised strength raises the cap with it)
    cap = _MAX_MSE * config.strength**2
    mse = float(np.mean(delta * delta))
    if mse > cap:
        delta *= np.float32(np.sqrt(cap / mse))
    return cv2.add(y, delta, dtype=cv2.CV_8U)
