"""Every bad input gives a typed MediaError that names the file."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidprov.errors import MediaError, VidprovError
from vidprov.media import (
    EncodeOptions,
    VideoReader,
    VideoWriter,
    iter_frames,
    make_clip,
    probe,
)
from vidprov.media.frames import check_yuv


def _check(path: Path, fragment: str) -> None:
    for fn in (probe, lambda p: sum(1 for _ in iter_frames(p))):
        with pytest.raises(MediaError) as ei:
            fn(path)
        assert str(path) in str(ei.value) and fragment in str(ei.value)
        assert isinstance(ei.value, VidprovError)


def _bad_files(tmp_path: Path, clip: Path) -> dict[str, tuple[Path, str]]:
    data = clip.read_bytes()
    cases: dict[str, tuple[bytes, str]] = {
        "empty.mp4": (b"", "empty"),
        "text.mp4": (b"hello, this is not a video\n" * 50, "not"),
        "random.mp4": (np.random.default_rng(0).bytes(4096), "not a readable video"),
        "truncated.mp4": (data[: len(data) // 3], "truncated"),
    }
    out = {}
    for name, (blob, frag) in cases.items():
        (tmp_path / name).write_bytes(blob)
        out[name] = (tmp_path / name, frag)
    out["missing.mp4"] = (tmp_path / "missing.mp4", "no such file")
    out["folder.mp4"] = (tmp_path, "not a regular file")
    return out


def test_bad_inputs_raise_typed_errors(tmp_path: Path, clip: Path) -> None:
    for path, frag in _bad_files(tmp_path, clip).values():
        _check(path, frag)


def test_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "audio.m4a"
    with av.open(str(path), "w") as out:
        s = out.add_stream("aac", rate=48000)
        s.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 48000
        for p in [*s.encode(frame), *s.encode()]:
            out.mux(p)
    _check(path, "no video stream")


def test_raw_stream_without_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "raw.h264"  # an elementary stream: frames, but no container times
    with av.open(str(path), "w", format="h264") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 40, np.uint8), "rgb24")
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    _check(path, "a raw h264 stream has no timestamps")


def test_absurd_dimensions(tmp_path: Path) -> None:
    path = tmp_path / "huge.y4m"
    path.write_bytes(b"YUV4MPEG2 W20000 H8 F30:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\0" * 64)
    _check(path, "absurd video dimensions")


def test_truncated_faststart_mp4_is_detected_while_streaming(tmp_path: Path, clip: Path) -> None:
    # moov at the front: the file opens, and the missing tail must not pass silently.
    from vidprov.media import transcode

    fast = tmp_path / "fast.mp4"
    transcode(clip, fast)
    data = fast.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    _check(cut, "truncated")


def test_writer_rejects_wrong_frame_size(tmp_path: Path) -> None:
    out = tmp_path / "w.mp4"
    with pytest.raises(MediaError, match="does not match"), VideoWriter(out, 64, 48, 30) as w:
        w.write(np.zeros((48, 64, 3), np.uint8))
        w.write(np.zeros((50, 64, 3), np.uint8))
    assert not out.exists()


def test_bad_options_are_typed() -> None:
    with pytest.raises(MediaError, match="crf"):
        EncodeOptions(crf=99)
    with pytest.raises(MediaError, match="preset"):
        EncodeOptions(preset="warp")


def test_output_folder_missing(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="output folder does not exist"):
        VideoWriter(tmp_path / "nope" / "x.mp4", 64, 48, 30).open()


def test_paths_the_system_cannot_look_at_are_typed_errors(tmp_path: Path) -> None:
    # Path.exists() raises on these instead of answering False
    _check(tmp_path / ("a" * 300 + ".mp4"), "cannot read (File name too long)")
    loop = tmp_path / "loop.mp4"
    loop.symlink_to(loop)
    _check(loop, "symlink loop")


def _restamped_mkv(path: Path, stamp: Callable[[int], int]) -> Path:
    """A 12-frame MKV whose packet ``i`` is stamped ``stamp(i)`` milliseconds."""
    with av.open(str(path), "w", format="matroska") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        s.codec_context.options = {"bf": "0"}  # decoding order = presentation order
        packets = []
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 20, np.uint8), "rgb24")
            frame.pts = i
            packets += s.encode(frame)
        packets += s.encode()
        for i, packet in enumerate(packets):
            packet.time_base = Fraction(1, 1000)
            packet.pts = packet.dts = stamp(i)
            out.mux(packet)
    return path


def test_timestamps_that_never_advance_or_leap_a_day_are_corrupt(tmp_path: Path) -> None:
    same = _restamped_mkv(tmp_path / "same.mkv", lambda i: 0)
    _check(same, "all 12 frames have the same timestamp")
    leap = _restamped_mkv(tmp_path / "leap.mkv", lambda i: i * 40 + (2 * 86400_000 if i > 5 else 0))
    _check(leap, "frame 6 comes 1.73e+05 s after the one before it (corrupt timestamps)")
    day = _restamped_mkv(tmp_path / "day.mkv", lambda i: i * 40 + (86400_000 if i > 5 else 0))
    _check(day, "frame 6 comes 8.64e+04 s after the one before it")  # a day exactly: "or more"
    slow = _restamped_mkv(tmp_path / "slow.mkv", lambda i: i * 3600_000)  # an hourly time-lapse
    # to the end of the last frame, which its packet says lasts 40 ms (the frames' own timing)
    assert probe(slow).duration == pytest.approx(11 * 3600 + 0.04, abs=1e-3)
    assert [f.time for f in iter_frames(slow)][-1] == pytest.approx(11 * 3600)


def test_a_damaged_track_header_is_a_typed_error(tmp_path: Path) -> None:
    from vidprov.media import make_clip

    clip = make_clip(tmp_path / "c.mp4", seconds=0.5, width=64, height=64, fps=10)
    data = bytearray(clip.read_bytes())
    data[data.find(b"hdlr") - 4] ^= 1  # the handler box's size: FFmpeg no longer knows the codec
    bad = tmp_path / "hdlr.mp4"
    bad.write_bytes(bytes(data))
    _check(bad, "its video track names no known codec")


def test_frames_and_writer_settings_that_would_be_cast_silently_are_refused(
    tmp_path: Path, clip: Path
) -> None:
    f = next(iter(iter_frames(clip, "yuv420p")))
    bad = {
        "luma must be a 2-D uint8 array, got float32": replace(f, y=(f.y / 255).astype("float32")),
        "luma must be a 2-D uint8 array, got int32": replace(f, y=f.y.astype("int32") + 300),
        "u plane must be uint8 (60, 80)": replace(f, u=f.u[:50]),
        "time must be a finite number": replace(f, time=float("nan")),
    }
    for message, frame in bad.items():
        with (
            pytest.raises(MediaError, match=re.escape(message)),
            VideoWriter(tmp_path / "o.mp4", 160, 120, 30) as w,
        ):
            w.write(frame)
        assert not (tmp_path / "o.mp4").exists()
    with pytest.raises(MediaError, match="expected a YUVFrame, got ndarray"):
        check_yuv(f.y)
    with VideoReader(clip) as r, pytest.raises(MediaError, match=r"integer >= 1, got 2\.5"):
        next(r.chunks(size=2.5))  # type: ignore[arg-type]
    for fps in (float("nan"), float("inf"), None, 0):
        with pytest.raises(MediaError, match="bad"):
            VideoWriter(tmp_path / "o.mp4", 160, 120, fps)  # type: ignore[arg-type]
    with pytest.raises(MediaError, match="bad audio window"):
        VideoWriter(tmp_path / "o.mp4", 160, 120, 30, audio_from=clip, audio_window=(5, 1))


def test_make_clip_takes_odd_sizes_and_refuses_empty_ones(tmp_path: Path) -> None:
    odd = make_clip(tmp_path / "odd.mp4", seconds=0.2, width=161, height=121)
    info = probe(odd)
    assert (info.width, info.height, info.frames) == (161, 121, 6)
    with pytest.raises(MediaError, match="positive size"):
        make_clip(tmp_path / "none.mp4", width=0)
    assert not (tmp_path / "none.mp4").exists()


def test_a_picture_size_that_changes_is_refused_naming_the_source(tmp_path: Path) -> None:
    # two MPEG-TS clips joined with `cat`: the writer refused the second size naming its output
    from vidprov.media.transcode import transcode

    parts = [make_clip(tmp_path / f"{w}.ts", 0.5, w, h) for w, h in ((96, 64), (64, 48))]
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with pytest.raises(MediaError) as ei:
        transcode(joined, tmp_path / "out.mp4")
    assert ei.value.path == str(joined)
    assert "picture size changes at frame 15, from 96x64 to 64x48" in str(ei.value)
    assert not (tmp_path / "out.mp4").exists()
    assert sum(1 for _ in iter_frames(joined)) == 30  # reading alone takes both sizes


def test_a_fragmented_mp4_cut_inside_a_frame_reads_its_whole_frames(
    tmp_path: Path, clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # no index says how many frames there were: the reader and probe must agree on the frames
    # the file holds whole, and say it was cut (a threaded decoder lost frames silently)
    frag, fragmented = tmp_path / "frag.mp4", {"movflags": "frag_keyframe+empty_moov"}
    with av.open(str(clip)) as i, av.open(str(frag), "w", format="mp4", options=fragmented) as o:
        out = o.add_stream_from_template(i.streams.video[0])
        for p in i.demux(i.streams.video[0]):
            if p.dts is not None:
                p.stream = out
                o.mux(p)
    with av.open(str(frag)) as c:
        tb = c.streams.video[0].time_base
        spans = [(p.pos, p.pos + p.size, p.pts) for p in c.demux(video=0) if p.size]
    start, end, _ = spans[-6]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(frag.read_bytes()[: (start + end) // 2])
    shown = [pts for _, stop, pts in spans if stop <= (start + end) // 2]
    whole = len(shown)
    assert whole == len(spans) - 6
    info = probe(cut)
    assert info.frames == whole  # and the length of those (its last fragment lists them all)
    assert info.duration == pytest.approx(float((max(shown) - min(shown)) * tb) + 1 / 30)
    with VideoReader(cut) as reader:
        assert sum(1 for _ in reader.av_frames()) == whole
    assert "ends inside a frame" in caplog.text and str(cut) in caplog.text


def test_a_packet_flagged_cut_short_with_data_after_it_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the stream's last packet is left out: one followed by an empty packet (an AVI's
    skipped frame) and then by data was dropped, and the file called cut short."""
    from types import SimpleNamespace as P

    from vidprov.media.info import WholePackets

    stream = [P(size=9, is_corrupt=False), P(size=9, is_corrupt=True), P(size=0, is_corrupt=False)]
    stream += [P(size=9, is_corrupt=False), P(size=9, is_corrupt=True), P(size=0, is_corrupt=False)]
    packets = WholePackets(stream, tmp_path / "x.avi")
    assert list(packets) == stream[:4] + stream[5:]  # the last with data is left out
    assert packets.cut and "ends inside a frame" not in caplog.text  # said after the checks
    packets.report()
    assert caplog.text.count("ends inside a frame") == 1
