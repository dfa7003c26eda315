"""Frame sampling for the classifier: a fixed rate in time, frames at the working size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vidprov.detector.features import WORK_SHORT, prepare
from vidprov.errors import MediaError
from vidprov.media import VideoReader

SAMPLE_FPS = 8.0
# A frame exactly halfway between two sample times goes to the earlier one. Containers round
# frame times (Matroska to the millisecond), so "exactly" allows a millisecond: otherwise the
# same frames sample differently in an MP4 and an MKV.
TIE_S = 1e-3
# Frames are scaled to a short side of WORK_SHORT: a 16384x2 clip would become gigabytes.
MIN_SIDE = 16
MAX_ASPECT = 8


def check_classifiable(width: int, height: int, path: str | Path) -> None:
    """Refuse frame sizes the classifier cannot work on.

    Raises:
        MediaError: a short side under :data:`MIN_SIDE` or a long side over :data:`MAX_ASPECT`
            times the short one.
    """
    w, h = width, height
    if min(w, h) < MIN_SIDE or max(w, h) > MAX_ASPECT * min(w, h):
        raise MediaError(
            f"frames of {w}x{h} cannot be classified (need a short side of {MIN_SIDE} px or "
            f"more and a long side at most {MAX_ASPECT}x the short one)",
            path,
        )


def sample_frames(
    path: str | Path, fps: float = SAMPLE_FPS, max_seconds: float | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Stream ``(t, rgb)`` for the frames nearest to ``t = k / fps``, each resized so its short
    side is the working size. Clips slower than ``fps`` give each of their frames once.

    Raises:
        MediaError: unreadable, truncated or corrupt video; frames too small or too elongated
            (:data:`MIN_SIDE`, :data:`MAX_ASPECT`).
    """
    step = 1.0 / fps
    with VideoReader(path) as reader:
        w, h = reader.info.width, reader.info.height
        check_classifiable(w, h, path)
        s = WORK_SHORT / min(w, h)
        # swscale does the bulk of a big downscale; prepare() finishes with an area filter
        tw, th = (w, h) if s > 0.5 else (max(2, round(w * s * 2)), max(2, round(h * s * 2)))
        half = 0.5 / float(reader.info.fps) if reader.info.fps else step / 2
        next_t = 0.0
        for t, frame in reader.timed_av_frames():
            if max_seconds is not None and t > max_seconds:
                break
            if t + half + TIE_S < next_t:
                continue
            rgb = frame.to_ndarray(format="rgb24", width=tw, height=th)
            yield t, prepare(rgb)
            if t + half + TIE_S - next_t > 1000 * step:  # a jump in time: skip it at once
                next_t = (np.floor((t + half + TIE_S) / step) + 1) * step
            while next_t <= t + half + TIE_S:
                next_t += step
