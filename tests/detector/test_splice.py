"""The splice model: shot features, truth labels, training, its use in scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from vidprov.detector.data import ClipEntry, read_index
from vidprov.detector.models import Detector, Encoded
from vidprov.detector.splice import (
    SpliceModel,
    SpliceSample,
    build_samples,
    fit_splice,
    pick_insert,
    rr_threshold,
    shot_features,
    shots,
    splice_hosts,
)
from vidprov.detector.train import Windows, held_out_logits
from vidprov.errors import DetectorError

from .conftest import FPS, toy_frames, write
from .test_segments import hists


def encoded(n: int, cut_at: list[int], fps: float = 8.0) -> Encoded:
    t = np.arange(n) / fps
    return Encoded(t, np.zeros((n, 3), np.float32), hists(n, cut_at), n / fps)


def test_shots_and_their_features_by_hand() -> None:
    enc = encoded(16, [4])  # frames 0-3 and 4-15: the cut lies halfway between 0.375 and 0.5 s
    parts = shots(enc)
    assert [(s.lo, s.hi) for s in parts] == [(0, 4), (4, 16)]
    assert parts[0].start == 0.0 and parts[0].end == pytest.approx(0.4375)
    assert parts[1].end == pytest.approx(2.0)
    z = np.array([3.0] * 4 + [-1.0] * 12)
    f = shot_features(z, parts, enc.duration)
    # shot logit, rest logit, contrast, share of the clip, number of shots
    assert f[0] == pytest.approx([3.0, -1.0, 4.0, 0.4375 / 2.0, 2.0])
    assert f[1] == pytest.approx([-1.0, 3.0, -4.0, 1.5625 / 2.0, 2.0])
    one = shot_features(z, shots(encoded(16, [])), 2.0)
    # one shot: its mean logit (3 x4, -1 x12) is 0, and the rest is the shot itself
    assert one[0] == pytest.approx([0.0, 0.0, 0.0, 1.0, 1.0])


def test_contrast_features_by_hand() -> None:
    enc = encoded(16, [4])
    parts = shots(enc)
    z = np.array([3.0] * 4 + [-1.0] * 12)
    vectors = np.array([[1.0, 2.0]] * 4 + [[0.0, 5.0]] * 12)
    f = shot_features(z, parts, enc.duration, vectors)
    # the five logit features, then shot mean minus rest mean, then its absolute value
    assert f[0] == pytest.approx([3.0, -1.0, 4.0, 0.4375 / 2.0, 2.0, 1.0, -3.0, 1.0, 3.0])
    assert f[1][5:] == pytest.approx([-1.0, 3.0, 1.0, 3.0])
    one = shot_features(z, shots(encoded(16, [])), 2.0, vectors)
    assert one[0][5:] == pytest.approx([0.0, 0.0, 0.0, 0.0])


def test_labels_need_half_the_shot_inside_an_ai_insert() -> None:
    enc = encoded(32, [8, 20])  # shots ~0-0.94, ~0.94-2.44, ~2.44-4 s
    parts = shots(enc)
    ai = SpliceSample(enc, (1.0, 2.4), True, "h", "i")
    assert ai.labels(parts).tolist() == [0, 1, 0]
    camera = SpliceSample(enc, (1.0, 2.4), False, "h", "j")
    assert camera.labels(parts).tolist() == [0, 0, 0]
    late = SpliceSample(enc, (2.0, 3.0), True, "h", "i")  # 0.44 of 1.5 s and 0.56 of 1.56 s
    assert late.labels(parts).tolist() == [0, 0, 0]


def test_toy_model_carries_a_fitted_splice_model(toy_model: Detector) -> None:
    sp = toy_model.splice
    assert isinstance(sp, SpliceModel)
    assert 0.3 <= sp.threshold <= 0.95
    assert sp.report["samples"] >= 8 and 0 < sp.report["ai_samples"] < sp.report["samples"]
    # the forest's window features are contrasted shot against rest beside the logits
    assert sp.contrast
    assert sp.model.n_features_in_ == 5 + 2 * toy_model.model.n_features_in_


def test_a_logit_only_splice_model_still_scores_and_a_contrast_one_needs_vectors() -> None:
    enc = encoded(16, [4])
    z = np.array([3.0] * 4 + [-1.0] * 12)
    x = np.array([[0.0, 0, 0, 0.5, 2], [4, 0, 4, 0.5, 2], [-1, 0, -1, 0.5, 2], [5, 0, 5, 0.5, 2]])
    lr = LogisticRegression().fit(x, [0, 1, 0, 1])
    old = SpliceModel(make_pipeline(lr), 0.5, {})  # as saved before contrasts existed
    scored = old.score(z, enc)
    assert len(scored) == 2 and scored[0][1] > 0.5 > scored[1][1]
    with pytest.raises(DetectorError, match="frame vectors"):
        SpliceModel(make_pipeline(lr), 0.5, {}, contrast=True).score(z, enc)


def test_splice_segments_replace_shots_below_the_clip_threshold(
    toy_model: Detector, tmp_path: Path
) -> None:
    # two camera shots: the clip stays below the threshold and the splice model labels shots
    a, b = toy_frames("real", 48, seed=610), toy_frames("real", 48, seed=611)
    clip = write(tmp_path / "two_shots.mp4", a + [255 - f for f in b])  # a colour cut
    res = toy_model.score_file(clip)
    assert res.clip_score < toy_model.threshold
    assert len(res.segments) == 2 and {s.source for s in res.segments} == {"splice"}
    assert all(s.label == "real" for s in res.segments)


def test_fit_splice_needs_an_ai_insert(toy_model: Detector) -> None:
    enc = encoded(16, [8])
    camera = [SpliceSample(enc, (1.0, 2.0), False, f"h{i}", "i") for i in range(4)]
    with pytest.raises(DetectorError, match="both"):
        fit_splice(toy_model, camera, [np.zeros(16)] * 4)
    with pytest.raises(DetectorError, match="two or more shots"):
        fit_splice(
            toy_model, [SpliceSample(encoded(16, []), (1.0, 2.0), True, "h", "i")], [np.zeros(16)]
        )
    with pytest.raises(DetectorError, match="no splice"):
        fit_splice(toy_model, [])


def test_threshold_flags_at_most_the_allowed_share_and_no_lower_one_does() -> None:
    scores = np.arange(20) / 20.0  # 0.00 .. 0.95
    t = rr_threshold(scores, 0.1)  # 2 of 20 may be flagged: 0.90 and 0.95
    assert (scores >= t).sum() == 2 and (scores >= 0.85).sum() == 3
    assert 0.85 < t <= 0.9
    assert (scores >= rr_threshold(scores, 0.0)).sum() == 0
    assert rr_threshold(np.array([]), 0.1) == 0.5
    # every clip allowed: all flagged (the index wrapped round to the highest: none were)
    assert (scores >= rr_threshold(scores, 1.0)).sum() == 20


def test_held_out_logits_never_come_from_a_model_that_saw_the_sources(
    toy_model: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # eight clips in eight groups, four per class; each window's single feature is its clip id
    groups = [f"g{i}" for i in range(8)]
    encs = [encoded(8, []) for _ in range(8)]
    for i, e in enumerate(encs):
        e.x[:] = i
    entries = [type("E", (), {"group": g, "y": int(i >= 4)})() for i, g in enumerate(groups)]
    win = Windows(entries, np.arange(8), encs)  # type: ignore[arg-type]
    seen: list[set[str]] = []

    class Spy(type(toy_model)):  # type: ignore[misc]
        def fit_frames(self, clips: list[Encoded], y: np.ndarray, seed: int) -> None:
            self.saw = {groups[int(c.x[0, 0])] for c in clips}

        def raw_logits(self, enc: Encoded) -> np.ndarray:
            seen.append(self.saw)
            return np.zeros(len(enc.times))

    monkeypatch.setattr("vidprov.detector.train.create", lambda name, **cfg: Spy(name, cfg))
    samples = [
        SpliceSample(encoded(8, []), (0.0, 0.5), True, f"g{h}", f"g{i}")
        for h, i in [(0, 5), (1, 6), (2, 7), (3, 4)]
    ]
    held_out_logits(toy_model, win, np.arange(8), samples, seed=0, blocks=4)
    assert len(seen) == 4
    for s, saw in zip(samples, seen, strict=True):
        assert s.host not in saw and s.insert not in saw and saw


def test_splice_hosts_prefer_camera_clips_of_four_seconds(tmp_path: Path) -> None:
    def entry(name: str, label: str, n: int) -> ClipEntry:
        f = write(tmp_path / name, toy_frames(label, n, seed=n)) if n else tmp_path / name
        return ClipEntry(f, label, "", name, name)

    long_cam, short_cam = entry("long.mp4", "real", 5 * FPS), entry("short.mp4", "real", FPS)
    long_ai, missing = entry("ai.mp4", "ai", 5 * FPS), entry("gone.mp4", "real", 0)
    assert splice_hosts([long_cam, short_cam, long_ai, missing]) == [long_cam]
    # no camera clip is long enough: every camera clip, unreadable ones included
    assert splice_hosts([short_cam, long_ai, missing]) == [short_cam, missing]


def test_gif_palettes_in_splice_samples_can_be_turned_off(
    toy_data: Path, toy_model: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    palettes: list[bool] = []

    def spy(rgb: np.ndarray, dither: bool) -> np.ndarray:
        palettes.append(dither)
        return rgb

    monkeypatch.setattr("vidprov.detector.data.gif_roundtrip", spy)
    entries = read_index(toy_data)
    with_gif = build_samples(toy_model, entries, 4, seed=3, gif=True)
    assert palettes and not any(palettes)  # camera inserts always, some hosts; never dithered
    palettes.clear()
    without = build_samples(toy_model, entries, 4, seed=3, gif=False)
    assert palettes == []
    # the same clips are drawn either way
    assert [(s.interval, s.host, s.insert) for s in with_gif] == [
        (s.interval, s.host, s.insert) for s in without
    ]


def test_an_insert_never_comes_from_its_hosts_group() -> None:
    def entry(name: str, group: str) -> ClipEntry:
        return ClipEntry(Path(name), "real", "", group, group)

    a1, a2, b1, c1 = entry("a1", "a"), entry("a2", "a"), entry("b1", "b"), entry("c1", "c")
    rng = np.random.default_rng(0)
    drawn = {pick_insert(rng, a1, [a1, a2, b1, c1]) for _ in range(60)}
    assert drawn == {b1, c1}  # never a1 itself nor its near-duplicate a2
    assert pick_insert(rng, a1, [a1, a2]) is None


def test_out_of_fold_splice_models_never_train_on_a_camera_group_of_their_clips(
    toy_model: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 12 hosts; the first 6 get AI inserts, the rest camera pieces from other hosts' groups.
    # Each sample's logits are its own index, so a fitted row says which sample it came from.
    samples = [
        SpliceSample(encoded(16, [8]), (1.0, 2.0), i < 6, f"h{i}", "gen" if i < 6 else f"h{i % 6}")
        for i in range(12)
    ]
    logits = [np.full(16, float(i)) for i in range(12)]
    fits: list[tuple[set[int], set[int]]] = []

    class Spy:
        def fit(self, x: np.ndarray, y: np.ndarray) -> Spy:
            fits.append(({int(v) for v in x[:, 0]}, set()))
            return self

        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            fits[-1][1].update(int(v) for v in x[:, 0])
            return np.full((len(x), 2), 0.5)

    monkeypatch.setattr("vidprov.detector.splice._model", lambda contrast: Spy())
    report = fit_splice(toy_model, samples, logits, contrast=False).report

    def camera_groups(k: int) -> set[str]:
        s = samples[k]
        return {s.host} | (set() if s.ai else {s.insert})

    folds = fits[:-1]  # the last fit is the final model, on every sample
    assert folds and fits[-1][0] == set(range(12))
    for train_ids, test_ids in folds:
        held = set().union(*(camera_groups(k) for k in test_ids))
        assert train_ids and not held & set().union(*(camera_groups(k) for k in train_ids))
    assert 0.0 < report["oof_training_share"] < 1.0


def test_the_forest_computes_a_clips_window_features_once(toy_model: Detector) -> None:
    def enc(seed: int) -> Encoded:
        frames = toy_frames("real", 24, seed=seed)
        return toy_model.encode((i / 8, f) for i, f in enumerate(frames))

    a, b = enc(1), enc(2)
    va = toy_model.splice_vectors(a)
    assert toy_model.splice_vectors(a) is va  # the logits and the splice model share them
    vb = toy_model.splice_vectors(b)
    assert vb is not va and not np.array_equal(vb, va)
    again = toy_model.splice_vectors(a)  # recomputed for the earlier clip, same values
    assert again is not va and np.array_equal(again, va)


def test_a_splice_model_no_fold_could_train_is_an_error(toy_model: Detector) -> None:
    """Each host's camera pieces come from the other host's group, so holding a fold's camera
    groups out leaves nothing to train on: its threshold came from 0.5 placeholders, saved."""
    samples = [
        SpliceSample(encoded(16, [8]), (1.0, 2.0), False, "a", "b"),
        SpliceSample(encoded(16, [8]), (1.0, 2.0), False, "b", "a"),
        SpliceSample(encoded(16, [8]), (1.0, 2.0), True, "a", "gen"),
        SpliceSample(encoded(16, [8]), (1.0, 2.0), True, "b", "gen"),
    ]
    logits = [np.full(16, float(i)) for i in range(4)]
    with pytest.raises(DetectorError, match="no fold has shots of both kinds"):
        fit_splice(toy_model, samples, logits, contrast=False)
