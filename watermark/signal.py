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
    mu = cv2.blur(y, (7, 7))
    var = cv2.blur(y * y, (7, 7)) - mu * mu
    return np.clip(np.sqrt(np.maximum(var, 0.0)) / 6.0, 0.4, 2.5)


def _upsample(cells: np.ndarray, grid: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    return cv2.resize(
        cells.reshape(grid[1], grid[0]).astype(np.float32),
        (shape[1], shape[0]),
        interpolation=cv2.INTER_LINEAR,
    )


def embed_luma(
    y: np.ndarray, pattern: KeyedPattern, coded: np.ndarray, config: WatermarkConfig
) -> np.ndarray:
    """Return marked luma (uint8) for one frame.

    Args:
        y: luma plane, uint8 (h, w).
        pattern: the keyed cell signs and owners.
        coded: +-1 per coded bit (the pilot is appended as +1 here).
    """
    yf = y.astype(np.float32)
    grid, s, owner = pattern.grid, pattern.signs, pattern.owner
    target = np.append(coded, 1.0).astype(np.float32)
    m = config.alpha * mask(yf)
    nb = pattern.n_bits + 1

    def project(img: np.ndarray) -> np.ndarray:
        return np.bincount(owner, weights=s * residual(img, grid), minlength=nb)

    unit = project(m * _upsample(s, grid, y.shape))
    unit = np.maximum(unit, 1e-3)
    gain = target.copy()
    for _ in range(config.iterations):
        p = project(yf + m * _upsample(s * gain[owner], grid, y.shape))
        short = unit - target * p
        gain = np.clip(
            gain + np.where(short > 0, target * short / unit, 0.0),
            -config.max_gain,
            config.max_gain,
        )
    out = yf + m * _upsample(s * gain[owner], grid, y.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
