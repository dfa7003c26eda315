"""Training smoke tests on a toy dataset, persistence with checksums, data splits."""

from __future__ import annotations

import csv
import json
import logging
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier

from vidprov.detector.data import (
    ClipEntry,
    NormaliseConfig,
    every_camera_fits,
    logo_folds,
    normalised_windows,
    read_index,
)
from vidprov.detector.models import create, list_models, load
from vidprov.detector.models.base import load_blob, sha256_file
from vidprov.detector.train import TrainConfig, evaluate, mixed_report, train
from vidprov.errors import DetectorError
from vidprov.media import iter_frames, probe

from .conftest import GENTLE, toy_frames, write


def test_registry_lists_and_creates() -> None:
    names = {m.name for m in list_models()}
    assert {"forensic-rf", "timm-resnet10t", "timm-cnn-cpu", "tiny-cnn"} <= names
    with pytest.raises(DetectorError, match="unknown detector model"):
        create("nope")


def test_every_registered_cnn_builds_and_scores_frames() -> None:
    frames = toy_frames("real", 3, seed=5)
    for spec in list_models():
        if spec.cls.kind != "timm-cnn":
            continue
        det = create(spec.name)
        enc = det.encode((i / 8, f) for i, f in enumerate(frames))
        with pytest.raises(DetectorError, match="not trained"):
            det.raw_logits(enc)
        det.init_net()  # initial weights: checks the architecture and input size
        crop = det.config["crop"]
        assert enc.x.shape == (3, 3, crop, crop), spec.name
        logits = det.raw_logits(enc)
        assert logits.shape == (3,) and np.isfinite(logits).all(), spec.name


def test_forensic_model_separates_toy_classes(toy_model_file: Path, tmp_path: Path) -> None:
    det = load(toy_model_file)
    assert Path(f"{toy_model_file}.sha256").read_text().split()[0]
    oof = det.meta["training"]["out_of_fold"]
    assert oof["auc"] > 0.9
    real = det.score_file(write(tmp_path / "r.mp4", toy_frames("real", 48, seed=999)))
    ai = det.score_file(write(tmp_path / "a.mp4", toy_frames("ai", 48, seed=998)))
    assert ai.clip_score > det.threshold > real.clip_score
    assert all(0.0 <= p <= 1.0 for p in ai.frame_scores)


def test_tiny_cnn_trains_saves_and_loads(toy_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "cnn.joblib"
    r = train(
        toy_data, out, TrainConfig(model="tiny-cnn", windows_per_clip=1, splice_clips=0, cv_folds=2)
    )
    det = load(out)
    assert det.kind == "timm-cnn" and 0.3 <= det.threshold <= 0.9
    res = det.score_file(toy_data / "ai" / "ai0.mp4")
    assert 0.0 <= res.clip_score <= 1.0 and r.sha256 in Path(f"{out}.sha256").read_text()


def test_flipped_byte_fails_checksum(toy_model_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.joblib"
    data = bytearray(toy_model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    (tmp_path / "bad.joblib.sha256").write_text(Path(f"{toy_model_file}.sha256").read_text())
    with pytest.raises(DetectorError, match="checksum"):
        load(bad)


def test_a_verdict_names_the_model_file_and_an_upper_case_checksum_reads(
    toy_model_file: Path, tmp_path: Path
) -> None:
    from vidprov.detector.models import DEFAULT_FILE, load_default

    m = tmp_path / "m.joblib"
    m.write_bytes(toy_model_file.read_bytes())
    digest = sha256_file(m)
    (tmp_path / "m.joblib.sha256").write_text(f"{digest.upper()}  m.joblib\r\n")  # PowerShell
    res = load(m).score_file(write(tmp_path / "c.mp4", toy_frames("real", 24, seed=3)))
    assert res.to_dict()["sha256"] == digest
    assert load_default().sha256 == sha256_file(DEFAULT_FILE)  # the shipped one: its own


def test_not_a_model_file(tmp_path: Path) -> None:
    f = tmp_path / "x.joblib"
    f.write_bytes(b"not a pickle")
    with pytest.raises(DetectorError, match="not a readable model"):
        load(f)
    with pytest.raises(DetectorError, match="no such model"):
        load(tmp_path / "missing.joblib")
    with pytest.raises(DetectorError, match="is a folder, not a model file"):
        load(tmp_path)


_DROP = object()  # the part left out of the file


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", _DROP),
        ("state", _DROP),
        ("threshold", _DROP),
        ("meta", [1, 2]),
        ("calib", (1.0,)),
        ("calib", (float("nan"), 0.0)),
        ("calib", (-1.0, 0.0)),
        ("threshold", float("nan")),
        ("threshold", 5.0),
        ("splice", {"x": 1}),
        ("state", {"model": None}),  # was "model 'x' is not trained", naming no file, at scan
    ],
)
def test_a_model_with_a_missing_or_bad_part_is_refused_when_loaded(
    toy_model_file: Path, tmp_path: Path, field: str, value: object
) -> None:
    import joblib

    blob = {k: v for k, v in load_blob(toy_model_file).items() if k != field}
    if value is not _DROP:
        blob[field] = value
    f = tmp_path / "bad.joblib"
    joblib.dump(blob, f, compress=3)
    with pytest.raises(DetectorError, match="not a complete vidprov detector model") as err:
        load(f)
    assert Path(str(err.value.path)) == f


class _Runs:
    """Unpickles as a call of ``fn(*args)``: what a booby-trapped model file would hold."""

    def __init__(self, fn: object, *args: object) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.fn, self.args


def test_a_model_file_that_would_run_code_is_refused_before_it_runs(tmp_path: Path) -> None:
    import os

    import joblib
    import numpy as np

    ran = tmp_path / "ran"
    traps = {
        "system": _Runs(os.system, f"touch {ran}"),
        "object array": np.array([_Runs(os.system, f"touch {ran}")], dtype=object),
        "memmap": _Runs(np.memmap, str(ran), "uint8", "w+", 0, (8,)),  # would create a file
        "eval": _Runs(eval, f"open({str(ran)!r}, 'w')"),
    }
    for what, trap in traps.items():
        f = tmp_path / "trap.joblib"
        joblib.dump({"format": 1, "kind": "forensic-rf", "trap": trap}, f, compress=3)
        (tmp_path / "trap.joblib.sha256").write_text(f"{sha256_file(f)}  trap.joblib\n")
        with pytest.raises(DetectorError, match="not a vidprov detector model: it asks for"):
            load(f)
        assert not ran.exists(), what


@pytest.mark.parametrize(
    ("sidecar", "match"),
    [(b"", "holds no SHA-256"), (b"\xff\xfe\x00", "unreadable"), (b"abc  m.joblib\n", "no SHA")],
)
def test_malformed_checksum_file_is_a_typed_error(
    toy_model_file: Path, tmp_path: Path, sidecar: bytes, match: str
) -> None:
    m = tmp_path / "m.joblib"
    m.write_bytes(toy_model_file.read_bytes())
    (tmp_path / "m.joblib.sha256").write_bytes(sidecar)
    with pytest.raises(DetectorError, match=match) as ei:
        load(m)
    assert "m.joblib.sha256" in str(ei.value)


def test_save_never_leaves_a_model_beside_another_models_checksum(
    toy_model_file: Path, tmp_path: Path
) -> None:
    from vidprov.errors import MediaError

    det = load(toy_model_file)
    m = tmp_path / "m.joblib"
    digest = det.save(m)
    assert Path(f"{m}.sha256").read_text().split() == [digest, "m.joblib"]
    before = m.read_bytes()
    Path(f"{m}.sha256").unlink()
    Path(f"{m}.sha256").mkdir()  # the checksum cannot be written: nothing may change
    det.threshold = 0.5
    with pytest.raises(MediaError, match="is a folder"):
        det.save(m)
    assert m.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.joblib", "m.joblib.sha256"]


def test_train_refuses_a_bad_output_or_config_before_any_work(
    toy_data: Path, tmp_path: Path
) -> None:
    from vidprov.errors import ConfigError, MediaError

    with pytest.raises(MediaError, match="is a folder, not a file"):
        train(toy_data, tmp_path, TrainConfig(splice_clips=0))
    with pytest.raises(MediaError, match="output folder does not exist"):
        train(toy_data, tmp_path / "no" / "m.joblib", TrainConfig(splice_clips=0))
    with pytest.raises(ConfigError, match="windows per clip"):
        TrainConfig(windows_per_clip=0)
    with pytest.raises(ConfigError, match="mixed clips"):
        evaluate(toy_data, tmp_path / "never-loaded.joblib", n_mixed=-1)


def test_unreadable_clips_are_skipped_and_reported(
    toy_data: Path, toy_model_file: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    rows = [["file", "label", "generator", "source_repo"], [str(bad), "ai", "g9", "r9"]]
    for kind in ("real", "ai"):
        for i in range(2):
            rows.append([str(toy_data / kind / f"{kind}{i}.mp4"), kind, f"g{i}", f"r{kind}{i}"])
    with open(tmp_path / "index.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    r = evaluate(tmp_path, toy_model_file, n_mixed=0, normalise=GENTLE)
    assert r.clips["n"] == 4 and len(r.clips["skipped"]) == 1
    assert "bad.mp4" in r.clips["skipped"][0] and "not a readable video" in r.clips["skipped"][0]
    # its generator had no other clip: listed as unread, not left out of the report
    assert r.per_generator["g9"] == {"n": 0, "note": "none of its clips could be read"}
    assert r.per_generator["g0"]["n"] == 3 and "note" not in r.per_generator["g0"]


def test_eval_reports_clip_and_mixed_metrics(toy_data: Path, toy_model_file: Path) -> None:
    r = evaluate(toy_data, toy_model_file, n_mixed=2, normalise=GENTLE).to_dict()
    assert r["clips"]["auc"] > 0.9
    assert set(r["per_generator"]) == {"toygen0", "toygen1"}
    assert r["mixed"]["n"] == 2 and 0.0 <= r["mixed"]["mean_tiou"] <= 1.0
    # camera pieces in camera hosts, scored the same way (any ai segment is a false splice)
    cc = r["camera_in_camera"]
    assert cc["n"] == 2 and cc["with_ai_segment"] in (0.0, 0.5, 1.0)
    assert "ap50" not in cc and "mean_tiou" not in cc  # nothing generated to find in them
    assert 0.0 <= cc["labelled_mixed"] <= cc["with_ai_segment"]  # false splices, either way
    assert r["mixed"]["labelled_mixed"] <= r["mixed"]["with_ai_segment"]


def test_camera_controls_never_splice_a_clip_into_its_own_group(
    toy_data: Path, toy_model_file: Path
) -> None:
    reals = [e for e in read_index(toy_data) if e.label == "real"]
    # every camera clip in one group: no pair may be spliced, so no control is made
    one = [ClipEntry(e.file, "real", "", "same", "same") for e in reals]
    # ... and the report says why, where `eval` left the line out
    none = mixed_report(load(toy_model_file), one, one, 3, 0)
    assert none == {"n": 0, "note": "none of the 3 could be made (see the warnings)"}
    assert "no insert clip" in mixed_report(load(toy_model_file), one, [], 3, 0)["note"]


def test_logo_folds_never_share_a_group(toy_data: Path) -> None:
    entries = read_index(toy_data)
    folds = logo_folds(entries)
    assert [f[0] for f in folds] == ["toygen0", "toygen1"]
    for _, tr, te in folds:
        assert not {entries[i].group for i in tr} & {entries[i].group for i in te}
        assert {entries[i].label for i in te} == {"ai", "real"}


def test_normalised_windows_hide_native_metadata(toy_data: Path, tmp_path: Path) -> None:
    cfg = NormaliseConfig()
    entry = read_index(toy_data)[0]
    outs = [tmp_path / f"w{k}.mp4" for k in range(4)]
    normalised_windows(entry, outs, np.random.default_rng(0), cfg)
    for p in outs:
        info = probe(p)
        assert (info.width, info.height) in cfg.sizes
        assert float(info.fps) in cfg.fps_choices
        assert abs(info.duration - cfg.seconds) < 0.1


def test_resolution_bottleneck_removes_the_fine_detail_of_a_large_source(
    toy_data: Path, tmp_path: Path
) -> None:
    """With the bottleneck a 240-line source's window passes through 80 lines and comes back
    smooth; without it (the default) the sensor-like noise stays."""
    entry = read_index(toy_data)[0]  # a noisy 'real' toy clip

    def detail(cfg: NormaliseConfig, name: str) -> float:
        p = normalised_windows(entry, [tmp_path / name], np.random.default_rng(0), cfg)[0]
        grey = [f.rgb.mean(axis=2) for f in iter_frames(p)]
        return float(np.mean([np.abs(np.diff(g, axis=1)).mean() for g in grey]))

    plain = detail(GENTLE, "plain.mp4")
    narrow = replace(GENTLE, bottleneck_share=1.0, bottleneck_lines=(80, 80))
    assert detail(narrow, "narrow.mp4") < 0.5 * plain
    wide = replace(GENTLE, bottleneck_share=1.0, bottleneck_lines=(480, 480))  # above the source
    assert detail(wide, "wide.mp4") == pytest.approx(plain, rel=0.1)


def test_window_bitrate_follows_the_draw_not_the_content(toy_data: Path, tmp_path: Path) -> None:
    """A noisy camera-like clip and a smooth one, given the same draws, come out at about the
    same bitrate by default; at a fixed CRF the smooth one is far smaller (the leak)."""
    entries = read_index(toy_data)
    real, ai = entries[0], next(e for e in entries if e.label == "ai")

    def ratios(cfg: NormaliseConfig) -> list[float]:
        out = []
        for seed in range(4):
            rates = []
            for e in (real, ai):
                p = tmp_path / f"{e.label}{seed}_{cfg.abr_share}.mp4"
                normalised_windows(e, [p], np.random.default_rng(seed), cfg)
                rates.append(probe(p).bit_rate or 0)
            out.append(rates[0] / rates[1])
        return out

    assert max(ratios(NormaliseConfig())) < 1.2
    assert max(ratios(NormaliseConfig(abr_share=0.0))) > 1.5


def test_bad_index_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match=r"no index\.csv"):
        read_index(tmp_path)
    with pytest.raises(DetectorError, match="no such dataset folder"):  # was "no index.csv"
        read_index(tmp_path / "nope")
    with open(tmp_path / "index.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(
            [["file", "label", "generator", "source_repo"], ["a.mp4", "x", "", "r"]]
        )
    with pytest.raises(DetectorError, match="label must be ai or real"):
        read_index(tmp_path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (b"", r"index\.csv is empty"),
        (b"\n \n", r"index\.csv is empty"),
        # blank lines before the header are skipped (it read as "empty"); lines still count
        (b"\n\nfile,label\na.mp4,ai\nb.mp4,ai\n", "line 5: missing clip b.mp4"),
        (b"label,generator\nai,g\n", r"needs a file column \(it has: label, generator\)"),
        (b"file,label\na.mp4\n", "line 2: label must be ai or real"),
        (b"label,file\nreal\n", "line 2: no file named"),
        (b"file,label,generator\na.mp4,ai,g\xe9n\n", "is not UTF-8 text"),
        # a quote left open read the rest of the file as one field: "label must be ai or real"
        (b'file,label\na.mp4,ai\n"b.mp4,real\nc.mp4,ai\n', "line 3: not valid CSV"),
        (b'file,label\na.mp4,ai\n"b.mp4"x,real\n', "line 3: not valid CSV"),
    ],
)
def test_malformed_index_names_the_dataset_and_the_problem(
    tmp_path: Path, text: bytes, match: str
) -> None:
    (tmp_path / "index.csv").write_bytes(text)
    (tmp_path / "a.mp4").write_bytes(b"x")  # a row before the problem that is fine
    with pytest.raises(DetectorError, match=match) as ei:
        read_index(tmp_path)
    assert str(tmp_path) in str(ei.value)


def test_index_written_by_a_spreadsheet_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "index.csv").write_bytes(b"\xef\xbb\xbffile,label\na.mp4,real\n")
    assert [(e.file.name, e.label) for e in read_index(tmp_path)] == [("a.mp4", "real")]


def test_index_headers_in_any_case_or_spacing_group_the_clips(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "real").mkdir()
    # "Generator" and " Source_Repo" were left out: every clip a group and generator "?"
    (tmp_path / "index.csv").write_bytes(
        b"File, Label, Generator, Source_Repo\na.mp4,ai,G1,r1\nb.mp4,ai,G1,r1\n"
        b",,,\n , ,,\nc.mp4,real,,r2\n"  # rows of empty cells, as a spreadsheet ends
    )
    got = [(e.file.name, e.generator, e.group) for e in read_index(tmp_path)]
    assert got == [("a.mp4", "G1", "ai:G1:r1"), ("b.mp4", "G1", "ai:G1:r1"),
                   ("c.mp4", "camera", "real:r2:c.mp4")]  # fmt: skip
    assert "no generator column" not in caplog.text and "no source_repo" not in caplog.text
    other = tmp_path / "bare"
    other.mkdir()
    (other / "a.mp4").write_bytes(b"x")
    (other / "index.csv").write_bytes(b"file,label\na.mp4,ai\n")
    read_index(other)
    assert "no generator column: every AI clip is generator '?'" in caplog.text
    assert "no source_repo (or source) column: each clip is a group of its own" in caplog.text
    (other / "index.csv").write_bytes(b"file,label\na.mp4,ai\nreal,real\n")
    (other / "real").mkdir()
    with pytest.raises(DetectorError, match="line 3: real is a folder, not a clip"):
        read_index(other)  # was "missing clip real"


def test_shipped_model_matches_its_card() -> None:
    from vidprov.detector.models import DEFAULT_FILE, default_card, load_default
    from vidprov.detector.models.base import sha256_file

    card = default_card()
    assert sha256_file(DEFAULT_FILE) == card["sha256"]
    det = load_default()
    assert det.name == card["model"] and det.threshold == pytest.approx(card["threshold"])
    assert card["evaluation"]["logo_mean_auc"] > 0.5


def test_forensic_model_saved_before_exclude_still_sees_every_feature(
    toy_data: Path, tmp_path: Path
) -> None:
    enc = create("forensic-rf").encode_file(toy_data / "ai" / "ai0.mp4")
    old = create("forensic-rf", exclude=[])
    old.fit_frames(
        [enc, create("forensic-rf").encode_file(toy_data / "real" / "real0.mp4")],
        np.array([1, 0]),
        0,
    )
    del old.config["exclude"]  # as saved before the setting existed
    old.save(tmp_path / "old.joblib")
    det = load(tmp_path / "old.joblib")
    assert det.used is None and det.config["exclude"] == []
    assert det.raw_logits(enc).shape == (len(enc.times),)


def test_model_from_another_feature_version_is_a_typed_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    old = create("forensic-rf", n_estimators=5)
    # a forest fitted on fewer window features than this version computes
    old.model = ExtraTreesClassifier(n_estimators=5, random_state=0).fit(
        rng.normal(size=(8, 20)), np.array([0, 1] * 4)
    )
    old.save(tmp_path / "old.joblib")
    with pytest.raises(DetectorError, match="trained on 20 window features") as err:
        load(tmp_path / "old.joblib")
    assert err.value.path == str(tmp_path / "old.joblib")


def test_forest_scores_are_its_vote_share_and_only_the_threshold_is_fitted() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 100)
    raw = rng.normal(0.0, 1.0, 200) + 1.5 * y
    det = create("forensic-rf")
    det.calibrate(raw, y)
    assert det.calib == (1.0, 0.0)
    p = 1.0 / (1.0 + np.exp(-raw))
    assert np.mean(p[y == 0] >= det.threshold) <= 0.02  # at most 2% real false alarms
    assert np.mean(p[y == 0] >= det.threshold - 0.01) > 0.0  # and no higher than needed
    platt = create("forensic-rf", calibration="platt")
    platt.calibrate(raw, y)
    assert platt.calib != (1.0, 0.0)
    with pytest.raises(DetectorError, match="unknown calibration 'isotonic'"):
        create("forensic-rf", calibration="isotonic").calibrate(raw, y)


def test_calibration_never_turns_the_classifier_upside_down() -> None:
    raw = np.linspace(-3.0, 3.0, 40)
    det = create("forensic-rf", calibration="platt")
    det.calibrate(raw, (raw > 0).astype(int))  # scores that rank the classes
    assert det.calib[0] > 1.0
    det.calibrate(raw, (raw < 0).astype(int))  # out-of-fold scores inverted: no usable map
    a, b = det.calib
    p = 1.0 / (1.0 + np.exp(-(a * raw + b)))
    assert a > 0 and np.all(np.diff(p) > 0)  # the classifier's order is kept
    assert abs(p.mean() - 0.5) < 0.01  # at the base rate
    assert 0.3 <= det.threshold <= 0.9


def test_every_camera_fits_score_each_clip_once_unseen(toy_data: Path) -> None:
    entries = read_index(toy_data)
    for fits in every_camera_fits(entries):
        cams = [i for f in fits for i in f.camera]
        assert sorted(cams) == [i for i, e in enumerate(entries) if e.label == "real"]
        for f in fits:
            scored = {entries[i].group for i in f.ai + f.camera}
            assert not scored & {entries[i].group for i in f.train}
            assert all(entries[i].generator != f.generator for i in f.train)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vidprov.cli.main", *args], capture_output=True, text=True
    )


def test_detector_train_and_eval_from_the_command_line(toy_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.joblib"
    p = _cli(
        "detector", "train", "--data", str(toy_data), "--out", str(out), "--windows", "1",
        "--splice-clips", "8", "--splice-false-rate", "0.3", "--no-splice-gif", "--json",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert out.is_file() and r["sha256"] and 0.0 < r["threshold"] < 1.0
    assert r["report"]["splice"]["target_camera_in_camera_flagged"] == 0.3
    p = _cli("detector", "eval", "--data", str(toy_data), "--model", str(out), "--mixed", "1")
    assert p.returncode == 0, p.stderr
    assert " scored): AUC" in p.stdout and "camera-in-camera controls (1)" in p.stdout
    assert "calibration: Brier 0." in p.stdout
    assert "  toygen0 against every camera clip (" in p.stdout and "accuracy 0." in p.stdout
    assert "scored on one normalised window" in p.stdout
    # bad input: one line on stderr, exit code 2
    p = _cli("detector", "train", "--data", str(tmp_path), "--out", str(out), "--json")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert str(tmp_path) in p.stderr and "index.csv" in p.stderr
    p = _cli(
        "detector", "train", "--data", str(toy_data), "--out", str(out), "--splice-false-rate", "2"
    )
    assert p.returncode == 2


def test_index_errors_name_the_physical_line_and_duplicates(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "b.mp4").write_bytes(b"x")
    (tmp_path / "index.csv").write_text("file,label\na.mp4,real\n\nb.mp4,fake\n")
    with pytest.raises(DetectorError, match="line 4: label must be"):
        read_index(tmp_path)
    (tmp_path / "index.csv").write_text("file,label\na.mp4,real\nb.mp4,ai\n./a.mp4,real\n")
    with caplog.at_level(logging.WARNING):
        entries = read_index(tmp_path)  # a clip listed twice is counted once
    assert [e.file.name for e in entries] == ["a.mp4", "b.mp4"]
    assert "line 4: ./a.mp4 is already listed on line 2" in caplog.text
    (tmp_path / "index.csv").write_text("file,label\na.mp4,real\nb.mp4,ai\n./a.mp4,ai\n")
    with pytest.raises(DetectorError, match=r"line 4: \./a\.mp4 is listed as real on line 2, here"):
        read_index(tmp_path)


def test_labels_ignore_case_and_a_bad_one_is_shown(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "b.mp4").write_bytes(b"x")
    (tmp_path / "index.csv").write_text("file,label\n a.mp4 ,Real\nb.mp4,AI\n")
    assert [(e.file.name, e.label) for e in read_index(tmp_path)] == [
        ("a.mp4", "real"),
        ("b.mp4", "ai"),
    ]
    (tmp_path / "index.csv").write_text("file,label\na.mp4,fake\n")
    with pytest.raises(DetectorError, match="line 2: label must be ai or real, not 'fake'"):
        read_index(tmp_path)


def test_clips_with_no_source_are_groups_of_their_own(tmp_path: Path) -> None:
    for n in ("a", "b", "c", "d"):
        (tmp_path / f"{n}.mp4").write_bytes(b"x")
    (tmp_path / "index.csv").write_text("file,label\na.mp4,real\nb.mp4,real\nc.mp4,ai\nd.mp4,ai\n")
    assert len({e.group for e in read_index(tmp_path)}) == 4
    (tmp_path / "index.csv").write_text(
        "file,label,generator,source_repo\na.mp4,real,,r1\nb.mp4,real,,r2\n"
        "c.mp4,ai,g,same\nd.mp4,ai,g,same\n"
    )
    assert len({e.group for e in read_index(tmp_path) if e.label == "ai"}) == 1


def test_train_refuses_one_source_and_its_own_files_before_any_work(
    toy_data: Path, tmp_path: Path
) -> None:
    rows = list(csv.reader((toy_data / "index.csv").open()))
    for r in rows[1:]:
        r[0] = str(toy_data / r[0])
        if r[1] == "ai":
            r[2], r[3] = "one-gen", "one-repo"  # every AI clip from one source
    with (tmp_path / "index.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(DetectorError, match="needs ai clips from two sources or more") as err:
        train(tmp_path, tmp_path / "m.joblib", TrainConfig(splice_clips=0))
    assert Path(str(err.value.path)) == tmp_path
    for own in (toy_data / "index.csv", toy_data / "ai" / "ai0.mp4"):
        before = own.read_bytes()
        with pytest.raises(DetectorError, match="would overwrite a file of the dataset"):
            train(toy_data, own, TrainConfig(splice_clips=0))
        assert own.read_bytes() == before


def test_mixed_clips_are_drawn_only_from_clips_that_were_read(tmp_path: Path) -> None:
    from vidprov.detector.train import Windows

    entries = [ClipEntry(tmp_path / f"{n}.mp4", "real", "camera", n, n) for n in "abc"]
    win = Windows(entries, np.array([2, 0, 0]), [], ("b.mp4: not a video",))  # type: ignore[arg-type]
    assert win.readable == [entries[0], entries[2]]


def test_dataset_paths_and_index_headers_that_cannot_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "index.csv").write_text("\n\n")
    with pytest.raises(DetectorError, match=r"index\.csv is empty"):
        read_index(tmp_path)
    (tmp_path / "index.csv").write_text("file,label,label\na.mp4,real,ai\n")
    with pytest.raises(DetectorError, match="has two 'label' columns"):
        read_index(tmp_path)
    with pytest.raises(DetectorError, match="is a file: give the folder") as err:
        read_index(tmp_path / "index.csv")
    assert Path(str(err.value.path)) == tmp_path / "index.csv"
    monkeypatch.setenv("VIDPROV_DATA", "  ")
    with pytest.raises(DetectorError, match="no dataset: pass --data DIR"):
        read_index(None)


def test_no_readable_clip_names_the_dataset(tmp_path: Path) -> None:
    rows = ["file,label"]
    for i in range(4):
        (tmp_path / f"c{i}.mp4").write_bytes(b"not a video")
        rows.append(f"c{i}.mp4,{'ai' if i % 2 else 'real'}")
    (tmp_path / "index.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DetectorError, match="none of the 4 clips listed could be read") as err:
        train(tmp_path, tmp_path / "m.joblib", TrainConfig(splice_clips=0))
    assert Path(str(err.value.path)) == tmp_path
