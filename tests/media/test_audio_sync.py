"""A source's audio through a re-encode of the video: copied where the output container takes
its codec, re-encoded to AAC where it does not, and in sync with the video either way (clicks
at known times must land at the same times after the first video frame)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.clicks import CLICKS, click_clip, click_times
from vidprov.media import VideoReader, VideoWriter, iter_frames
from vidprov.media.transcode import transcode


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
    click_clip(tmp_path / src, codec, rate, start)
    before, heard = click_times(tmp_path / src)
    assert before == pytest.approx(CLICKS, abs=1e-3)  # the clip is what it should be
    r = transcode(tmp_path / src, tmp_path / dst)
    assert (r.audio, r.output.audio_codec) == (mode, stored)
    after, kept = click_times(tmp_path / dst)
    assert after == pytest.approx(CLICKS, abs=2e-3)
    assert kept == pytest.approx(heard, abs=0.05)


@pytest.mark.parametrize(
    ("src", "codec", "dst", "mode"),
    [("a.mp4", "aac", "o.mkv", "copy"), ("a.mov", "pcm_s16le", "o.mp4", "aac")],
)
def test_every_audio_track_is_kept_with_its_language(
    tmp_path: Path, src: str, codec: str, dst: str, mode: str
) -> None:
    """Only the first track was kept, with a warning: a film's second language was lost. An
    MP4 or MOV track's title, which FFmpeg reads as ``name``, was lost too."""
    click_clip(tmp_path / src, codec, 48000, languages=("eng", "eng"), titles=("Main", "Notes"))
    r = transcode(tmp_path / src, tmp_path / dst)
    assert r.audio == mode and r.output.audio_codec == "aac" and r.output.audio_tracks == 2
    with av.open(str(tmp_path / dst)) as c:
        labels = [
            (s.language, s.metadata.get("title") or s.metadata.get("name")) for s in c.streams.audio
        ]
    assert labels == [("eng", "Main"), ("eng", "Notes")]
    for track in (0, 1):
        after, kept = click_times(tmp_path / dst, track)
        assert after == pytest.approx(CLICKS, abs=2e-3)
        assert kept == pytest.approx(2.0, abs=0.05)


def test_a_language_with_two_codes_survives_a_mov(tmp_path: Path) -> None:
    """QuickTime's language table takes one code of each two (German "ger", French "fra"):
    FFmpeg's MOV muxer wrote "und" for the other. MP4 keeps any code as given."""
    click_clip(src := tmp_path / "a.mkv", "aac", 48000, languages=("deu", "fre", "eng"))
    for dst, expected in (("o.mov", ["ger", "fra", "eng"]), ("o.mp4", ["deu", "fre", "eng"])):
        transcode(src, tmp_path / dst)
        with av.open(str(tmp_path / dst)) as c:
            assert [s.language for s in c.streams.audio] == expected


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
    click_clip(tmp_path / src, codec, 48000, start, languages=("eng", "fra"))
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
        after, kept = click_times(tmp_path / "o.mp4", track)
        assert after == pytest.approx([0.25, 0.75], abs=0.03)
        assert kept == pytest.approx(1.25, abs=0.05)


def test_a_track_with_no_sound_in_the_window_is_said_to_be_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The MP4 muxer leaves out a track it got no packets for, so the tracks after it shift
    their numbers: it went without a word."""
    click_clip(src := tmp_path / "a.mkv", "aac", 48000, languages=("eng", "fra"), gap=(1.0, 3.0))
    with VideoWriter(tmp_path / "o.mp4", 64, 64, 30, audio_from=src, audio_window=(1.25, 2.0)) as w:
        for f in iter_frames(src):
            if f.time >= 1.25 - 1e-6:
                w.write(f.rgb)
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert not c.streams.audio
    for track in (0, 1):
        assert f"audio track {track} has no sound between 1.25 and 2 s: left out" in caplog.text
    caplog.clear()  # Matroska keeps an empty track: nothing to say
    with VideoWriter(tmp_path / "o.mkv", 64, 64, 30, audio_from=src, audio_window=(1.25, 2.0)) as w:
        w.write(np.zeros((64, 64, 3), np.uint8))
    with av.open(str(tmp_path / "o.mkv")) as c:
        assert len(c.streams.audio) == 2 and "left out" not in caplog.text


def test_a_short_gap_in_the_sound_is_kept(tmp_path: Path) -> None:
    """A gap under a tenth of a second was closed: the sound after it ran early by its length
    (64 ms here)."""
    click_clip(src := tmp_path / "a.mkv", "pcm_s16le", 48000, gap=(0.70, 0.77))
    assert click_times(src)[0] == pytest.approx(CLICKS, abs=1e-3)
    r = transcode(src, tmp_path / "o.mp4")
    assert r.audio == "aac"
    assert click_times(tmp_path / "o.mp4")[0] == pytest.approx(CLICKS, abs=2e-3)


def test_avi_output_keeps_one_track(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """AVI places sound by its byte count from the start: beside an 8 kHz AAC track, whose
    encoder primes longer, the first track's clicks came 79 ms early."""
    click_clip(tmp_path / "a.mkv", "aac", 48000, languages=("eng", "fra"))
    with caplog.at_level("WARNING"):
        transcode(tmp_path / "a.mkv", tmp_path / "o.avi")
    assert "2 audio tracks; AVI output keeps the first" in caplog.text
    with av.open(str(tmp_path / "o.avi")) as c:
        assert len(c.streams.audio) == 1


@pytest.mark.parametrize(("layout", "n"), [("5.1", 6), ("7.1", 8)])
def test_a_re_encoded_surround_track_keeps_its_channels(
    tmp_path: Path, layout: str, n: int
) -> None:
    """Every re-encoded track was mixed down to stereo: a 5.1 film lost its surround (and a 7.1
    one until this version: PCM in Matroska names no order, so eight channels are read as
    7.1). Samples go in and out packed: PyAV crashes reading an 8-channel planar frame."""
    src = tmp_path / "a.mkv"
    with av.open(str(src), "w") as o:
        v = o.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        a = o.add_stream("pcm_s16le", rate=48000)
        a.layout = layout
        for i in range(30):
            vf = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 8 * i, np.uint8), format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, 30)
            for p in v.encode(vf):
                o.mux(p)
        packed = av.AudioResampler(format="s16", layout=layout, rate=48000)
        for k in range(46):  # each block of 1024 samples sounds in one channel, in turn
            x = np.zeros((1024, n), np.float32)
            x[:, k % n] = 0.5
            af = av.AudioFrame.from_ndarray(x.reshape(1, -1), format="flt", layout=layout)
            af.sample_rate, af.time_base, af.pts = 48000, Fraction(1, 48000), k * 1024
            for rf in packed.resample(af):
                for p in a.encode(rf):
                    o.mux(p)
        for s in (v, a):
            for p in s.encode(None):
                o.mux(p)
    r = transcode(src, tmp_path / "o.mp4")
    assert (r.audio, r.output.audio_codec, r.output.audio_channels) == ("aac", "aac", n)
    with av.open(str(tmp_path / "o.mp4")) as c:
        out = av.AudioResampler(format="flt", layout=layout, rate=48000)
        x = np.concatenate([g.to_ndarray() for f in c.decode(audio=0) for g in out.resample(f)], 1)
    x = x.reshape(-1, n).T
    loudest = [
        int(np.abs(x[:, k * 1024 + 200 : k * 1024 + 800]).mean(axis=1).argmax())
        for k in range(2 * n)
    ]
    assert loudest == [k % n for k in range(2 * n)]
