"""Scanning: splice localisation, evidence from watermark and manifest, bad inputs, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import pytest

from vidprov.detector import ScanFailure, scan_file, scan_many
from vidprov.detector.models import Detector
from vidprov.errors import MediaError
from vidprov.media import make_clip

from .conftest import toy_frames, write


def test_splice_is_located_within_half_a_second(toy_model: Detector, tmp_path: Path) -> None:
    host = toy_frames("real", 144, seed=500)  # 6 s at 24 fps
    insert = toy_frames("ai", 48, seed=501)  # 2 s
    frames = host[:60] + insert + host[108:]  # AI from 2.5 s to 4.5 s
    clip = write(tmp_path / "mixed.mp4", frames)
    v = scan_file(clip, detector=toy_model, key=b"\0" * 32)
    assert v.label == "mixed"
    ai = [s for s in v.segments if s.label == "ai"]
    assert len(ai) == 1
    assert abs(ai[0].start - 2.5) <= 0.5 and abs(ai[0].end - 4.5) <= 0.5


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p / "missing.mp4", "no such file"),
        (
            lambda p: ((p / "empty.mp4").write_bytes(b"") and p / "empty.mp4") or p / "empty.mp4",
            "empty",
        ),
        (lambda p: (p / "t.mp4").write_text("not a video") and p / "t.mp4", "not a"),
        (lambda p: make_clip(p / "one.mp4", seconds=1 / 30, fps=30), "only 1 frame: nothing"),
        (lambda p: "", "empty path"),  # Path("") is the current folder: an unset setting
    ],
)
def test_bad_inputs_are_typed_errors(tmp_path: Path, make, match: str, toy_model: Detector) -> None:
    with pytest.raises(MediaError, match=match):
        scan_file(make(tmp_path), detector=toy_model)


def test_a_threshold_of_ones_own_moves_the_verdict_not_the_model(
    toy_model: Detector, tmp_path: Path
) -> None:
    from vidprov.errors import DetectorError

    clip = write(tmp_path / "real.mp4", toy_frames("real", 48, seed=502))
    own = toy_model.threshold
    base = scan_file(clip, detector=toy_model, key=b"\0" * 32)
    score = base.evidence["classifier"]["score"]  # the highest segment's
    low, high = round(score / 2, 4), round((1 + score) / 2, 4)  # on either side of it
    v = scan_file(clip, detector=toy_model, key=b"\0" * 32, threshold=low)
    assert v.label in ("ai", "mixed") and v.evidence["classifier"]["threshold"] == low
    assert any(s.label == "ai" for s in v.segments)
    (v,) = scan_many([clip], detector=toy_model, key=b"\0" * 32, threshold=high)
    assert v.label == "real" and v.evidence["classifier"]["threshold"] == high
    assert toy_model.threshold == own  # a copy decided: the shared model is as it was
    for bad in (0.0, 1.0, float("nan"), "0.5"):
        with pytest.raises(DetectorError, match="threshold"):
            scan_file(clip, detector=toy_model, threshold=bad)  # type: ignore[arg-type]
    with pytest.raises(DetectorError, match="not run"):
        scan_file(clip, classifier=False, threshold=0.5)


def test_an_empty_path_in_a_batch_is_a_failure_not_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scan_many([""]) scanned every clip under the working folder."""
    from vidprov.detector import ScanFailure, scan_many

    make_clip(tmp_path / "here.mp4", seconds=0.5)
    monkeypatch.chdir(tmp_path)
    (failure,) = scan_many([""], classifier=False)
    assert isinstance(failure, ScanFailure) and "empty path" in failure.message


def _cli(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ, VIDPROV_HOME=str(env_home))
    return subprocess.run(
        [sys.executable, "-m", "vidprov.cli.main", *args], capture_output=True, text=True, env=env
    )


def test_scan_cli_json_plot_and_jsonl(
    toy_model_file: Path, toy_data: Path, tmp_path: Path, keyed_home: Path
) -> None:
    png = tmp_path / "t.png"
    clip = toy_data / "ai" / "ai1.mp4"
    p = _cli(
        "scan",
        str(clip),
        "--model",
        str(toy_model_file),
        "--json",
        "--plot",
        str(png),
        env_home=keyed_home,
    )
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["label"] == "ai" and doc["evidence"]["classifier"]["frames"]
    assert doc["evidence"]["c2pa"]["state"] == "absent"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    p = _cli(
        "scan",
        str(toy_data / "real"),
        "--model",
        str(toy_model_file),
        "--jsonl",
        env_home=keyed_home,
    )
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(lines) == 6 and all(x["label"] == "real" for x in lines)


def test_scan_cli_text_names_the_threshold_the_classifier_decided_by(
    toy_model_file: Path, toy_data: Path, keyed_home: Path
) -> None:
    from vidprov.detector.models import load

    thr = load(toy_model_file).threshold
    clip = toy_data / "real" / "real2.mp4"
    p = _cli("scan", str(clip), "--model", str(toy_model_file), env_home=keyed_home)
    assert p.returncode == 0, p.stderr
    head = p.stdout.splitlines()[0]
    assert head.startswith(f"{clip}: REAL  P(ai)=")
    assert head.endswith(f"(decided by classifier, threshold {thr:.2f})")


def test_scan_cli_json_of_a_folder_is_a_list_and_odd_names_print_as_in_json(
    toy_model_file: Path, toy_data: Path, tmp_path: Path, keyed_home: Path
) -> None:
    import os
    import shutil

    folder = tmp_path / "one"
    folder.mkdir()
    odd = os.fsdecode(bytes(folder / "caf") + b"\xe9.mp4")  # a Latin-1 name: not UTF-8
    shutil.copy(toy_data / "real" / "real2.mp4", odd)
    p = _cli("scan", str(folder), "--model", str(toy_model_file), "--json", env_home=keyed_home)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)  # a folder may hold any number of clips: always a list
    assert isinstance(doc, list) and doc[0]["file"] == f"{folder}/caf\\xe9.mp4"
    p = _cli("scan", str(folder), "--model", str(toy_model_file), env_home=keyed_home)
    assert p.stdout.startswith(f"{folder}/caf\\xe9.mp4: REAL"), p.stdout


def test_scan_cli_bad_input_is_one_line_exit_2(tmp_path: Path, keyed_home: Path) -> None:
    bad = tmp_path / "x.mp4"
    bad.write_text("garbage")
    p = _cli("scan", str(bad), env_home=keyed_home)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "x.mp4" in p.stderr


def _batch(tmp_path: Path, toy_data: Path) -> Path:
    import shutil

    folder = tmp_path / "uploads"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(toy_data / "ai" / "ai1.mp4", folder / "a.mp4")
    (folder / "b.mp4").write_bytes(b"\0" * 100)
    shutil.copy(toy_data / "real" / "real1.mp4", folder / "sub" / "c.mp4")
    return folder


def test_scan_many_reports_a_bad_file_and_goes_on(
    toy_model: Detector, toy_data: Path, tmp_path: Path
) -> None:
    folder = _batch(tmp_path, toy_data)
    out = list(scan_many([folder, tmp_path / "gone.mp4"], detector=toy_model, key=b"\0" * 32))
    assert [Path(r.file).name for r in out] == ["a.mp4", "b.mp4", "c.mp4", "gone.mp4"]
    assert [type(r).__name__ for r in out] == ["Verdict", "ScanFailure", "Verdict", "ScanFailure"]
    assert (out[0].label, out[2].label) == ("ai", "real")
    bad = out[1]
    assert isinstance(bad, ScanFailure) and bad.error == "media_error"
    assert "b.mp4" in bad.message and "not a readable video" in bad.message
    assert "no such file" in out[3].to_dict()["message"]


def test_scan_cli_batch_keeps_going_and_exits_2(
    toy_model_file: Path, toy_data: Path, tmp_path: Path, keyed_home: Path
) -> None:
    folder = _batch(tmp_path, toy_data)
    p = _cli("scan", str(folder), "--model", str(toy_model_file), "--jsonl", env_home=keyed_home)
    assert p.returncode == 2
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert [x.get("label", x.get("error")) for x in lines] == ["ai", "media_error", "real"]
    assert p.stderr.count("\n") == 1 and "b.mp4" in p.stderr
    p = _cli("scan", str(folder), "--model", str(toy_model_file), "--json", env_home=keyed_home)
    doc = json.loads(p.stdout)
    assert p.returncode == 2 and len(doc) == 3 and doc[1]["file"].endswith("b.mp4")
    p = _cli("scan", str(folder), "--model", str(toy_model_file), env_home=keyed_home)
    assert p.returncode == 2 and p.stdout.startswith(f"{folder}/a.mp4: AI ")
    assert p.stdout.splitlines()[-1] == "3 files: 1 ai, 0 mixed, 1 real, 1 failed"
    assert p.stderr.count("\n") == 1 and "b.mp4" in p.stderr
    p = _cli("scan", str(folder), "--no-classifier", env_home=keyed_home)  # labels: unknown
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert p.stdout.splitlines()[-1] == "3 files: 0 ai, 0 mixed, 0 real, 2 unknown, 1 failed"


def test_folders_with_nothing_to_scan_are_reported_and_the_batch_goes_on(
    toy_model: Detector, toy_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import shutil

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.txt").write_text("no clips here")
    folder = tmp_path / "uploads"
    (folder / "locked").mkdir(parents=True)
    shutil.copy(toy_data / "real" / "real1.mp4", folder / "a.mp4")
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str] = ".") -> object:  # a folder we may not list
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    out = list(scan_many([empty, folder], detector=toy_model, key=b"\0" * 32))
    assert [type(r).__name__ for r in out] == ["ScanFailure", "ScanFailure", "Verdict"]
    assert out[0].message == f"{empty}: folder holds no video files"
    assert out[1].message == f"{folder / 'locked'}: cannot list folder (Permission denied)"
    assert Path(out[2].file).name == "a.mp4"


def test_timeline_ends_where_the_clip_does(toy_model: Detector, tmp_path: Path) -> None:
    from vidprov.media import probe

    clip = write(tmp_path / "c.mp4", toy_frames("real", 50, seed=7))  # 2.083 s at 24 fps
    v = scan_file(clip, detector=toy_model, key=b"\0" * 32)
    assert v.duration == pytest.approx(probe(clip).duration)
    assert v.segments[-1].end == pytest.approx(v.duration)
    assert all(s.end <= v.duration + 1e-9 for s in v.segments)


def test_scan_cli_fails_early_and_reports_every_failure(
    toy_model_file: Path, toy_data: Path, tmp_path: Path, keyed_home: Path
) -> None:
    clip = str(toy_data / "ai" / "ai1.mp4")
    bad = tmp_path / "x.mp4"
    bad.write_text("garbage")
    p = _cli("scan", str(bad), "--json", env_home=keyed_home)  # one file: its failure record
    assert p.returncode == 2 and json.loads(p.stdout)["error"] == "media_error"
    # the API's 4xx body's fields (error, message, path) and a verdict's file
    assert json.loads(p.stdout)["path"] == json.loads(p.stdout)["file"] == str(bad)
    missing = tmp_path / "no" / "t.png"  # the plot cannot be written: nothing is scanned
    p = _cli(
        "scan", clip, "--model", str(toy_model_file), "--plot", str(missing), env_home=keyed_home
    )
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip() == f"vidprov: error: {missing}: output folder does not exist"
    p = _cli("scan", clip, "--json", "--jsonl", env_home=keyed_home)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "alternatives" in p.stderr


def test_scan_without_classifier_or_evidence_does_not_guess(
    toy_data: Path, keyed_home: Path
) -> None:
    clip = toy_data / "ai" / "ai1.mp4"
    p = _cli("scan", str(clip), "--no-classifier", env_home=keyed_home)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == f"{clip}: UNKNOWN  P(ai)=-  (decided by none)"


def test_signed_and_marked_clip_is_ai_even_after_stripping(
    env_home: Path, toy_model: Detector, tmp_path: Path
) -> None:
    from vidprov.keys import load_watermark_key
    from vidprov.media import EncodeOptions, transcode
    from vidprov.provenance import sign_file
    from vidprov.watermark import embed_file

    src = make_clip(tmp_path / "src.mp4", seconds=3.0, width=640, height=360, fps=30, seed=7)
    embed_file(src, tmp_path / "m.mp4", load_watermark_key(), "00112233445566ff")
    signed = sign_file(tmp_path / "m.mp4", tmp_path / "s.mp4").output
    v = scan_file(signed, detector=toy_model)
    assert (v.label, v.decided_by) == ("ai", "c2pa")
    stripped = tmp_path / "re.mp4"
    transcode(signed, stripped, EncodeOptions(crf=28))
    v2 = scan_file(stripped, detector=toy_model)
    assert (v2.label, v2.decided_by) == ("ai", "recovered-c2pa")
    assert v2.evidence["c2pa"]["state"] == "absent" and v2.evidence["watermark"]["detected"]


def test_the_same_frames_sample_alike_in_mp4_and_mkv(tmp_path: Path) -> None:
    import av

    from vidprov.detector.sampling import sample_frames

    mp4 = make_clip(tmp_path / "c.mp4", seconds=1, width=160, height=120, seed=5)
    mkv = tmp_path / "c.mkv"  # the same packets; Matroska rounds their times to 1 ms
    with av.open(str(mp4)) as src, av.open(str(mkv), "w") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                dst.mux(packet)
    times = [[round(t, 3) for t, _ in sample_frames(p)] for p in (mp4, mkv)]
    assert times[0] == times[1] == [0.0, 0.133, 0.233, 0.367, 0.5, 0.633, 0.733, 0.867]


def test_frames_too_small_or_too_elongated_are_refused(tmp_path: Path, toy_model: Detector) -> None:
    # a short side scaled up to the working size would make a 16384x2 clip gigabytes
    for w, h in ((2048, 64), (8, 8)):
        clip = make_clip(tmp_path / f"c{w}.mp4", seconds=0.2, width=w, height=h, fps=10)
        with pytest.raises(MediaError, match=f"frames of {w}x{h} cannot be classified"):
            scan_file(clip, detector=toy_model)


def test_a_signed_clip_too_small_to_classify_is_decided_by_its_manifest(
    env_home: Path, tmp_path: Path
) -> None:
    from vidprov.detector import load_default
    from vidprov.provenance import sign_file

    shipped = load_default()  # as `vidprov scan` does; the toy model takes a while to train

    clip = make_clip(tmp_path / "tiny.mp4", seconds=0.3, width=8, height=8, fps=10)
    signed = sign_file(clip, tmp_path / "signed.mp4").output
    why = "frames of 8x8 cannot be classified"
    v = scan_file(signed, detector=shipped)  # before the fix: MediaError, no verdict
    assert (v.label, v.score, v.decided_by) == ("ai", 1.0, "c2pa")
    assert v.evidence["classifier"]["skipped"] is True
    assert v.evidence["classifier"]["reason"].startswith(why)
    assert v.to_dict()["evidence"]["classifier"] == v.evidence["classifier"]
    # nothing else to decide by: still the typed error, never an invented verdict
    with pytest.raises(MediaError, match=f"tiny.mp4: {why}"):
        scan_file(clip, detector=shipped)
    # one frame (`generate --frames 1` makes one): it was an error, signed or not
    one = make_clip(tmp_path / "one.mp4", seconds=1 / 30, width=64, height=64, fps=30)
    v = scan_file(sign_file(one, tmp_path / "one-signed.mp4").output, detector=shipped)
    assert (v.label, v.decided_by) == ("ai", "c2pa")
    assert v.evidence["classifier"]["reason"].startswith("only 1 frame: nothing to classify")


def test_a_jump_in_frame_times_is_sampled_at_once(tmp_path: Path) -> None:
    import av

    from vidprov.detector.sampling import sample_frames

    src = make_clip(tmp_path / "c.mp4", seconds=0.5, width=160, height=120, fps=10, seed=2)

    def jumping(name: str, step_ms: int) -> Path:
        mkv = tmp_path / name  # frame k at k * step
        with av.open(str(src)) as inp, av.open(str(mkv), "w") as out:
            s = out.add_stream_from_template(inp.streams.video[0])
            for k, packet in enumerate(p for p in inp.demux(video=0) if p.dts is not None):
                packet.stream = s
                packet.pts = packet.dts = k * step_ms
                packet.time_base = Fraction(1, 1000)
                out.mux(packet)
        return mkv

    # 20,000 s apart (under a day, however the decoder orders them): stepping 1/8 s across
    # would take 160,000 loop steps a gap. Stamped in decoding order, the B-frames come out
    # of the decoder going back 20,000 s: from there each frame takes its time slot in order
    # (the times are the file's nonsense; that every frame is sampled, in order, at once is
    # the point)
    times = [t for t, _ in sample_frames(jumping("jump.mkv", 20_000_000))]
    assert times[0] == 0.0 and len(times) == 5 and times == sorted(set(times))
    assert min(b - a for a, b in pairwise(times)) > 0.09  # a frame (10 fps) at least
    with pytest.raises(MediaError, match="corrupt timestamps"):  # 10^9 s apart: not a video
        list(sample_frames(jumping("leap.mkv", 10**12)))


def _clip_and_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A short clip, and an empty VIDPROV_HOME (no key, no anchors) to break things in."""
    clip = make_clip(tmp_path / "c.mp4", seconds=0.5, width=160, height=120, fps=10)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("VIDPROV_HOME", str(home))
    return clip, home


def test_a_broken_setup_stops_the_batch_instead_of_failing_each_clip(
    tmp_path: Path, toy_model: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vidprov.errors import KeyError_, ProvenanceError

    clip, home = _clip_and_home(tmp_path, monkeypatch)
    (home / "watermark.key").write_text("garbage\n")
    with pytest.raises(KeyError_, match="not a 256-bit key"):
        next(scan_many([clip], detector=toy_model))
    (home / "watermark.key").unlink()  # a missing key only skips the watermark
    anchors = tmp_path / "anchors.pem"
    anchors.write_text("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
    with pytest.raises(ProvenanceError, match="malformed PEM"):
        next(scan_many([clip], detector=toy_model, trust_anchors=anchors))
    (v,) = scan_many([clip], detector=toy_model)
    assert not isinstance(v, ScanFailure)


def test_a_broken_key_is_an_error_not_a_skipped_watermark(
    tmp_path: Path, toy_model: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vidprov.detector.scan import iter_inputs
    from vidprov.errors import KeyError_, WatermarkError

    clip, home = _clip_and_home(tmp_path, monkeypatch)
    # skipped, a marked clip would be decided by the classifier alone (and could read real)
    with pytest.raises(WatermarkError, match="256 bits"):
        scan_file(clip, detector=toy_model, key=b"x")
    with pytest.raises(WatermarkError, match="256 bits"):
        next(scan_many([clip], detector=toy_model, key=b"x"))
    (home / "watermark.key").write_text("garbage\n")
    with pytest.raises(KeyError_, match="not a 256-bit key"):
        scan_file(clip, detector=toy_model)
    (home / "watermark.key").unlink()  # missing: skipped, and the evidence says so
    v = scan_file(clip, detector=toy_model)
    assert "no watermark key" in v.evidence["watermark"]["note"]
    # one path is one path, not a list of its characters (the first of which is "/")
    assert list(iter_inputs(str(clip))) == list(iter_inputs(clip)) == [clip]
    assert [r.file for r in scan_many(str(clip), detector=toy_model)] == [str(clip)]


def test_a_folder_scan_takes_every_video_suffix_ffmpeg_reads(tmp_path: Path) -> None:
    from vidprov.detector.scan import iter_inputs

    for name in ("a.MP4", "b.gif", "c.y4m", "d.ts", "e.webm", "notes.txt", "f.jpg"):
        (tmp_path / name).write_bytes(b"x")
    # hidden files and folders are left out: macOS's ._a.MP4 metadata, a .git folder
    (tmp_path / "._a.MP4").write_bytes(b"x")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "g.mp4").write_bytes(b"x")
    found = sorted(p.name for p in iter_inputs([tmp_path]) if isinstance(p, Path))
    assert found == ["a.MP4", "b.gif", "c.y4m", "d.ts", "e.webm"]
    # named one by one, they are scanned like any file
    assert list(iter_inputs([tmp_path / "._a.MP4"])) == [tmp_path / "._a.MP4"]


def test_an_unusable_manifest_store_stops_a_batch_before_the_first_clip(
    tmp_path: Path, toy_model: Detector, keyed_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from vidprov.errors import ProvenanceError

    home = tmp_path / "home"
    shutil.copytree(keyed_home, home)
    (home / "manifests.sqlite").write_text("junk\n")
    monkeypatch.setenv("VIDPROV_HOME", str(home))
    clip = make_clip(tmp_path / "c.mp4", seconds=1.0, width=96, height=64, fps=12)
    scanned = []
    with pytest.raises(ProvenanceError, match="manifest store unusable"):
        scanned.extend(scan_many([clip, clip], detector=toy_model))
    assert scanned == []


def test_a_clip_that_breaks_something_unexpected_does_not_end_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vidprov.detector.scan as scan_mod

    clips = [make_clip(tmp_path / f"{n}.mp4", seconds=0.5, width=64, height=64) for n in "abc"]

    def scan_file(path: Path, **kwargs: object) -> str:
        if path.name == "b.mp4":
            raise AttributeError("'NoneType' object has no attribute 'name'")
        return path.name

    monkeypatch.setattr(scan_mod, "scan_file", scan_file)
    out = list(scan_mod.scan_many(clips, classifier=False, key=b"\0" * 32))
    assert out[0] == "a.mp4" and out[2] == "c.mp4"
    assert out[1].error == "scan_failed" and "AttributeError" in out[1].message


class _Halt(BaseException):
    pass


def test_progress_comes_as_each_pass_goes_and_what_it_raises_stops_both(
    toy_model: Detector, tmp_path: Path
) -> None:
    """Both passes report per frame, adding up to 2; what the callback raises stops the scan
    (the API cancels and stops jobs this way), the other pass at its next frame."""
    clip = write(tmp_path / "c.mp4", toy_frames("real", 72, seed=7))  # 3 s at 24 fps
    shares: list[float] = []
    scan_file(clip, detector=toy_model, key=b"\0" * 32, progress=shares.append)
    assert sum(shares) == pytest.approx(2.0) and len(shares) > 72  # it was 2 calls of 1
    calls: list[float] = []

    def halt(share: float) -> None:
        calls.append(share)
        if len(calls) >= 5:
            raise _Halt

    with pytest.raises(_Halt):
        scan_file(clip, detector=toy_model, key=b"\0" * 32, progress=halt)
    assert len(calls) <= 7  # the call that raised, and at most one more per pass
