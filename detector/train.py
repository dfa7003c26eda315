"""Training and evaluation over a clip dataset (``index.csv`` + clips).

``train``: normalised, augmented windows of every clip → model inputs → out-of-fold raw scores
(folds by group) for the calibration (Platt, or none for a forest's vote share) and the default
threshold → final fit on all windows
→ the splice model (:mod:`vidprov.detector.splice`) on synthesised mixed clips, scored by
classifiers that did not see their sources.
``evaluate``: one fixed-seed normalised window per clip (clip metrics overall and per generator)
plus synthesised mixed clips (segment AP at tIoU 0.5/0.75 and mean tIoU).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from vidprov.atomic import check_writable
from vidprov.detector.data import (
    ClipEntry,
    NormaliseConfig,
    data_dir,
    normalised_windows,
    read_index,
)
from vidprov.detector.metrics import clip_metrics, segment_ap, union_tiou
from vidprov.detector.models import Detector, Encoded, create, load
from vidprov.detector.splice import (
    SpliceSample,
    build_samples,
    draw_mixed,
    fit_splice,
    splice_hosts,
)
from vidprov.errors import ConfigError, DetectorError, MediaError
from vidprov.fields import check_field_types

log = logging.getLogger(__name__)

Progress = Callable[[int], None] | None


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; ``overrides`` go to the model's config."""

    model: str = "forensic-rf"
    windows_per_clip: int = 3
    splice_clips: int = 200  # synthesised clips for the splice model (0: none)
    # out-of-fold share of camera-in-camera clips the splice threshold may flag (false splices)
    splice_false_rate: float = 0.1
    # camera pieces of splice clips through a GIF palette, as the shared data's AI clips were
    splice_gif: bool = True
    cv_folds: int = 5
    seed: int = 0
    normalise: NormaliseConfig = field(default_factory=NormaliseConfig)
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_field_types(self, ConfigError)
        if self.windows_per_clip < 1:
            raise ConfigError(f"windows per clip must be at least 1, not {self.windows_per_clip}")
        if self.splice_clips < 0:
            raise ConfigError(f"splice clips must be 0 or more, not {self.splice_clips}")
        if not 0.0 <= self.splice_false_rate <= 1.0:
            raise ConfigError(f"splice false rate must be in 0..1, not {self.splice_false_rate}")
        if self.cv_folds < 2:
            raise ConfigError(f"cross-validation needs at least 2 folds, not {self.cv_folds}")


@dataclass(frozen=True)
class Windows:
    """Encoded training windows: ``owner[i]`` is the entry index of ``encoded[i]``."""

    entries: list[ClipEntry]
    owner: np.ndarray
    encoded: list[Encoded]
    skipped: tuple[str, ...] = ()  # "file: problem" for each clip that could not be read

    @property
    def y(self) -> np.ndarray:
        return np.array([self.entries[i].y for i in self.owner])

    @property
    def groups(self) -> np.ndarray:
        return np.array([self.entries[i].group for i in self.owner])

    @property
    def readable(self) -> list[ClipEntry]:
        """The entries that gave at least one window, in index order."""
        return [self.entries[i] for i in sorted(set(self.owner.tolist()))]

    def of(self, clips: Iterable[int]) -> np.ndarray:
        """Indices (ascending) of the windows drawn from entries ``clips``."""
        return np.flatnonzero(np.isin(self.owner, list(clips)))


def build_windows(
    entries: list[ClipEntry],
    det: Detector,
    per_clip: int,
    seed: int,
    cfg: NormaliseConfig | None = None,
    progress: Progress = None,
) -> Windows:
    """Normalise ``per_clip`` windows of each clip (temp files, deleted) and encode them.

    Raises:
        DetectorError: no clip could be read.
    """
    rng = np.random.default_rng(seed)
    owner, encoded, skipped = [], [], []
    with tempfile.TemporaryDirectory(prefix="vidprov-train-") as tmp:
        for i, e in enumerate(entries):
            outs = [Path(tmp) / f"{i}_{k}.mp4" for k in range(per_clip)]
            try:
                normalised_windows(e, outs, rng, cfg)
                for p in outs:
                    encoded.append(det.encode_file(p))
                    owner.append(i)
                    p.unlink()
            except MediaError as exc:
                reason = str(exc) if exc.path else f"{e.file}: {exc}"
                log.warning("skipping %s", reason)
                skipped.append(reason)
            if progress:
                progress(1)
    if not encoded:
        raise DetectorError(f"none of the {len(entries)} clips listed could be read")
    return Windows(entries, np.asarray(owner), encoded, tuple(skipped))


def out_of_fold_raw(
    det: Detector, win: Windows, idx: np.ndarray, folds: int, seed: int
) -> tuple[np.ndarray, int]:
    """Out-of-fold raw clip scores of windows ``idx`` (GroupKFold, ``folds`` at most, fewer if
    there are fewer groups), and the number of folds; leaves ``det`` fitted on the last fold.

    Raises:
        DetectorError: a training fold holds only one class.
    """
    y, groups = win.y[idx], win.groups[idx]
    n_groups = len(set(groups.tolist()))
    k = max(2, min(folds, n_groups))
    raw = np.zeros(len(idx))
    for tr, te in GroupKFold(n_splits=k).split(idx, y, groups):
        if len(set(y[tr].tolist())) < 2:
            raise DetectorError("a training fold holds only one class: add clips of both labels")
        det.fit_frames([win.encoded[j] for j in idx[tr]], y[tr], seed)
        raw[te] = [det.clip_raw(win.encoded[j]) for j in idx[te]]
    return raw, k


def fit(det: Detector, win: Windows, idx: np.ndarray, folds: int, seed: int) -> dict[str, Any]:
    """Fit ``det`` on windows ``idx``: out-of-fold raw scores (:func:`out_of_fold_raw`)
    calibrate it, then the final model is fitted on all of them. Returns out-of-fold metrics."""
    y = win.y[idx]
    raw, k = out_of_fold_raw(det, win, idx, folds, seed)
    det.fit_frames([win.encoded[j] for j in idx], y, seed)
    det.calibrate(raw, y)
    a, b = det.calib
    oof = 1.0 / (1.0 + np.exp(-(a * raw + b)))
    return {"out_of_fold": clip_metrics(y, oof, det.threshold), "folds": k}


def held_out_logits(
    det: Detector,
    win: Windows,
    idx: np.ndarray,
    samples: list[SpliceSample],
    seed: int,
    blocks: int = 4,
) -> list[np.ndarray]:
    """Per-frame raw logits for each splice sample from a copy of ``det`` fitted on windows
    ``idx`` without the sample's host and insert groups: the groups of each class are dealt
    into ``blocks`` and each sample is scored by a model that never saw the blocks of either
    of its sources (for an AI insert, with the shared data's grouping: never saw its generator),
    so the splice model learns from scores like those of clips the classifier has not seen.
    Where the remaining windows hold one class only, ``det`` itself scores (logged)."""
    groups, ys = win.groups[idx], win.y[idx]
    rng = np.random.default_rng(seed)
    block: dict[str, int] = {}
    for label in (0, 1):  # each class dealt on its own, so every block holds both when it can
        order = rng.permutation(sorted(set(groups[ys == label].tolist())))
        block.update({g: k % blocks for k, g in enumerate(order)})
    models: dict[frozenset[int], Detector] = {}
    out = []
    fallback = 0
    for s in samples:
        skip = frozenset({block.get(s.host, -1), block.get(s.insert, -1)})
        if skip not in models:
            keep = idx[np.array([block[g] not in skip for g in groups])]
            m = det
            if len(set(win.y[keep].tolist())) == 2:
                m = create(det.name, **det.config)
                m.fit_frames([win.encoded[j] for j in keep], win.y[keep], seed)
            models[skip] = m
        fallback += models[skip] is det
        out.append(models[skip].raw_logits(s.enc))
    if fallback:
        log.warning("%d splice samples scored by a classifier that saw their sources", fallback)
    return out


@dataclass(frozen=True)
class TrainResult:
    """A trained, saved model and its report."""

    path: str
    sha256: str
    model: str
    threshold: float
    report: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_inputs(entries: list[ClipEntry], root: Path, out: str | Path, what: str = "") -> None:
    """Refuse an output that is one of the dataset's own files, and a dataset that cannot be
    cross-validated: each label needs clips from two groups or more.

    Raises:
        DetectorError: as above.
    """
    target = Path(out).resolve()
    if target == (root / "index.csv").resolve() or target in {e.file.resolve() for e in entries}:
        raise DetectorError("the model would overwrite a file of the dataset it trains on", out)
    for label in ("ai", "real"):
        groups = {e.group for e in entries if e.label == label}
        if len(groups) < 2:
            raise DetectorError(
                f"training needs {what}{label} clips from two sources or more, to hold one out "
                f"(found {len(groups)}); clips of one generator and source_repo (ai), or of one "
                "source_repo and source_path folder (real), are one source",
                root,
            )


def train(
    data: str | Path | None,
    out: str | Path,
    config: TrainConfig | None = None,
    progress: Progress = None,
) -> TrainResult:
    """Train a registered model on a dataset folder and save it (atomically, with checksum).

    Raises:
        DetectorError: no dataset, unknown model, too few clips or sources of either label, an
            output that is a file of the dataset.
        MediaError: the output (or its ``.sha256``) cannot be written: checked before training.
    """
    cfg = config or TrainConfig()
    for target in (out, f"{out}.sha256"):  # fail now, not after the training
        check_writable(target)
    entries = read_index(data)
    root = data_dir(data)
    _check_inputs(entries, root, out)
    det = create(cfg.model, **cfg.overrides)
    try:  # errors about the data as a whole name the dataset
        win = build_windows(entries, det, cfg.windows_per_clip, cfg.seed, cfg.normalise, progress)
        _check_inputs(win.readable, root, out, "readable ")
        report = fit(det, win, np.arange(len(win.encoded)), cfg.cv_folds, cfg.seed)
    except DetectorError as exc:
        raise DetectorError(exc.message, exc.path or root) from exc
    auc = report["out_of_fold"].get("auc")
    if auc is not None and auc < 0.5:  # saved all the same: the user decides
        log.warning(
            "%s: out-of-fold AUC %.3f is below chance: too few clips or sources to learn from",
            root,
            auc,
        )
    if cfg.splice_clips > 0:
        samples = build_samples(
            det, win.readable, cfg.splice_clips, cfg.seed, progress, cfg.splice_gif
        )
        idx = np.arange(len(win.encoded))
        logits = held_out_logits(det, win, idx, samples, cfg.seed)
        try:
            det.splice = fit_splice(det, samples, logits, rr_fpr=cfg.splice_false_rate)
        except DetectorError as exc:
            raise DetectorError(
                f"no splice model: {exc.message} (add clips or --splice-clips, or pass "
                "--splice-clips 0)",
                root,
            ) from exc
        report["splice"] = det.splice.report
    report["clips"] = len(win.readable)  # trained on: not those skipped as unreadable
    report["skipped"] = list(win.skipped)
    report["windows"] = len(win.encoded)
    report["config"] = {**asdict(cfg), "model_config": det.config}
    det.meta = {"training": report}
    digest = det.save(out)
    log.info("saved %s (%s)", out, digest)
    return TrainResult(str(out), digest, det.name, det.threshold, report)


@dataclass(frozen=True)
class EvalReport:
    """``detector eval`` output: clip metrics (overall, per generator), mixed-clip metrics and
    the camera-in-camera controls (camera pieces spliced into camera hosts: any ``ai`` segment
    there is a false splice)."""

    model: str
    threshold: float
    clips: dict[str, Any]
    per_generator: dict[str, Any]
    mixed: dict[str, Any]
    camera_in_camera: dict[str, Any]
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clip_report(
    entries: list[ClipEntry], owner: np.ndarray, scores: np.ndarray, threshold: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Overall and per-generator (that generator's AI clips vs all real clips) metrics."""
    y = np.array([entries[i].y for i in owner])
    overall = clip_metrics(y, scores, threshold)
    per: dict[str, Any] = {}
    real = y == 0
    scored = {entries[i].generator for i in owner if entries[i].y == 1}
    for gen in sorted(scored | {e.generator for e in entries if e.y == 1}):
        if gen not in scored:  # listed, and no clip of it could be read: said, not left out
            per[gen] = {"n": 0, "note": "none of its clips could be read"}
            continue
        sel = real | np.array([entries[i].generator == gen for i in owner])
        per[gen] = clip_metrics(y[sel], scores[sel], threshold)
    return overall, per


def mixed_report(
    det: Detector,
    hosts: list[ClipEntry],
    inserts: list[ClipEntry],
    n: int,
    seed: int,
    progress: Progress = None,
    detail: bool = False,
) -> dict[str, Any]:
    """Splice a piece of one of ``inserts`` into one of ``hosts`` ``n`` times and score the
    clips; an insert never comes from its host's group (:func:`splice.draw_mixed`).

    ``ap50``/``ap75``: every segment the model outputs is a detection scored by its P(ai),
    correct at tIoU ≥ 0.5/0.75 with the spliced interval. ``mean_tiou``: tIoU between the
    segments labelled ``ai`` at the model's threshold and the truth (0 when none is).
    ``mean_tiou_top_segment``: the same for the single highest-scored segment (localisation
    once a clip is known to be mixed). ``labelled_mixed``: share of clips with both labels.
    ``with_ai_segment``: share of clips with any segment labelled ``ai`` (for camera inserts,
    the false-splice rate).
    With ``detail``, ``clips`` lists each clip's truth and its segments as
    ``(start, end, score, label, source)``.
    """
    if n <= 0:
        return {"n": 0}
    if not hosts or not inserts:
        return {"n": 0, "note": f"none made: no {'camera host' if not hosts else 'insert'} clip"}
    rng = np.random.default_rng(seed)
    truths, dets, ious, top_ious, labels, clips, any_ai = [], [], [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="vidprov-mixed-") as tmp:
        for k in range(n):
            try:
                mc = draw_mixed(rng, hosts, inserts, Path(tmp) / f"m{k}.mp4")
            except (DetectorError, MediaError) as exc:
                log.warning("mixed clip %d skipped: %s", k, exc)
                if progress:
                    progress(1)
                continue
            res = det.score_file(mc.path)
            ci = len(truths)
            truths.append(mc.interval)
            # every segment is a scored detection (AP ranks them; no threshold involved)
            dets += [(ci, s.start, s.end, s.score) for s in res.segments]
            segs = [(s.start, s.end, s.score, s.label, s.source) for s in res.segments]
            clips.append({"truth": mc.interval, "segments": segs})
            ai = [s for s in res.segments if s.label == "ai"]
            any_ai.append(bool(ai))
            ious.append(union_tiou([(s.start, s.end) for s in ai], mc.interval))
            top = max(res.segments, key=lambda s: s.score)
            top_ious.append(union_tiou([(top.start, top.end)], mc.interval))
            labels.append(
                "mixed" if ai and any(s.label == "real" for s in res.segments) else "other"
            )
            mc.path.unlink()
            if progress:
                progress(1)
    out: dict[str, Any] = {"n": 0, "note": f"none of the {n} could be made (see the warnings)"}
    if truths:  # else every draw failed (each is named in a warning)
        out = {
            "n": len(truths),
            "ap50": segment_ap(dets, truths, 0.5),
            "ap75": segment_ap(dets, truths, 0.75),
            "mean_tiou": float(np.mean(ious)),
            "mean_tiou_top_segment": float(np.mean(top_ious)),
            "labelled_mixed": float(np.mean([lab == "mixed" for lab in labels])),
            "with_ai_segment": float(np.mean(any_ai)),
        }
    if detail:
        out["clips"] = clips
    return out


def evaluate(
    data: str | Path | None,
    model: str | Path | Detector,
    seed: int = 1234,
    n_mixed: int = 24,
    progress: Progress = None,
    normalise: NormaliseConfig | None = None,
) -> EvalReport:
    """Evaluate a model on a dataset: one normalised window per clip, plus ``n_mixed`` mixed
    clips (AI pieces in camera hosts) and as many camera-in-camera controls (reported by their
    share with an ``ai`` segment: false splices).

    Raises:
        DetectorError: no dataset, unreadable model.
        ConfigError: ``n_mixed`` is negative.
    """
    if n_mixed < 0:
        raise ConfigError(f"the number of mixed clips must be 0 or more, not {n_mixed}")
    det = model if isinstance(model, Detector) else load(model)
    entries = read_index(data)
    try:
        win = build_windows(entries, det, 1, seed, normalise, progress)
    except DetectorError as exc:
        raise DetectorError(exc.message, exc.path or data_dir(data)) from exc
    scores = np.array([det.result(e).clip_score for e in win.encoded])
    overall, per = clip_report(entries, win.owner, scores, det.threshold)
    overall["skipped"] = list(win.skipped)
    readable = win.readable  # mixed clips are not drawn from clips already found unreadable
    hosts = splice_hosts(readable)
    inserts = [e for e in readable if e.label == "ai"]
    mixed = mixed_report(det, hosts, inserts, n_mixed, seed, progress)
    control = mixed_report(det, hosts, hosts, n_mixed, seed + 1, progress)
    # there is no generated piece to find in a control: its AP and tIoU measured nothing
    unmeasured = ("ap50", "ap75", "mean_tiou", "mean_tiou_top_segment")
    control = {k: v for k, v in control.items() if k not in unmeasured}
    trained_on = det.meta.get("training", {}).get("clips")
    note = (
        "each clip is scored on one normalised window (2 s at a drawn size, crop, frame rate "
        "and re-encode, so that size, rate and bitrate cannot give the label away), not whole "
        "as `scan` reads it; in-sample unless this dataset is disjoint from the model's "
        f"training data (model trained on {trained_on} clips); the shipped model's held-out "
        'figures: "evaluation" in its card, vidprov/detector/default/model.json'
    )
    return EvalReport(det.name, det.threshold, overall, per, mixed, control, note)
