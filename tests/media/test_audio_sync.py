"""A source's audio through a re-encode of the video: copied where the output container takes
its codec, re-encoded to AAC where it does not, and in sync with the video either way (clicks
at known times must land at the same times after the first video frame)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidprov.media import VideoReader, VideoWriter
from vidprov.media.transcode import transcode

CLICKS = (0.5, 1.0, 1.5)


def _clip(
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


def _clicks(path: Path, track: int = 0) -> tuple[list[float], float]:
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


@pytest.mark.parametrize(
    ("src", "codec", "rate", "start", "dst", "mode", "stored"),
    [
        # PCM starting at 2 s: its re-encode started at 0, 2 s before the video, and ~95% of it
        # was lost
        ("a.mov", "pcm_s16le", 48000, 2.0, "o.mp4", "aac", "aac"),
        ("a.mov", "pcm_alaw", 8000, 0.0, "o.mp4", "aac", "aac"),  # was 128 ms late (priming)
        ("a.mkv", "pcm_s16le", 48000, 0.0, "o.mp4", "aac", "aac"),  # no layout: was refused
        ("a.mov", "pcm_s16le", 192000, 0.0, "o.mp4", "aac", "aac"),  # not AAC's: was refused
        ("a.mp4", "libmp3lame", 44100, 0.0, "o.mp4", "copy", "mp3"),  # was re-encoded
        ("a.mkv", "libopus", 48000, 0.0, "o.mov", "aac", "aac"),  # MOV takes no Opus: refused
        ("a.mkv", "libopus", 48000, 0.0, "o.mkv", "copy", "opus"),
        # MPEG-TS takes no PCM: it went in as an unreadable data stream (the sound was lost)
        ("a.mov", "pcm_s16le", 48000, 0.0, "o.ts", "aac", "aac"),
    ],
)
def test_audio_stays_in_sync_copied_or_reencoded(
    tmp_path: Path,
    src: str,
    codec: str,
    rate: int,
    start: float,
    dst: str,
    mode: str,
    stored: str,
) -> None:
    _clip(tmp_path / src, codec, rate, start)
    before, heard = _clicks(tmp_path / src)
    assert before == pytest.approx(CLICKS, abs=1e-3)  # the clip is what it should be
    r = transcode(tmp_path / src, tmp_path / dst)
    assert (r.audio, r.output.audio_codec) == (mode, stored)
    after, kept = _clicks(tmp_path / dst)
    assert after == pytest.approx(CLICKS, abs=2e-3)
    assert kept == pytest.approx(heard, abs=0.05)


@pytest.mark.parametrize(
    ("src", "codec", "dst", "mode"),
    [("a.mp4", "aac", "o.mkv", "copy"), ("a.mov", "pcm_s16le", "o.mp4", "aac")],
)
def test_every_audio_track_is_kept_with_its_language(
    tmp_path: Path, src: str, codec: str, dst: str, mode: str
) -> None:
    """Only the first track was kept, with a warning: a film's second language was lost."""
    _clip(tmp_path / src, codec, 48000, languages=("eng", "fra"))
    r = transcode(tmp_path / src, tmp_path / dst)
    assert r.audio == mode and r.output.audio_codec == "aac"
    with av.open(str(tmp_path / dst)) as c:
        assert [s.metadata.get("language") for s in c.streams.audio] == ["eng", "fra"]
    for track in (0, 1):
        after, kept = _clicks(tmp_path / dst, track)
        assert after == pytest.approx(CLICKS, abs=2e-3)
        assert kept == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize(
    ("src", "codec", "start"),
    [("a.mp4", "aac", 0.0), ("a.mov", "pcm_s16le", 2.0), ("a.ts", "aac", 0.0)],
)
def test_a_window_of_the_audio_is_cut_from_every_track(
    tmp_path: Path, src: str, codec: str, start: float
) -> None:
    """What ``edit trim`` does: the video from 0.75 s, the audio window moved to time 0. The
    window is in the frames' times: it was taken on the file's clock, so a trim of a MOV whose
    streams start at 2 s lost its audio, and one of an MPEG-TS file (whose clock starts at
    1.4 s) kept 0.02 s of it."""
    _clip(tmp_path / src, codec, 48000, start, languages=("eng", "fra"))
    with (
        VideoReader(tmp_path / src) as r,
        VideoWriter(
            tmp_path / "o.mp4", 64, 64, 30, audio_from=tmp_path / src, audio_window=(0.75, 2.0)
        ) as w,
    ):
        for f in r.frames("rgb24"):
            if f.time >= 0.75 - 1e-6:
                w.write(f.rgb)
    for track in (0, 1):
        after, kept = _clicks(tmp_path / "o.mp4", track)
        assert after == pytest.approx([0.25, 0.75], abs=0.03)
        assert kept == pytest.approx(1.25, abs=0.05)
