"""Clips whose sound is a click at known times, and where the clicks are heard: how the tests
check that sound stays in sync with the picture through a re-encode, a trim or a concat."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CLICKS = (0.5, 1.0, 1.5)


def click_clip(
    path: Path, codec: str, rate: int, start: float = 0.0, languages: tuple[str, ...] = ("",)
) -> None:
    """A 2 s 64x64 H.264 clip at 30 fps from ``start`` s, with a stereo audio track per entry
    of ``languages`` (``codec`` at ``rate``, tagged with the language when one is given)
    holding a 2 ms click at each of :data:`CLICKS` after its first frame."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio = [out.add_stream(codec, rate=rate) for _ in languages]
        for a, language in zip(audio, languages, strict=True):
            a.layout = "stereo"
            if language:
                a.metadata["language"] = language
        fmt = audio[0].codec_context.format.name
        resampler = av.AudioResampler(format=fmt, layout="stereo", rate=rate)
        size, pos = audio[0].codec_context.frame_size or 1024, 0
        for i in range(60):
            vf = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 4 * i, np.uint8), format="rgb24")
            vf.pts, vf.time_base = i + round(start * 30), Fraction(1, 30)
            for p in video.encode(vf):
                out.mux(p)
            while pos / rate < (i + 1) / 30:
                t = (pos + np.arange(size)) / rate
                hit = np.any([(t >= c) & (t < c + 0.002) for c in CLICKS], axis=0)
                x = np.where(hit, 0.8, 0.0).astype(np.float32)
                af = av.AudioFrame.from_ndarray(np.stack([x, x]), format="fltp", layout="stereo")
                af.sample_rate, af.time_base = rate, Fraction(1, rate)
                af.pts = pos + round(start * rate)
                for rf in resampler.resample(af):
                    for a in audio:
                        for p in a.encode(rf):
                            out.mux(p)
                pos += size
        for s in (video, *audio):
            for p in s.encode(None):
                out.mux(p)


def click_times(path: Path, track: int = 0) -> tuple[list[float], float]:
    """The clicks' times after the first video frame, and the seconds of audio decoded, in
    audio track ``track``."""
    with av.open(str(path)) as c:
        first = next(c.decode(video=0))
        v0 = float(first.pts * first.time_base)
        c.seek(0)
        a = c.streams.audio[track]
        rate, t0, parts = a.codec_context.sample_rate, None, []
        for f in c.decode(a):
            t0 = float(f.pts * f.time_base) if t0 is None else t0
            x = np.abs(f.to_ndarray().astype(float))
            # planar: (channels, samples); packed: (1, samples x channels), interleaved
            parts.append(x.max(axis=0) if f.format.is_planar else x.reshape(f.samples, -1)[:, 0])
    x = np.concatenate(parts).astype(float)
    loud = np.nonzero(x > 0.3 * x.max())[0]
    onsets = [i for k, i in enumerate(loud) if k == 0 or i - loud[k - 1] > rate // 10]
    return [t0 + i / rate - v0 for i in onsets], len(x) / rate
