"""Streaming detection: per-window accumulators, segments, payload decoding, honest p-values.

Statistic: for a set of cells with keyed random signs ``s`` and an accumulated (weighted)
residual ``R``, ``z = <R, s> / ||R||``. Over random keys, for any content, Hoeffding's inequality
gives ``P(z >= t) <= exp(-t^2 / 2)``: the pilot's z yields a p-value that holds whatever the
video shows. A payload whose CRC-16 checks multiplies it by 2^-16; testing several segments
multiplies it by their number (Bonferroni over every contiguous run of windows).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidprov.media import VideoReader, YUVFrame
from vidprov.watermark.coding import CRC_BITS, decode
from vidprov.watermark.config import KeyedPattern, WatermarkConfig, keyed_pattern
from vidprov.watermark.embed import check_size
from vidprov.watermark.results import WatermarkReading, WatermarkSegment
from vidprov.watermark.signal import weighted_residual

MAX_WINDOWS = 512  # beyond this, neighbouring windows merge: memory stays bounded
_RUN_Z = 1.5  # a window joins a candidate segment above this pilot z


@dataclass
class _Window:
    start: float
    end: float
    frames: int
    acc: np.ndarray

    def merge(self, other: _Window) -> _Window:
        return _Window(self.start, other.end, self.frames + other.frames, self.acc + other.acc)


@dataclass
class _Accumulator:
    pattern: KeyedPattern
    config: WatermarkConfig
    windows: list[_Window] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    frame_z: list[float] = field(default_factory=list)
    span: float = 0.0
    _cur: _Window | None = None

    def __post_init__(self) -> None:
        self.span = self.config.window
        self._pilot = self.pattern.owner == self.pattern.n_bits

    def add(self, time: float, y: np.ndarray) -> None:
        r = weighted_residual(y, self.pattern.grid)
        rp = r[self._pilot]
        norm = float(np.sqrt(rp @ rp))
        self.frame_z.append(float(rp @ self.pattern.signs[self._pilot]) / norm if norm else 0.0)
        self.times.append(time)
        t0 = self.times[0]
        if self._cur is not None and time >= self._cur.start + self.span:
            self._push()
        if self._cur is None:
            start = t0 + math.floor((time - t0) / self.span) * self.span
            self._cur = _Window(start, time, 0, np.zeros_like(r))
        self._cur.acc += r
        self._cur.frames += 1
        self._cur.end = time

    def _push(self) -> None:
        assert self._cur is not None
        self.windows.append(self._cur)
        self._cur = None
        if len(self.windows) > MAX_WINDOWS:
            ws = self.windows
            self.windows = [
                ws[i].merge(ws[i + 1]) if i + 1 < len(ws) else ws[i] for i in range(0, len(ws), 2)
            ]
            self.span *= 2

    def finish(self) -> list[_Window]:
        if self._cur is not None:
            self._push()
        return self.windows


def _pilot_z(acc: np.ndarray, pattern: KeyedPattern) -> float:
    sel = pattern.owner == pattern.n_bits
    v = acc[sel]
    norm = float(np.sqrt(v @ v))
    return float(v @ pattern.signs[sel]) / norm if norm else 0.0


def _soft_bits(acc: np.ndarray, pattern: KeyedPattern) -> np.ndarray:
    n = pattern.n_bits + 1
    num = np.bincount(pattern.owner, weights=pattern.signs * acc, minlength=n)[:-1]
    den = np.sqrt(np.bincount(pattern.owner, weights=acc * acc, minlength=n))[:-1]
    return num / np.maximum(den, 1e-9)


def _hoeffding(z: float) -> float:
    return 1.0 if z <= 0 else math.exp(-z * z / 2)


def _runs(z: np.ndarray) -> list[tuple[int, int]]:
    """Runs of windows above _RUN_Z, bridging single-window gaps (inclusive index pairs)."""
    hot = [i for i, v in enumerate(z) if v >= _RUN_Z]
    runs: list[tuple[int, int]] = []
    for i in hot:
        if runs and i - runs[-1][1] <= 2:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _refine(
    times: np.ndarray, fz: np.ndarray, lo: float, hi: float, level: float, marked_after: bool
) -> float:
    """Split point in [lo, hi] maximising the pilot contrast of per-frame scores."""
    sel = np.nonzero((times >= lo) & (times <= hi))[0]
    if len(sel) < 2 or level <= 0:
        return lo if marked_after else hi
    gain = fz[sel] - level / 2
    if marked_after:
        scores = np.cumsum(gain[::-1])[::-1]  # frames from k on are marked
        return float(times[sel[int(np.argmax(scores))]])
    scores = np.cumsum(gain)  # frames up to k are marked
    return float(times[sel[int(np.argmax(scores))]])


def _reading(acc: _Accumulator) -> WatermarkReading:
    windows = acc.finish()
    times = np.array(acc.times)
    fz = np.array(acc.frame_z)
    pattern, config = acc.pattern, acc.config
    dt = float(np.median(np.diff(times))) if len(times) > 1 else config.window
    duration = float(times[-1] - times[0] + dt) if len(times) else 0.0
    n_w = len(windows)
    tests = n_w * (n_w + 1) // 2 + 1
    wz = np.array([_pilot_z(w.acc, pattern) for w in windows])
    candidates = [(0, n_w - 1), *_runs(wz)]
    found: list[WatermarkSegment] = []
    best: tuple[float, float, str | None] = (1.0, 0.0, None)
    for a, b in dict.fromkeys(candidates):
        total = sum((w.acc for w in windows[a : b + 1]), np.zeros_like(windows[0].acc))
        z = _pilot_z(total, pattern)
        payload = decode(_soft_bits(total, pattern))
        p = _hoeffding(z) * tests * (2.0**-CRC_BITS if payload is not None else 1.0)
        p = min(1.0, p)
        hex_payload = payload.hex() if payload is not None else None
        if p < best[0]:
            best = (p, z, hex_payload)
        if p > config.p_threshold or ((a, b) == (0, n_w - 1) and len(candidates) > 1):
            continue
        inner = (times >= windows[a].start) & (times <= windows[b].end)
        level = float(fz[inner].mean()) if inner.any() else 0.0
        start = (
            windows[a].start
            if a == 0
            else _refine(times, fz, windows[a - 1].start, windows[a].end, level, True)
        )
        end = (
            windows[b].end + dt
            if b == n_w - 1
            else _refine(times, fz, windows[b].start, windows[b + 1].end, level, False) + dt
        )
        found.append(WatermarkSegment(start - times[0], end - times[0], hex_payload, p, z))
    p, z, payload = best
    detected = p <= config.p_threshold
    if detected and not found:  # only the whole clip is significant
        found.append(WatermarkSegment(0.0, duration, payload, p, z))
    return WatermarkReading(
        detected=detected,
        payload=payload if detected else None,
        p_value=p,
        z=z,
        segments=tuple(found),
        frames=len(times),
        duration=duration,
    )


def detect(
    frames: Iterable[YUVFrame],
    key: bytes,
    config: WatermarkConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> WatermarkReading:
    """Look for the mark made with ``key`` in a stream of Y/U/V frames.

    Returns a :class:`WatermarkReading`; an empty stream reads as not detected.

    Raises:
        WatermarkError: bad key, or frames smaller than ``config.min_side``.
    """
    config = config or WatermarkConfig()
    pattern = keyed_pattern(key, config.grid, config.pilot_fraction)
    acc = _Accumulator(pattern, config)
    for f in frames:
        check_size(f.y.shape[1], f.y.shape[0], config)
        acc.add(f.time, f.y)
        if progress is not None:
            progress(1)
    if not acc.times:
        return WatermarkReading(False, None, 1.0, 0.0, (), 0, 0.0)
    return _reading(acc)


def detect_file(
    path: str | Path,
    key: bytes,
    config: WatermarkConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> WatermarkReading:
    """Open a video and :func:`detect` its watermark.

    Raises:
        MediaError: unreadable input.
        WatermarkError: bad key, or frames too small.
    """
    config = config or WatermarkConfig()
    with VideoReader(path) as reader:
        check_size(reader.info.width, reader.info.height, config, path)
        return detect(reader.frames("yuv420p"), key, config, progress)
