"""Forensic features of one frame (and its predecessor): noise residual statistics, residual
co-occurrences in luma and in chroma, the residual's radial spectrum, sharpness/colour, chroma
noise (its level against luma noise and its correlation across channels: camera demosaicing
correlates them), the residual's fall-off over scales, and temporal noise coherence.

Every frame is first brought to a fixed working size (:func:`prepare`: short side
``WORK_SHORT``), so the features describe content, not the upload's resolution.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

WORK_SHORT = 240
SPEC = 192  # centre patch for the spectrum
RADIAL_BINS = 12
_Q = 2  # co-occurrence truncation: residuals quantised to -_Q.._Q


def prepare(rgb: np.ndarray) -> np.ndarray:
    """Resize an RGB frame so its short side is ``WORK_SHORT`` (area filter when shrinking)."""
    h, w = rgb.shape[:2]
    s = WORK_SHORT / min(h, w)
    if abs(s - 1.0) < 1e-3:
        return rgb
    size = (max(SPEC, round(w * s)), max(SPEC, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, size, interpolation=interp)


def _cooc(q: np.ndarray, axis: int) -> np.ndarray:
    a = q[:, :-1] if axis == 1 else q[:-1, :]
    b = q[:, 1:] if axis == 1 else q[1:, :]
    n = 2 * _Q + 1
    idx = (a + _Q) * n + (b + _Q)
    h = np.bincount(idx.ravel(), minlength=n * n).astype(np.float64)
    return h / max(h.sum(), 1.0)


def _radial(res: np.ndarray) -> np.ndarray:
    h, w = res.shape
    y0, x0 = (h - SPEC) // 2, (w - SPEC) // 2
    patch = res[y0 : y0 + SPEC, x0 : x0 + SPEC]
    win = np.outer(np.hanning(SPEC), np.hanning(SPEC))
    p = np.abs(np.fft.fftshift(np.fft.fft2(patch * win))) ** 2
    yy, xx = np.indices(p.shape)
    r = np.hypot(yy - SPEC / 2, xx - SPEC / 2) / (SPEC / 2)
    bins = np.minimum((r * RADIAL_BINS).astype(int), RADIAL_BINS)
    tot = np.bincount(bins.ravel(), weights=p.ravel(), minlength=RADIAL_BINS + 1)[:RADIAL_BINS]
    cnt = np.bincount(bins.ravel(), minlength=RADIAL_BINS + 1)[:RADIAL_BINS]
    prof = np.log(tot / np.maximum(cnt, 1) + 1e-12)
    prof = prof - prof.mean()
    hi = p[r > 0.5]
    peak = np.log(hi.max() / (np.median(hi) + 1e-12) + 1e-12) if hi.size else 0.0
    return np.concatenate([prof, [peak]])


def _kurt(x: np.ndarray) -> float:
    x = x - x.mean()
    x2 = x * x
    v = float(x2.mean())
    return float((x2 * x2).mean() / (v * v + 1e-12))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b) / den) if den > 0 else 0.0


@functools.lru_cache(maxsize=4)
def _levels(step: float) -> np.ndarray:
    """Quantiser for differences of 8-bit values: ``levels[d + 255]`` is ``d / step`` rounded
    (half to even) and clipped to -_Q.._Q."""
    d = np.arange(-255, 256, dtype=np.float64)
    return np.clip(np.rint(d / step), -_Q, _Q).astype(np.int16)


def _pairs(img: np.ndarray, step: float) -> np.ndarray:
    """Co-occurrences of neighbouring horizontal, then vertical, differences of an 8-bit
    ``img`` quantised by ``step`` to -_Q.._Q."""
    q, v = _levels(step), img.astype(np.int16)
    dx, dy = q[np.diff(v, axis=1) + 255], q[np.diff(v, axis=0) + 255]
    return np.concatenate([_cooc(dx, 1), _cooc(dy, 0)])


def _chroma(rgb: np.ndarray, ycc: np.ndarray, res_y: np.ndarray) -> list[float]:
    """Chroma noise level against luma noise, its peakedness, and residual correlations between
    luma and chroma and between the RGB channels."""
    c = ycc[..., 1:].astype(np.float32) - cv2.medianBlur(ycc[..., 1:].copy(), 3).astype(np.float32)
    cr, cb = c[..., 0].ravel(), c[..., 1].ravel()
    q = rgb.astype(np.float32) - cv2.medianBlur(rgb, 3).astype(np.float32)
    r, g, b = (q[..., i].ravel() for i in range(3))
    sy = float(res_y.std()) + 1e-3
    ry = res_y.ravel()
    return [
        float(np.log((cr.std() + 1e-3) / sy)),
        float(np.log((cb.std() + 1e-3) / sy)),
        np.log1p(_kurt(cr)),
        np.log1p(_kurt(cb)),
        _corr(ry, cr),
        _corr(ry, cb),
        _corr(r, g),
        _corr(g, b),
        _corr(r, b),
    ]


_SCALES = 4


def _multiscale(y: np.ndarray) -> list[float]:
    """Log residual level and peakedness at four octaves, and the level's fall-off between
    them (sensor noise is white and fades fast with scale; synthesis texture does not)."""
    levels, kurts = [], []
    for s in range(_SCALES):
        r = y - cv2.GaussianBlur(y, (0, 0), 1.0)
        levels.append(float(np.log(r.std() + 1e-3)))
        kurts.append(float(np.log1p(_kurt(r))))
        if s < _SCALES - 1:
            y = cv2.pyrDown(y)
    return [*levels, *kurts, *np.diff(levels)]


class FrameState:
    """What :func:`frame_features` keeps of the previous frame for the temporal features."""

    def __init__(self, y: np.ndarray, res: np.ndarray) -> None:
        self.y = y
        self.res = res


def frame_features(rgb: np.ndarray, prev: FrameState | None) -> tuple[np.ndarray, FrameState]:
    """Feature vector of one prepared RGB frame (see :data:`FEATURE_NAMES`) and the state
    to pass with the next frame. Temporal features are NaN without a (distinct) previous frame.
    """
    y8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    y = y8.astype(np.float32)
    res = y - cv2.medianBlur(y8, 3).astype(np.float32)
    a = np.abs(res)
    stats = [float(res.std()), float(a.mean()), np.log1p(_kurt(res)), float((a < 0.5).mean())]
    cooc = _pairs(y8, 2.0)
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    # chroma differences are smaller than luma's: a finer step
    cc = np.concatenate([_pairs(ycc[..., c], 1.0) for c in (1, 2)])
    spec = _radial(res)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    sat = hsv[..., 1].astype(np.float32) / 255.0
    lap = cv2.Laplacian(y, cv2.CV_32F)
    look = [np.log1p(float(lap.var())), float(sat.mean()), float(sat.std()), float(y.std()) / 255]
    chroma = _chroma(rgb, ycc, res)
    scales = _multiscale(y)
    temporal = [np.nan, np.nan, np.nan]
    if prev is not None and prev.y.shape == y.shape:
        motion = float(np.abs(y - prev.y).mean())
        if motion > 0.05:  # a duplicated frame says nothing about noise coherence
            corr = _corr(prev.res.ravel(), res.ravel())
            ratio = float((res - prev.res).std() / (res.std() + 1e-6))
            temporal = [corr, ratio, np.log1p(motion)]
    vec = np.concatenate([stats, cooc, cc, spec, look, chroma, scales, temporal])
    return vec.astype(np.float32), FrameState(y, res)


def luma_hist(rgb: np.ndarray) -> np.ndarray:
    """A normalised 3×16-bin colour histogram, for shot-boundary detection."""
    small = cv2.resize(rgb, (64, 36), interpolation=cv2.INTER_AREA)
    h = [np.bincount((small[..., c] // 16).ravel(), minlength=16) for c in range(3)]
    v = np.concatenate(h).astype(np.float32)
    return v / v.sum()


_NCO = (2 * _Q + 1) ** 2
FEATURE_NAMES: tuple[str, ...] = (
    "res_std",
    "res_absmean",
    "res_logkurt",
    "res_flat",
    *(f"cooc_h{i}" for i in range(_NCO)),
    *(f"cooc_v{i}" for i in range(_NCO)),
    *(f"cc_{c}_{d}{i}" for c in ("cr", "cb") for d in "hv" for i in range(_NCO)),
    *(f"spec_r{i}" for i in range(RADIAL_BINS)),
    "spec_peak",
    "lap_logvar",
    "sat_mean",
    "sat_std",
    "luma_std",
    "c_cr_level",
    "c_cb_level",
    "c_cr_logkurt",
    "c_cb_logkurt",
    "c_corr_y_cr",
    "c_corr_y_cb",
    "c_corr_rg",
    "c_corr_gb",
    "c_corr_rb",
    *(f"ms_level{i}" for i in range(_SCALES)),
    *(f"ms_logkurt{i}" for i in range(_SCALES)),
    *(f"ms_falloff{i}" for i in range(_SCALES - 1)),
    "t_res_corr",
    "t_res_ratio",
    "t_logmotion",
)
