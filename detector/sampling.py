"""Frame sampling for the classifier: a fixed rate in time, frames at the working size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vidprov.detector.features import WORK_SHORT, prepare
from vidprov.media import VideoReader

SAMPLE_FPS = 8.0
# A frame exactly halfway between two sample times goes to the earlier one. Containers round
# frame times (Matroska to the millisecond), so "exactly" allows a millisecond: otherwise the
# same frames sample differently in an MP4 and an MKV.
TIE_S = 1e-3


def sample_frames(
    path: str | Path, fps: float = SAMPLE_FPS, max_seconds: float | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Stream ``(t, rgb)`` for the frames nearest to ``t = k / fps``, each resized so its short
    side is the working size. Clips slower than ``fps`` give each of their frames once.

    Raises:
        MediaError: unreadable, truncated or corrupt video.
    """
    step = 1.0 / fps
    with VideoReader(path) as reader:
        w, h = reader.info.width, reader.info.height
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
            while next_t <= t + half + TIE_S:
                next_t += step
