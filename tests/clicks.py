"""Clips whose sound is a click at known times, and where the clicks are heard: how the tests
check that sound stays in sync with the picture through a re-encode, a trim or a concat."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CLICKS = (0.5, 1.0, 1.5)


def click_clip(
    path: Path,
    codec: str,
    rate: int,
    start: float = 0.0,
    languages: tuple[str, ...] = ("",),
    titles: tuple[str, ...] = (),
    gap: tuple[float, float] | None = None,
) -> None:
    """A 2 s 64x64 H.264 clip at 30 fps from ``start`` s, with a stereo audio track per entry
    of ``languages`` (``codec`` at ``rate``, tagged with the language and the title of
    ``titles`` when given) holding a 2 ms click at each of :data:`CLICKS` after its first
    frame; audio frames that start within ``gap`` (seconds) are left out, their time too."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio = [out.add_stream(codec, rate=rate) for _ in languages]
        for k, (a, language) in enumerate(zip(audio, languages, strict=True)):
            a.layout = "stereo"
            if language:
                a.metadata["language"] = language
            if k < len(titles):
                a.metadata["title"] = titles[k]
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
                pos += size
                if gap is not None and gap[0] <= t[0] < gap[1]:
                    continue
                for rf in resampler.resample(af):
                    for a in audio:
                        for p in a.encode(rf):
                            out.mux(p)
        for s in (video, *audio):
            for p in s.encode(None):
                out.mux(p)


def click_times(path: Path, track: int = 0) -> tuple[list[float], float]:
    """The clicks' times after the first video frame (each decoded block placed at its own
    time, so a gap in the sound counts), and the seconds of audio decoded, in audio track
    ``track``."""
    with av.open(str(path)) as c:
        first = next(c.decode(video=0))
        v0 = float(first.pts * first.time_base)
        c.seek(0)
        a = c.streams.audio[track]
        rate, peak, heard, blocks = a.codec_context.sample_rate, 0.0, 0, []
        for f in c.decode(a):
            x = np.abs(f.to_ndarray().astype(float))
            # planar: (channels, samples); packed: (1, samples x channels), interleaved
            x = x.max(axis=0) if f.format.is_planar else x.reshape(f.samples, -1)[:, 0]
            blocks.append((float(f.pts * f.time_base) - v0, x))
            peak, heard = max(peak, float(x.max(initial=0.0))), heard + len(x)
    loud = [t + i / rate for t, x in blocks for i in np.nonzero(x > 0.3 * peak)[0]]
    onsets = [t for k, t in enumerate(loud) if k == 0 or t - loud[k - 1] > 0.1]
    return onsets, heard / rate
