"""Video streams made by PyAV itself, for tests of timing and stream cuts: frames at chosen
timestamps, and stream copies of a chosen run of packets (as cutting tools make)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av

from vidprov.media import synth_frames


def encoded(
    path: Path,
    pts: list[int],
    tb: Fraction,
    rate: int = 25,
    gop: int | None = None,
    codec: str = "libx264",
    options: dict[str, str] | None = None,
) -> Path:
    """64x64 frames at ``pts`` (in ``tb``) encoded by PyAV itself, time base kept as given."""
    size = (64, 64)
    with av.open(str(path), "w") as o:
        s = o.add_stream(codec, rate=rate, options=options or {})
        if gop is not None:
            s.codec_context.gop_size = gop
        (s.width, s.height), s.pix_fmt = size, "yuv420p"
        s.codec_context.time_base = s.time_base = tb
        for t, rgb in zip(pts, synth_frames(len(pts), *size), strict=True):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts, f.time_base = t, tb
            for p in s.encode(f):
                o.mux(p)
        for p in s.encode():
            o.mux(p)
    return path


def stream_copy(src: Path, dst: Path, keep: Callable[[int, int, bool], bool]) -> Path:
    """A stream copy of ``src``'s video packets for which ``keep(index, keyframes so far, is
    key)`` (packets counted in decoding order)."""
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        vs = i.streams.video[0]
        out, keys = o.add_stream_from_template(vs), 0
        for index, p in enumerate(p for p in i.demux(vs) if p.dts is not None):
            keys += p.is_keyframe
            if keep(index, keys, p.is_keyframe):
                p.stream = out
                o.mux(p)
    return dst
