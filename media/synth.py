"""Synthetic test clips with real texture, motion and (optionally) sound.

Used by the tests, the demo and the benchmarks, so that nothing depends on downloaded media.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidprov.atomic import atomic_path
from vidprov.errors import MediaError


def synth_frames(n: int, width: int, height: int, seed: int = 0) -> Iterator[np.ndarray]:
    """``n`` RGB frames: drifting gradients, smooth texture and a moving square."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    tex = rng.normal(0, 1, (max(2, height // 8), max(2, width // 8))).astype(np.float32)
    tex = np.kron(tex, np.ones((8, 8), np.float32))[:height, :width]
    tex = np.pad(tex, ((0, height - tex.shape[0]), (0, width - tex.shape[1])), mode="edge")
    size = max(4, min(width, height) // 5)
    for i in range(n):
        ph = i / 15.0
        r = 110 + 60 * np.sin(xx / 37.0 + ph) + 12 * tex
        g = 120 + 50 * np.cos(yy / 29.0 - ph) + 12 * np.roll(tex, i, axis=1)
        b = 100 + 40 * np.sin((xx + yy) / 53.0 + 2 * ph)
        img = np.stack([r, g, b], axis=-1)
        x0 = int((width - size) * (0.5 + 0.45 * np.sin(i / 11.0)))
        y0 = int((height - size) * (0.5 + 0.45 * np.cos(i / 13.0)))
        img[y0 : y0 + size, x0 : x0 + size] = (230, 60, 40)
        yield np.clip(img + 0.5, 0, 255).astype(np.uint8)


def make_clip(
    path: str | Path,
    seconds: float = 2.0,
    width: int = 320,
    height: int = 240,
    fps: int = 30,
    audio: bool = False,
    vfr: bool = False,
    crf: int = 18,
    seed: int = 0,
    codec: str = "libx264",
) -> Path:
    """Write a synthetic H.264 clip (atomically) and return its path.

    Args:
        audio: add a 440 Hz AAC tone (48 kHz stereo) lasting the clip.
        vfr: alternate frame durations of 1/fps and 2/fps (variable frame rate).

    An odd width or height is encoded as yuv444p (4:2:0 needs even sides), as
    :class:`~vidprov.media.VideoWriter` does.

    Raises:
        MediaError: a size, rate or length that is not positive.
    """
    if min(width, height, fps) < 1 or not seconds > 0:
        raise MediaError(
            f"make_clip needs a positive size, rate and length, got {width}x{height} at {fps} "
            f"fps for {seconds} s",
            path,
        )
    path = Path(path)
    n = max(1, round(seconds * fps))
    with atomic_path(path) as tmp, av.open(str(tmp), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        even = width % 2 == 0 and height % 2 == 0
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p" if even else "yuv444p"
        vs.options = {"crf": str(crf), "preset": "veryfast"}
        tb = Fraction(1, fps * 2) if vfr else Fraction(1, fps)
        vs.codec_context.time_base = tb
        aus = None
        if audio:
            aus = out.add_stream("aac", rate=48000)
            aus.layout = "stereo"
        pts, apts = 0, 0
        for i, frame_rgb in enumerate(synth_frames(n, width, height, seed)):
            vf = av.VideoFrame.from_ndarray(frame_rgb, format="rgb24")
            vf.pts, vf.time_base = pts, tb
            pts += (2 if i % 2 == 0 else 4) if vfr else 1
            for p in vs.encode(vf):
                out.mux(p)
            if aus is not None:
                apts = _write_tone(out, aus, apts, float(pts * tb))
        for p in vs.encode():
            out.mux(p)
        if aus is not None:
            for p in aus.encode():
                out.mux(p)
    return path


def _write_tone(
    out: av.container.OutputContainer, aus: av.audio.stream.AudioStream, apts: int, until: float
) -> int:
    rate, block = 48000, 1024
    while apts / rate < until:
        t = (apts + np.arange(block)) / rate
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        af = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        af.sample_rate, af.pts = rate, apts
        for p in aus.encode(af):
            out.mux(p)
        apts += block
    return apts
