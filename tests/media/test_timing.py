"""Durations and times from the frames themselves: edit lists, start offsets, sparse frames and
timestamps that restart (joined MPEG-TS files) agree between ``probe`` and the reader."""

from __future__ import annotations

import logging
from fractions import Fraction
from itertools import accumulate, pairwise
from pathlib import Path

import av
import numpy as np
import pytest

from tests.streams import encoded, stream_copy
from vidprov.errors import MediaError
from vidprov.media import (
    Frame,
    VideoInfo,
    VideoReader,
    VideoWriter,
    iter_frames,
    make_clip,
    probe,
    synth_frames,
    transcode,
)


def _remux(src: Path, dst: Path, shift_s: float, fmt: str | None = None) -> Path:
    """``src``'s video packets, every timestamp moved by ``shift_s`` (no re-encode)."""
    with av.open(str(src)) as i, av.open(str(dst), "w", format=fmt) as o:
        vs = i.streams.video[0]
        out = o.add_stream_from_template(vs)
        shift = round(shift_s / vs.time_base)
        for p in i.demux(vs):
            if p.dts is None:
                continue
            p.pts, p.dts, p.stream = p.pts + shift, p.dts + shift, out
            o.mux(p)
    return dst


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s at 25 fps, with B-frames (x264's default)."""
    folder = tmp_path_factory.mktemp("t")
    return make_clip(folder / "src.mp4", seconds=2.0, width=160, height=120, fps=25)


def _ts(
    src: Path, dst: Path, clock_s: float = 0.0, video_late_s: float = 0.0, sound: bool = True
) -> Path:
    """``src``'s streams copied into MPEG-TS, every timestamp moved by ``clock_s`` (the
    video's by ``video_late_s`` more); its video alone without ``sound``."""
    with av.open(str(src)) as i, av.open(str(dst), "w", format="mpegts") as o:
        kept = [s for s in i.streams if sound or s.type == "video"]
        streams = {s.index: o.add_stream_from_template(s) for s in kept}
        packets = [p for p in i.demux() if p.dts is not None and p.stream.index in streams]
        for p in sorted(packets, key=lambda p: float(p.dts * p.time_base)):
            late = video_late_s if p.stream.type == "video" else 0.0
            shift = round((clock_s + late) / p.time_base)
            p.pts, p.dts, p.stream = p.pts + shift, p.dts + shift, streams[p.stream.index]
            o.mux(p)
    return dst


def _join(parts: list[Path], joined: Path) -> tuple[VideoInfo, list[float]]:
    """``parts`` joined byte for byte into ``joined`` (as ``cat`` does): its probe and the
    reader's frame times."""
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    return probe(joined), _times(joined)


def _sound(path: Path) -> float:
    """Seconds of sound in ``path``'s first audio track's packets, AAC's padding included."""
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return float(sum(p.duration for p in c.demux(a) if p.size) * a.time_base)


def _times(path: Path) -> list[float]:
    return [f.time for f in iter_frames(path)]


def test_an_edit_list_counts_only_the_frames_it_shows(src: Path, tmp_path: Path) -> None:
    neg = _remux(src, tmp_path / "neg.mp4", -0.5)  # the mov muxer writes an edit list
    info, times = probe(neg), _times(neg)
    assert 36 <= len(times) <= 38 and info.frames == len(times)  # it counted all 50
    assert info.duration == pytest.approx(len(times) / 25, abs=0.01)  # it said 2.0
    assert times[0] == pytest.approx(0.0) and times[-1] < info.duration


def test_a_late_start_is_not_part_of_the_duration(
    src: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for shift in (0.5, 5.0):  # Matroska's header duration runs from 0, not from the start
        late = _remux(src, tmp_path / f"late{shift}.mkv", shift)
        assert probe(late).duration == pytest.approx(2.0, abs=0.01)  # it said 2.5
        assert _times(late)[-1] == pytest.approx(1.96, abs=0.01)
    assert "truncated?" not in caplog.text  # 7 s in the header: it called the clip cut short


def test_joined_streams_run_on_instead_of_folding_back(
    src: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    part = _remux(src, tmp_path / "part.ts", 0.0, "mpegts")
    joined = tmp_path / "joined.ts"  # cat part.ts part.ts: the clock restarts halfway
    joined.write_bytes(part.read_bytes() * 2)
    with caplog.at_level(logging.WARNING):
        info, times = probe(joined), _times(joined)
        assert probe(joined) == info
    assert caplog.text.count("timestamps restart 1 time(s)") == 1  # said once, not per probe
    assert info.frames == len(times) == 100
    assert all(b > a for a, b in pairwise(times))  # the sampler skipped
    assert info.duration == pytest.approx(4.0, abs=0.05)  # the second half (said 2.0)
    assert times[-1] == pytest.approx(3.96, abs=0.05)


def test_a_sparse_clip_lasts_to_its_last_frame_not_twice_as_long(tmp_path: Path) -> None:
    path = tmp_path / "sparse.mp4"
    tb = Fraction(1, 1000)
    with VideoWriter(path, 160, 120, 25, time_base=tb) as w:
        for i, (t, rgb) in enumerate(zip((0, 10), synth_frames(2, 160, 120), strict=True)):
            w.write(Frame(i, t, round(t / tb), tb, rgb))
    info = probe(path)
    assert info.frames == 2 and info.duration == pytest.approx(10.04, abs=0.02)  # it said 20


@pytest.mark.parametrize(("seconds", "pieces"), [(2.0, 2), (0.48, 3)])
def test_joined_streams_with_sound_reencode_whole(
    tmp_path: Path, seconds: float, pieces: int
) -> None:
    """Both clocks restart: the reader, the writer and the audio copy run on too (the muxer
    refused time going back: "encoding failed"). Pieces under a second used to fold onto each
    other, as their clock went back by less than a 1 s threshold: three 0.48 s pieces read as
    36 frames in 0.48 s, and the re-encode failed."""
    src = make_clip(tmp_path / "a.mp4", seconds=seconds, width=160, height=120, fps=25, audio=True)
    part = _ts(src, tmp_path / "a.ts")
    sound = _sound(part)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(part.read_bytes() * pieces)
    frames, total = round(seconds * 25) * pieces, seconds * pieces
    times = _times(joined)
    assert probe(joined).frames == len(times) == frames
    assert probe(joined).duration == pytest.approx(total, abs=0.05)
    assert all(b > a for a, b in pairwise(times))
    out = tmp_path / "out.mp4"
    transcode(joined, out)
    info = probe(out)
    assert (info.frames, info.has_audio) == (frames, True)
    assert info.duration == pytest.approx(total, abs=0.05)
    assert (info.fps, info.vfr) == (25, False)  # no frame squeezed to a tick at the restart
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        assert float(a.duration * a.time_base) == pytest.approx(sound * pieces, abs=0.01)


@pytest.mark.parametrize(
    ("clocks", "late"),
    [((0, 100), 0.0), ((100, 0, 100), 0.0), ((0, 100), 0.3), ((0, 100, 50, 150), 0.0)],
)
def test_recordings_joined_with_clocks_far_apart_run_on(
    tmp_path: Path, clocks: tuple[int, ...], late: float, caplog: pytest.LogCaptureFixture
) -> None:
    """Recordings made at different times, joined with ``cat``: a clock 100 s on read as a 98 s
    gap (102 s for 4 s of clip); one 100 s back, past FFmpeg's 60 s guess at a wrapped 33-bit
    clock, as a jump of 26.5 hours, refused as corrupt. Picture and sound take the jump out
    together, each running on from its own end. With the picture 0.3 s behind the sound, the
    sound passes the jump first, and the first piece's last video packets, which the demuxer
    hands over after it, keep their time (they went 98 s back: probe and reader disagreed).
    A jump after a restart goes on from the restarted piece (it read 58 s for 8)."""
    src = make_clip(tmp_path / "a.mp4", seconds=2.0, width=160, height=120, fps=25, audio=True)
    parts = [_ts(src, tmp_path / f"{k}.ts", c, late) for k, c in enumerate(clocks)]
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with caplog.at_level(logging.WARNING):
        info, times = probe(joined), _times(joined)
    assert "jumps on" in caplog.text and "truncated?" not in caplog.text
    pieces = len(clocks)
    assert info.frames == len(times) == 50 * pieces
    assert info.duration == pytest.approx(2.0 * pieces, abs=0.01)
    assert (info.fps, info.vfr) == (25, False)
    assert [round(b - a, 6) for a, b in pairwise(times)] == [0.04] * (50 * pieces - 1)
    out = tmp_path / "out.mp4"
    transcode(joined, out)
    assert probe(out).duration == pytest.approx(2.0 * pieces, abs=0.01)
    with av.open(str(out)) as c:  # the sound runs on without a hole or an overlap
        a = c.streams.audio[0]
        packets = [p for p in c.demux(a) if p.size]
        steps = {b.pts - a.pts for a, b in pairwise(packets)}
        assert steps == {packets[0].duration}
        v = c.streams.video[0]
        video_end = float((v.start_time + v.duration) * v.time_base)
        audio_end = float((packets[-1].pts + packets[-1].duration) * a.time_base)
        assert audio_end + late == pytest.approx(video_end, abs=0.1)  # in step with the picture
    assert _sound(out) == pytest.approx(_sound(parts[0]) * pieces, abs=0.01)


def test_a_piece_without_sound_between_jumps_runs_on(tmp_path: Path) -> None:
    """Three recordings 100 s apart, the middle one without sound, the picture 0.3 s behind
    the sound: the sound, absent from the second piece, took the first jump's offset at the
    second jump, and the picture kept a 98 s gap (104 s for 6)."""
    src = make_clip(tmp_path / "a.mp4", seconds=2.0, width=160, height=120, fps=25, audio=True)
    parts = [
        _ts(src, tmp_path / f"{k}.ts", clock, 0.3, sound=k != 1)
        for k, clock in enumerate((0, 100, 200))
    ]
    info, times = _join(parts, tmp_path / "joined.ts")
    assert info.frames == len(times) == 150
    assert info.duration == pytest.approx(6.0, abs=0.2)
    assert max(b - a for a, b in pairwise(times)) < 0.2


def test_program_streams_joined_with_clocks_far_apart_run_on(tmp_path: Path) -> None:
    """MPEG-PS (DVD's .vob) joined the same way: its demuxer makes up a decoding time that runs
    on for the first picture after the jump, and only that picture's presentation time jumps
    (it read 101.5 s for 4 s)."""
    parts = []
    for clock in (0, 100):
        path = tmp_path / f"{clock}.vob"
        with av.open(str(path), "w", format="vob") as o:
            v = o.add_stream("mpeg2video", rate=25)
            v.width, v.height, v.pix_fmt = 160, 128, "yuv420p"
            a = o.add_stream("mp2", rate=48000)
            a.layout = "stereo"
            packets = []
            for k, rgb in enumerate(synth_frames(50, 160, 128)):
                f = av.VideoFrame.from_ndarray(rgb, "rgb24")
                f.pts = k + clock * 25
                packets += v.encode(f)
            packets += v.encode()
            for n in range(0, 2 * 48000, 1152):
                silence = np.zeros((1, 2 * 1152), np.int16)
                af = av.AudioFrame.from_ndarray(silence, format="s16", layout="stereo")
                af.sample_rate, af.pts = 48000, n + clock * 48000
                packets += a.encode(af)
            packets += a.encode()
            for p in sorted(packets, key=lambda p: float(p.dts * p.time_base)):
                o.mux(p)
        parts.append(path)
    info, times = _join(parts, tmp_path / "joined.vob")
    assert info.frames == len(times) == 100
    assert info.duration == pytest.approx(4.0, abs=0.05)
    assert max(b - a for a, b in pairwise(times)) < 0.1


def test_a_time_lapse_transport_stream_keeps_its_times(tmp_path: Path) -> None:
    """A picture every 15 s, in MPEG-TS without sound: one stream alone cannot tell a jump of
    its clock from its own pace, so the times stay (each gap was taken for a jump: 6 s)."""
    clip = encoded(tmp_path / "lapse.mp4", [0, 15, 30, 45, 60, 75], Fraction(1, 1), rate=1)
    path = tmp_path / "lapse.ts"
    with av.open(str(clip)) as i, av.open(str(path), "w", format="mpegts") as o:
        out = o.add_stream_from_template(i.streams.video[0])
        for p in i.demux(video=0):
            if p.dts is not None:
                p.stream = out
                o.mux(p)
    assert [round(t) for t in _times(path)] == [0, 15, 30, 45, 60, 75]
    assert probe(path).duration > 75


def test_a_gap_in_the_picture_while_the_sound_runs_on_is_kept(tmp_path: Path) -> None:
    """A clock jump is measured against every stream: 12 s without pictures while the sound
    runs on is footage with a gap, not joined recordings (a jump taken out of the picture
    alone put it 12 s ahead of its sound)."""
    tb = Fraction(1, 25)
    video = encoded(tmp_path / "v.mp4", [*range(25), *range(325, 350)], tb, gop=25)
    sound = make_clip(tmp_path / "s.mp4", seconds=14.0, width=64, height=64, fps=5, audio=True)
    path = tmp_path / "gap.ts"
    with (
        av.open(str(video)) as v,
        av.open(str(sound)) as s,
        av.open(str(path), "w", format="mpegts") as o,
    ):
        vs = o.add_stream_from_template(v.streams.video[0])
        aus = o.add_stream_from_template(s.streams.audio[0])
        packets = [(p, vs) for p in v.demux(video=0) if p.dts is not None]
        packets += [(p, aus) for p in s.demux(audio=0) if p.dts is not None]
        for p, stream in sorted(packets, key=lambda ps: float(ps[0].dts * ps[0].time_base)):
            p.stream = stream
            o.mux(p)
    info, times = probe(path), _times(path)
    assert info.frames == len(times) == 50
    assert times[25] - times[24] == pytest.approx(12.04, abs=0.01)
    assert info.duration == pytest.approx(14.0, abs=0.01)


def test_an_avi_with_b_frames_reads_in_order_at_its_frame_rate(tmp_path: Path) -> None:
    """AVI stores no presentation times: the slots its packets carry are in decoding order, so
    with B-frames they came out repeated and going back (0.042, 0.083, 0.167, 0.167, ...), and
    a trim took the wrong frames and length."""
    path = tmp_path / "b.avi"
    with av.open(str(path), "w") as o:
        v = o.add_stream("libx264", rate=24)  # B-frames by default
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        for i in range(48):  # frame i is grey level 4i
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 4 * i, np.uint8), "rgb24")
            for p in v.encode(frame):
                o.mux(p)
        for p in v.encode():
            o.mux(p)
    frames = list(iter_frames(path))
    assert [round(f.time * 24, 6) for f in frames] == list(range(48))
    assert [round(float(f.rgb.mean()) / 4) for f in frames] == list(range(48))
    assert probe(path).duration == pytest.approx(2.0)


def test_an_avi_frame_that_decodes_to_nothing_keeps_the_times_after_it(tmp_path: Path) -> None:
    """Xvid/DivX write a placeholder (a "not coded" VOP) for a dropped frame: it decodes to
    nothing. The frames after it kept their own times; taking time slots in order (as an AVI
    with B-frames needs) moved each one a slot early."""
    src, path = tmp_path / "src.avi", tmp_path / "nvop.avi"
    with av.open(str(src), "w") as o:
        v = o.add_stream("mpeg4", rate=24)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        for i in range(24):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 8 * i, np.uint8), "rgb24")
            for p in v.encode(frame):
                o.mux(p)
        for p in v.encode():
            o.mux(p)
    with av.open(str(src)) as i, av.open(str(path), "w") as o:
        out = o.add_stream_from_template(i.streams.video[0])
        for k, p in enumerate(p for p in i.demux(video=0) if p.size):
            if k in (5, 6, 12):  # a VOP start code, "not coded"
                q = av.Packet(bytes([0, 0, 1, 0xB6, 0x50, 0x4F]))
                q.pts, q.dts, q.time_base = p.pts, p.dts, p.time_base
                p = q
            p.stream = out
            o.mux(p)
    times = [round(f.time * 24, 6) for f in iter_frames(path)]
    assert times == [k for k in range(24) if k not in (5, 6, 12)]


def test_a_decoding_time_a_tick_out_of_order_is_no_restart() -> None:
    """Any step back in decoding time was taken for a restart: a muxer's one-tick glitch moved
    the rest of the clip by several frames, either way."""
    from vidprov.media.info import Restarts

    def times(packets: list[tuple[int, int]]) -> tuple[list[int | None], int]:
        r = Restarts(step=3600)
        out = []
        for dts, pts in packets:
            p = av.Packet(b"x")
            p.dts, p.pts = dts, pts
            out.append(r.apply(p))
        return out, r.count

    # B-frames (I P B B at 3600 ticks a frame), the first B's decoding time a tick early
    glitch = [(0, 7200), (3600, 18000), (3599, 10800), (10800, 14400)]
    assert times(glitch) == ([7200, 18000, 10800, 14400], 0)
    # a P-frame's, and then a real restart: a second piece of two frames joined on
    glitch = [(0, 0), (3600, 3600), (3599, 7200), (10800, 10800), (0, 0), (3600, 3600)]
    assert times(glitch) == ([0, 3600, 7200, 10800, 14400, 18000], 1)


def test_a_thumbnail_track_stored_first_is_not_the_clip(src: Path, tmp_path: Path) -> None:
    """The first video stream was always taken: a 1-frame cover picture before the clip made
    it "only 1 frame(s): nothing to scan"."""
    path = tmp_path / "thumb.mkv"
    with av.open(str(src)) as i, av.open(str(path), "w") as o:
        thumb = o.add_stream("mjpeg", rate=1)
        thumb.width, thumb.height, thumb.pix_fmt = 96, 64, "yuvj420p"
        video = o.add_stream_from_template(i.streams.video[0])
        picture = av.VideoFrame.from_ndarray(next(iter(synth_frames(1, 96, 64))), "rgb24")
        for p in [*thumb.encode(picture.reformat(format="yuvj420p")), *thumb.encode()]:
            o.mux(p)
        for p in i.demux(i.streams.video[0]):
            if p.dts is not None:
                p.stream = video
                o.mux(p)
    info = probe(path)
    assert (info.width, info.height, info.frames) == (160, 120, 50)
    assert len(_times(path)) == 50


def test_an_audio_track_that_outlasts_the_video_is_not_truncation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tail.mkv"  # 2 s of video, 5 s of sound: Matroska's duration is 5 s
    with av.open(str(path), "w") as o:
        v = o.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 160, 120, "yuv420p"
        a = o.add_stream("aac", rate=48000)
        a.layout = "stereo"
        for rgb in synth_frames(50, 160, 120):
            for p in v.encode(av.VideoFrame.from_ndarray(rgb, "rgb24")):
                o.mux(p)
        for p in v.encode():
            o.mux(p)
        for n in range(0, 5 * 48000, 1024):
            silence = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
            for plane in silence.planes:
                plane.update(bytes(plane.buffer_size))
            silence.sample_rate, silence.pts = 48000, n
            for p in a.encode(silence):
                o.mux(p)
        for p in a.encode():
            o.mux(p)
    info = probe(path)
    assert (info.frames, info.duration) == (50, pytest.approx(2.0, abs=0.01))
    assert "truncated?" not in caplog.text


def test_a_thumbnail_track_marked_default_is_not_the_clip(src: Path, tmp_path: Path) -> None:
    """FFmpeg's best stream prefers the default one: a 1-frame track marked default and stored
    first was still taken for the clip; the index's frame counts decide."""
    path = tmp_path / "thumb.mp4"
    with av.open(str(src)) as i, av.open(str(path), "w") as o:
        thumb = o.add_stream("libx264", rate=1)
        thumb.width, thumb.height, thumb.pix_fmt = 96, 64, "yuv420p"
        video = o.add_stream_from_template(i.streams.video[0])
        thumb.disposition = av.stream.Disposition.default
        video.disposition = av.stream.Disposition(0)
        picture = av.VideoFrame.from_ndarray(next(iter(synth_frames(1, 96, 64))), "rgb24")
        for p in [*thumb.encode(picture), *thumb.encode()]:
            o.mux(p)
        for p in i.demux(i.streams.video[0]):
            if p.dts is not None:
                p.stream = video
                o.mux(p)
    with av.open(str(path)) as c:
        assert c.streams.best("video").index == 0  # FFmpeg's own choice: the thumbnail
    info = probe(path)
    assert (info.width, info.height, info.frames) == (160, 120, 50)
    assert len(_times(path)) == 50


def test_a_variable_rate_clip_with_b_frames_ends_one_short_gap_after_its_last_frame(
    tmp_path: Path,
) -> None:
    # gaps of 1, 1, 1 and 6 ticks of 1/24 s; x264 with B-frames writes each packet's duration as
    # its gap in decoding order, which for the last frame shown is not how long it is shown
    pts = [0, *accumulate([1, 1, 1, 6][i % 4] for i in range(58))]  # last gap: 1 tick
    path = tmp_path / "vfr_b.mp4"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = 96, 64, "yuv420p"
        vs.codec_context.time_base = Fraction(1, 24)
        vs.options = {"bf": "3", "b-adapt": "0"}  # here its packet lasts 6 ticks
        for t, rgb in zip(pts, synth_frames(59, 96, 64), strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 24)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    info, times = probe(path), _times(path)
    assert info.frames == 59 and times[-1] == pytest.approx(pts[-1] / 24)
    assert info.duration == pytest.approx((pts[-1] + 1) / 24)
    # a Matroska copy keeps those decoding-order durations as its blocks' (5.583 s, not 5.375)
    copy = _remux(path, tmp_path / "vfr_b.mkv", 0.0)
    assert probe(copy).duration == pytest.approx((pts[-1] + 1) / 24, abs=2e-3)  # ms ticks


def test_a_header_rate_that_is_a_time_base_is_not_the_frame_rate(tmp_path: Path) -> None:
    """x264 writes its time base (here 1/14336 s, as our writer keeps a source's) as the
    stream's timing info; a stream copy into Matroska then heads the clip "14336 fps", which
    ``probe`` and the reader took as the rate (the sampler's times then differed from the
    MP4's, and so did the classifier's score)."""
    mkv = tmp_path / "t.mkv"
    mp4 = encoded(tmp_path / "t.mp4", [i * 512 for i in range(56)], Fraction(1, 14336), 28)
    _remux(mp4, mkv, 0.0)
    with av.open(str(mkv)) as c:
        assert c.streams.video[0].average_rate == 14336  # the header as written
    for path in (mp4, mkv):
        info = probe(path)
        assert (info.fps, info.frames, info.duration) == (28, 56, pytest.approx(2.0, abs=2e-3))
    times = [[f.time for f in iter_frames(p)] for p in (mp4, mkv)]
    assert times[0] == pytest.approx(times[1], abs=1e-3)
    with VideoReader(mkv) as r:
        assert r.info.fps == 28


def test_our_h264_states_its_frame_rate_not_its_time_base(tmp_path: Path) -> None:
    """The writer keeps a source's time base (1/14336 s here); other tools read the rate of
    a stream copy into Matroska from the H.264 timing info, which must then be the rate. A
    variable rate's frame times are kept all the same."""
    mp4, mkv, tb = tmp_path / "w.mp4", tmp_path / "w.mkv", Fraction(1, 14336)
    with VideoWriter(mp4, 64, 64, 28, time_base=tb) as w:
        for i, rgb in enumerate(synth_frames(28, 64, 64)):
            w.write(Frame(i, i / 28, i * 512, tb, rgb))
    _remux(mp4, mkv, 0.0)
    with av.open(str(mkv)) as c:
        assert c.streams.video[0].average_rate == 28  # it was 14336
    assert [f.pts for f in iter_frames(mp4)] == [i * 512 for i in range(28)]
    steps = [0, 512, 1024, 3072, 3584, 7168, 7680, 8192]  # a variable rate
    with VideoWriter(vfr := tmp_path / "v.mp4", 64, 64, 28, time_base=tb) as w:
        for i, (t, rgb) in enumerate(zip(steps, synth_frames(8, 64, 64), strict=True)):
            w.write(Frame(i, t / 14336, t, tb, rgb))
    assert [f.pts for f in iter_frames(vfr)] == steps and probe(vfr).vfr


def test_a_transport_stream_cut_mid_gop_counts_the_frames_that_show(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    full = tmp_path / "full.ts"
    rng = np.random.default_rng(0)
    with av.open(str(full), "w", format="mpegts") as o:
        s = o.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        s.codec_context.gop_size = 10
        for _ in range(60):
            img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)  # big packets
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                o.mux(p)
        for p in s.encode():
            o.mux(p)
    data = full.read_bytes()
    cut = tmp_path / "cut.ts"  # a recording that starts mid-GOP, on a 188-byte packet
    cut.write_bytes(data[len(data) // 188 * 188 // 2 + 188 * 7 :])
    with av.open(str(cut)) as c:
        flags = [p.is_keyframe for p in c.demux(c.streams.video[0]) if p.size]
    assert not flags[0] and flags.count(False) > flags.index(True) > 0
    with caplog.at_level(logging.WARNING, logger="vidprov.media.info"):
        info, times = probe(cut), _times(cut)
    assert info.frames == len(times) < len(flags)  # it counted the undecodable frames too
    assert info.duration == pytest.approx(len(times) / 25, abs=0.01)
    assert f"{flags.index(True)} frame(s) before the first keyframe" in caplog.text
    # time 0 is the first frame shown: times ran from the cut frames' start, past the length
    assert times[0] == 0.0 and times[-1] < info.duration


@pytest.mark.parametrize(
    ("codec", "params"),
    [
        ("libx265", {"x265-params": "open-gop=1:bframes=4:b-adapt=0:log-level=error"}),
        ("libx264", {"x264-params": "open-gop=1:bframes=3:b-adapt=0"}),
    ],
)
def test_a_stream_cut_at_an_open_gop_keyframe_counts_the_frames_that_show(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, codec: str, params: dict
) -> None:
    """Cut at an open GOP's keyframe (an HEVC CRA), a stream starts with pictures that refer
    to frames before the cut, shown before the keyframe: the decoder drops them. They were
    counted (154 frames and 6.16 s where 150 show), in Matroska, which has no edit list to
    hide them."""
    options = {"g": "20", "keyint_min": "20", **params}
    src = encoded(
        tmp_path / "open.mp4", list(range(60)), Fraction(1, 25), codec=codec, options=options
    )
    cut = stream_copy(src, tmp_path / "cut.mkv", lambda i, keys, key: keys >= 2)  # from the 2nd key
    with av.open(str(cut)) as c:
        packets = sum(1 for p in c.demux(c.streams.video[0]) if p.size)
    with caplog.at_level(logging.WARNING, logger="vidprov.media.info"):
        info, times = probe(cut), _times(cut)
    leading = packets - len(times)
    assert leading > 0  # the clip is what the test needs
    assert info.frames == len(times) == 40
    assert info.duration == pytest.approx(40 / 25, abs=1e-3)
    assert times[0] == 0.0 and times[-1] == pytest.approx(39 / 25)
    assert f"{leading} frame(s) before the first keyframe" in caplog.text


def test_a_stream_without_a_keyframe_says_so(tmp_path: Path) -> None:
    """Only the frames between two keyframes, stream-copied (its header still gives the size):
    no frame of it can be shown, and the error says why."""
    gop = encoded(tmp_path / "gop.mkv", list(range(0, 1200, 40)), Fraction(1, 1000), gop=10)
    cut = stream_copy(gop, tmp_path / "cut.mkv", lambda i, keys, key: keys == 1 and not key)
    with pytest.raises(MediaError, match=r"holds no keyframe \(9 frames, none shown\)"):
        probe(cut)


@pytest.mark.parametrize(("name", "bframes"), [("held.mp4", 0), ("held.mp4", 3)])
def test_a_last_frame_shown_long_keeps_the_rate(tmp_path: Path, name: str, bframes: int) -> None:
    """120 frames at 30 fps, the last one shown 3 s: the clip lasts 6.967 s, and its rate is
    still 30 fps (it read 120 / 6.967 s: 17.2 fps). With B-frames an MP4 packet's duration is
    its gap in decoding order, so the track's end says it (it read 4 s, 'truncated?')."""
    path, tb = tmp_path / name, Fraction(1, 1000)
    with av.open(str(path), "w") as o:
        s = o.add_stream("libx264", rate=30, options={"bf": str(bframes)})
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        s.codec_context.time_base = s.time_base = tb
        packets = []
        for i, rgb in enumerate(synth_frames(120, 64, 64)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = round(i * 1000 / 30), tb
            packets += s.encode(frame)
        packets += s.encode()
        assert max(p.pts for p in packets) == packets[-1].pts  # last decoded, last shown
        packets[-1].duration = 3000
        for p in packets:
            o.mux(p)
    info = probe(path)
    assert info.frames == 120 and info.duration == pytest.approx(6.967)
    assert info.fps == 30 and not info.vfr


def test_a_slow_time_lapse_has_a_rate_above_zero(tmp_path: Path) -> None:
    seconds = [0, 1, 2, 3 * 3600, 6 * 3600, 9 * 3600]  # frames hours apart
    path = encoded(tmp_path / "slow.mkv", [t * 1000 for t in seconds], Fraction(1, 1000))
    info = probe(path)
    assert info.vfr and info.duration == pytest.approx(32401)
    assert info.fps == Fraction(6, 32401)  # it rounded to 0


def test_an_avi_puts_timed_frames_in_the_slots_of_their_times(tmp_path: Path) -> None:
    """AVI stores one frame per 1/fps and no times: frames were written one per slot whatever
    their times (a concat of a 30 and a 25 fps source came out 0.65 s shorter than its sound).
    Now a frame held over several slots is repeated and one in the slot before's is left out."""
    times = [0.0, 0.1, 0.15, 0.42, 0.5]  # at 10 fps: slots 0, 1, 2 (1.5 rounds up), 4, 5
    path = tmp_path / "slots.avi"
    with VideoWriter(path, 64, 48, 10) as w:
        for i, t in enumerate([*times[:2], 0.12, *times[2:]]):  # 0.12: slot 1 again
            rgb = np.full((48, 64, 3), 40 * i, np.uint8)
            w.write(Frame(i, t, None, None, rgb))
    got = [(round(f.time, 2), round(f.rgb.mean() / 40)) for f in iter_frames(path)]
    # value 2 (at 0.12) left out; value 3 (0.15) held over slot 3 and repeated
    assert got == [(0.0, 0), (0.1, 1), (0.2, 3), (0.3, 3), (0.4, 4), (0.5, 5)]
