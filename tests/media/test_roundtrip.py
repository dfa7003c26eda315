"""Real encodes through PyAV: frames, timing, size and sound survive the round trip."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidprov.errors import MediaError
from vidprov.media import (
    Display,
    EncodeOptions,
    VideoReader,
    VideoWriter,
    iter_frames,
    open_video,
    probe,
    read_display,
    synth_frames,
    transcode,
)


def _pts(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [float(f.pts * f.time_base) for f in c.decode(s)]


def test_probe_reports_metadata(clip: Path) -> None:
    info = probe(clip)
    assert (info.width, info.height, info.fps, info.frames) == (160, 120, Fraction(30), 30)
    assert info.frames_exact and not info.vfr
    assert info.duration == pytest.approx(1.0, abs=0.01)
    assert info.video_codec == "h264" and info.has_audio and info.audio_codec == "aac"
    d = info.to_dict()
    assert d["fps"] == "30/1" and d["frames"] == 30


def test_transcode_keeps_frames_rate_size_and_copies_audio(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    r = transcode(clip, out, EncodeOptions(crf=23, preset="veryfast"))
    assert r.preserved == {"frames": True, "fps": True, "size": True, "audio": True}
    assert r.audio == "copy"
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        pa = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        pb = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
    assert pa == pb  # audio packets copied unchanged


def test_ntsc_rate_is_exact(tmp_path: Path) -> None:
    out = tmp_path / "ntsc.mp4"
    with VideoWriter(out, 64, 48, Fraction(30000, 1001)) as w:
        for f in synth_frames(10, 64, 48):
            w.write(f)
    info = probe(out)
    assert info.fps == Fraction(30000, 1001) and info.frames == 10


def test_vfr_timing_survives(clip_factory, tmp_path: Path) -> None:
    src = clip_factory("vfr.mp4", seconds=1.0, width=96, height=64, fps=30, vfr=True)
    assert probe(src).vfr
    out = tmp_path / "vfr-out.mp4"
    transcode(src, out)
    assert probe(out).vfr
    assert _pts(out) == pytest.approx(_pts(src), abs=1e-3)
    times = [f.time for f in iter_frames(out)]
    assert times == pytest.approx(_pts(src), abs=1e-3)


def test_rgb_and_yuv_views_agree(clip: Path) -> None:
    rgb = [f.rgb for f in iter_frames(clip)]
    yuv = list(iter_frames(clip, "yuv420p"))
    assert len(rgb) == len(yuv) == 30
    f = yuv[0]
    assert f.y.shape == (120, 160) and f.u.shape == (60, 80) and f.v.shape == (60, 80)
    # BT.601 limited-range luma from the RGB view matches the stored Y plane.
    r, g, b = (rgb[0][..., i].astype(np.float64) for i in range(3))
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    assert np.abs(y - f.y).mean() < 2.0


def test_chunks_cover_every_frame_once(clip: Path) -> None:
    with open_video(clip) as r:
        chunks = list(r.chunks(size=7))
    assert [len(c) for c in chunks] == [7, 7, 7, 7, 2]
    assert [c.start for c in chunks] == [0, 7, 14, 21, 28]
    assert chunks[0].stack().shape == (7, 120, 160, 3)
    assert np.all(np.diff(np.concatenate([c.times for c in chunks])) > 0)


def test_yuv_write_is_near_lossless_at_crf0(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "yuv.mp4"
    src = list(iter_frames(clip, "yuv420p"))
    with VideoWriter(out, 160, 120, 30, EncodeOptions(crf=0)) as w:
        for f in src:
            w.write(f)
    back = list(iter_frames(out, "yuv420p"))
    assert len(back) == len(src)
    assert max(np.abs(a.y.astype(int) - b.y).max() for a, b in zip(src, back, strict=True)) == 0


def test_odd_size_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, 101, 75, 25) as w:
        for f in synth_frames(5, 101, 75):
            w.write(f)
    info = probe(out)
    assert (info.width, info.height, info.frames) == (101, 75, 5)


@pytest.mark.parametrize(
    ("suffix", "codec", "pix_fmt"),
    [
        (".mov", "libx264", "yuv420p"),
        (".mkv", "libx264", "yuv420p"),
        (".avi", "mpeg4", "yuv420p"),
        (".webm", "libvpx-vp9", "yuv420p"),
        (".gif", "gif", "rgb8"),
    ],
)
def test_reads_common_containers(tmp_path: Path, suffix: str, codec: str, pix_fmt: str) -> None:
    path = tmp_path / f"c{suffix}"
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, pix_fmt
        for f in synth_frames(12, 64, 48):
            for p in s.encode(
                av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format=pix_fmt)
            ):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    info = probe(path)
    assert (info.width, info.height, info.frames) == (64, 48, 12)
    with VideoReader(path) as r:
        assert sum(1 for _ in r.frames()) == 12


def test_average_bitrate_rate_control(tmp_path: Path) -> None:
    """``bitrate`` replaces CRF: two very different targets land near their own values."""
    sizes = {}
    for kbps in (100, 800):
        out = tmp_path / f"b{kbps}.mp4"
        opts = EncodeOptions(preset="veryfast", bitrate=kbps * 1000)
        with VideoWriter(out, 320, 240, 24, opts) as w:
            for f in synth_frames(72, 320, 240, seed=2):
                w.write(
                    np.clip(f + np.random.default_rng(0).normal(0, 8, f.shape), 0, 255).astype(
                        np.uint8
                    )
                )
        sizes[kbps] = probe(out).bit_rate / 1000
    assert 50 < sizes[100] < 200 and 400 < sizes[800] < 1200
    with pytest.raises(MediaError, match="bitrate must be positive"):
        EncodeOptions(bitrate=0)


def test_rotation_is_reported_counter_clockwise(clip: Path, tmp_path: Path) -> None:
    import struct

    data = bytearray(clip.read_bytes())
    at = data.find(b"tkhd") + 4  # track header box: version byte, flags, then fields
    wide = data[at] == 1  # version 1 has 64-bit times
    matrix = at + 4 + (28 if wide else 16) + 4 + 8 + 8  # after times, id, duration, reserved...
    # the display matrix of a clip tagged rotate=90 (turned 90 degrees clockwise for display)
    assert struct.unpack(">9i", data[matrix : matrix + 36])[0] == 0x10000  # identity before
    data[matrix : matrix + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 1 << 30)
    rotated = tmp_path / "rotated.mp4"
    rotated.write_bytes(bytes(data))
    assert probe(clip).rotation == 0 and probe(rotated).rotation == 270


def test_avi_output_reads_back_whole(clip: Path, tmp_path: Path) -> None:
    # AVI gives each frame a slot of 1/fps: the source's finer time base used to leave 24 empty
    # slots per frame, which the index counted and the reader then called truncated.
    out = tmp_path / "out.avi"
    r = transcode(clip, out, EncodeOptions(crf=23, preset="veryfast"))
    assert (r.output.frames, r.output.fps) == (30, Fraction(30))
    assert sum(1 for _ in iter_frames(out)) == 30


def test_an_avi_with_a_dropped_frame_is_not_truncated(tmp_path: Path) -> None:
    path = tmp_path / "drop.avi"
    with av.open(str(path), "w") as out:
        s = out.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        packets = []
        for i, rgb in enumerate(synth_frames(10, 64, 64)):
            frame = av.VideoFrame.from_ndarray(rgb, "rgb24")
            frame.pts = i
            packets += s.encode(frame)
        for p in [*packets, *s.encode()]:
            if p.pts != 5:  # the muxer leaves an empty chunk in the dropped frame's slot
                out.mux(p)
    with av.open(str(path)) as c:
        assert c.streams.video[0].frames == 10  # the index counts the empty slot
    assert probe(path).frames == 9 and sum(1 for _ in iter_frames(path)) == 9
    cut = tmp_path / "cut.avi"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(MediaError, match="truncated"):
        probe(cut)


def _shown(path: Path) -> tuple[int, Fraction | None, int, float]:
    """Rotation, pixel aspect ratio, range tag and mean RGB level, as a player reads them."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frame = next(c.decode(s))
        sar = s.sample_aspect_ratio or s.codec_context.sample_aspect_ratio
        rgb = frame.to_ndarray(format="rgb24").astype(np.float64)
        return frame.rotation, sar and Fraction(sar), int(s.codec_context.color_range), rgb.mean()


def test_reencodes_keep_rotation_pixel_shape_and_full_range(tmp_path: Path) -> None:
    src = tmp_path / "phone.mp4"  # a portrait phone clip: rotated, full range, non-square
    with av.open(str(src), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        s.codec_context.color_range = 2
        s.codec_context.sample_aspect_ratio = Fraction(4, 3)
        s.set_display_rotation(90)
        for i, rgb in enumerate(synth_frames(15, 96, 64)):
            frame = av.VideoFrame.from_ndarray(rgb, "rgb24").reformat(
                format="yuvj420p"
            )  # full-range samples
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    before = _shown(src)
    assert before[:3] == (90, Fraction(4, 3), 2)
    for name in ("same.mp4", "same.mkv"):
        transcode(src, tmp_path / name)
        after = _shown(tmp_path / name)
        assert after[:3] == before[:3], name
        assert after[3] == pytest.approx(before[3], abs=2.0)  # no contrast shift
    assert probe(tmp_path / "same.mp4").rotation == 90


def test_a_container_without_rotation_says_it_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """MPEG-TS and AVI carry no display rotation: it was dropped without a word."""
    with VideoWriter(tmp_path / "turned.mp4", 64, 48, 25, display=Display(rotation=90)) as w:
        for rgb in synth_frames(3, 64, 48):
            w.write(rgb)
    for name in ("same.ts", "same.avi", "same.mkv"):
        caplog.clear()
        transcode(tmp_path / "turned.mp4", tmp_path / name)
        lost = "keeps no rotation tag" in caplog.text
        assert lost == (probe(tmp_path / name).rotation == 0) == (name != "same.mkv"), name


def test_probe_names_the_format_not_the_decoder(tmp_path: Path) -> None:
    path = tmp_path / "av1.mkv"  # decoded by libdav1d: the codec is still av1
    with av.open(str(path), "w") as out:
        s = out.add_stream("libsvtav1", rate=25)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        for i, rgb in enumerate(synth_frames(5, 64, 64)):
            frame = av.VideoFrame.from_ndarray(rgb, "rgb24")
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    assert probe(path).video_codec == "av1"


@pytest.mark.parametrize("fps", [Fraction(24), Fraction(30), Fraction(60), Fraction(30000, 1001)])
def test_a_constant_rate_in_milliseconds_keeps_its_exact_rate(
    tmp_path: Path, fps: Fraction
) -> None:
    # MKV times frames in 1 ms ticks: 30 fps is 33/33/34 ms, which MP4 stored as 32000/1067
    # fps (and 60 fps as a variable rate)
    src = tmp_path / "cfr.mkv"
    with VideoWriter(src, 64, 48, fps) as w:
        for i in range(40):
            w.write(np.full((48, 64, 3), 5 * i, np.uint8))
    assert (probe(src).fps, probe(src).vfr) == (fps, False)
    r = transcode(src, tmp_path / "out.mp4")
    assert (r.output.fps, r.output.vfr, r.output.frames) == (fps, False, 40)
    assert r.preserved["fps"]
    assert _pts(tmp_path / "out.mp4") == pytest.approx([i / fps for i in range(40)], abs=1e-6)


def _tagged(path: Path, colour: tuple[int, int, int], pix_fmt: str, codec: str) -> None:
    """A 10-frame 64x64 clip of one YUV colour, tagged ``colour``."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 64, pix_fmt
        cc = vs.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace = colour
        if codec == "libx265":
            vs.options = {"x265-params": "log-level=error"}
        frame = av.VideoFrame(64, 64, "yuv420p")
        for plane, value in zip(frame.planes, (120, 90, 180), strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        for i in range(10):
            vf = frame.reformat(format=pix_fmt)
            vf.pts = i
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)


@pytest.mark.parametrize(
    ("colour", "pix_fmt", "codec"),
    [((9, 16, 9), "yuv420p10le", "libx265"), ((1, 1, 1), "yuv420p", "libx264")],
)
def test_the_colour_description_is_carried(
    tmp_path: Path, colour: tuple[int, int, int], pix_fmt: str, codec: str
) -> None:
    # an HDR clip (BT.2020, PQ) came out untagged, shown as washed-out SDR
    src = tmp_path / "src.mp4"
    _tagged(src, colour, pix_fmt, codec)
    transcode(src, tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.color_primaries, cc.color_trc, cc.colorspace) == colour


def test_rgb_edits_of_a_bt709_clip_keep_its_colours(tmp_path: Path) -> None:
    # frames read as RGB by the clip's own matrix (BT.709) went back to YUV by BT.601,
    # untagged: U and V moved by several levels
    src = tmp_path / "709.mp4"
    _tagged(src, (1, 1, 1), "yuv420p", "libx264")
    with (
        VideoReader(src) as r,
        VideoWriter(tmp_path / "out.mp4", 64, 64, 25, display=read_display(src)) as w,
    ):
        for f in r.frames("rgb24"):
            w.write(f)
    a, b = next(iter_frames(src, "yuv420p")), next(iter_frames(tmp_path / "out.mp4", "yuv420p"))
    for pa, pb in ((a.y, b.y), (a.u, b.u), (a.v, b.v)):
        assert np.abs(pa.astype(int) - pb.astype(int)).max() <= 2
