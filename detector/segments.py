"""Per-frame scores → per-segment labels → per-clip score.

Segments follow shots (colour-histogram cuts between sampled frames), one segment per shot; a
shot longer than ``SPLIT_SECONDS`` is further split where its smoothed score stays across the
threshold for at least ``MIN_RUN`` seconds. A segment's score is the mean logit of its frames,
mapped back to a probability; the clip score is the highest score among segments long enough
to matter, so one synthetic insert in camera footage raises the clip score, and the segments
say where.

Judging a shot against the rest of its clip is the splice model's job
(:mod:`vidprov.detector.splice`).
"""

from __future__ import annotations

import itertools

import numpy as np

from vidprov.detector.verdict import Segment

CUT_L1 = 0.6  # L1 distance between normalised histograms (max 2) that marks a cut
SPLIT_SECONDS = 3.0
MIN_RUN = 1.0
MIN_SEGMENT = 0.75  # shorter segments do not set the clip score


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def cuts(hists: np.ndarray) -> list[int]:
    """Indices ``i`` where a new shot starts at sampled frame ``i`` (``0`` not included)."""
    if len(hists) < 2:
        return []
    d = np.abs(np.diff(hists, axis=0)).sum(axis=1)
    return [i + 1 for i in np.flatnonzero(d > CUT_L1)]


def _smooth(x: np.ndarray, k: int = 5) -> np.ndarray:
    if len(x) < 3:
        return x
    pad = np.pad(x, (k // 2, k // 2), mode="edge")
    return np.array([np.median(pad[i : i + k]) for i in range(len(x))])


def span(times: np.ndarray, lo: int, hi: int, duration: float) -> tuple[float, float]:
    """Seconds covered by sampled frames ``lo:hi``: from halfway to the previous sample (0 at
    the first) to halfway to the next (``duration`` at the last)."""
    start = 0.0 if lo == 0 else float((times[lo - 1] + times[lo]) / 2)
    end = duration if hi == len(times) else float((times[hi - 1] + times[hi]) / 2)
    return start, max(end, start)


def _split_shot(lo: int, hi: int, z: np.ndarray, times: np.ndarray, thr: float) -> list[int]:
    """Split points inside a long shot where the smoothed score changes side for long enough."""
    if times[hi - 1] - times[lo] < SPLIT_SECONDS:
        return []
    side = _smooth(z[lo:hi]) >= thr
    points, run_start = [], 0
    for i in range(1, len(side) + 1):
        if i == len(side) or side[i] != side[run_start]:
            if run_start > 0 and times[lo + i - 1] - times[lo + run_start] + 1e-9 >= MIN_RUN - 0.2:
                points.append(lo + run_start)
            run_start = i
    return points


def segment(
    times: np.ndarray, probs: np.ndarray, hists: np.ndarray, threshold: float, duration: float
) -> tuple[tuple[Segment, ...], float]:
    """Segments (label ``ai``/``real`` by ``threshold``) and the clip score for one clip."""
    n = len(times)
    if n == 0:
        return (), 0.0
    z = _logit(np.asarray(probs, dtype=np.float64))
    thr = float(_logit(np.array([threshold]))[0])
    bounds = [0, *cuts(hists), n]
    pieces = []
    for lo, hi in itertools.pairwise(bounds):
        inner = _split_shot(lo, hi, z, times, thr)
        edges = [lo, *inner, hi]
        pieces += list(itertools.pairwise(edges))
    segs: list[Segment] = []
    for lo, hi in pieces:
        score = _sigmoid(float(z[lo:hi].mean()))
        label = "ai" if score >= threshold else "real"
        # shots stay separate even on the same side: each keeps its own score
        segs.append(Segment(*span(times, lo, hi, duration), label, score, "classifier"))
    long_enough = [s.score for s in segs if s.end - s.start >= min(MIN_SEGMENT, duration / 2)]
    clip = max(long_enough) if long_enough else _sigmoid(float(z.mean()))
    return tuple(segs), clip
