"""Splice localisation: which shot of a multi-shot clip is a synthetic insert.

The frame classifier alone judges each shot on an absolute scale, and a 1-4 s insert rarely
crosses the clip threshold. A splice model judges each shot against the rest of its clip, which
went through the same resize and encode. It is a logistic regression on five numbers per shot
(:data:`FEATURES`): the shot's mean raw logit from the frame classifier, the rest of the clip's
mean, their difference, the shot's share of the clip and the number of shots; and, where the
classifier describes frames with features of its own (:meth:`Detector.splice_vectors`; the
forensic forest's window features), the difference between the shot's mean of each and the
rest's, signed and absolute, strongly regularised (:data:`CONTRAST_C`). The shot's whole
forensic description against its host's says far more than the forest's one logit: on the
benchmark's folds it about doubled the share of AI inserts found at the same rate of false
splices (docs/detector.md).

It is trained on clips synthesised with :func:`vidprov.detector.data.make_mixed`: AI pieces in
camera hosts (the insert is positive), and camera pieces in camera hosts (all negative: a shot
change alone is not a splice). Every AI clip of the shared data passed through a GIF, so every
camera insert is put through a GIF palette too, and 30% of the hosts of both kinds: whether a
piece carries a palette says nothing about its label. The labelling threshold keeps the
out-of-fold share of camera-in-camera clips with an ``ai`` shot at ``rr_fpr``.

Clips with one shot are left to the frame classifier's own segments.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from vidprov.detector.data import ClipEntry, MixedClip, make_mixed
from vidprov.detector.segments import cuts, span
from vidprov.errors import DetectorError, MediaError
from vidprov.media import probe

if TYPE_CHECKING:
    from vidprov.detector.models.base import Detector, Encoded

log = logging.getLogger(__name__)

FEATURES = ("shot_logit", "rest_logit", "contrast", "share", "shots")
AI_SHARE = 0.6  # synthesised clips with an AI insert; the rest are camera-in-camera
GIF_HOST = 0.3  # clips (of both kinds) whose camera host goes through a GIF palette
LOGIT_C = 1.0  # regularisation of a model on the five logit features alone
CONTRAST_C = 0.01  # ... and of one with hundreds of feature contrasts beside them
MIN_HOST_SECONDS = 4.0


@dataclass(frozen=True)
class Shot:
    """Sampled frames ``lo:hi`` of a clip, spanning ``start``..``end`` seconds."""

    lo: int
    hi: int
    start: float
    end: float


def shots(enc: Encoded) -> list[Shot]:
    """The clip's shots (colour-histogram cuts between sampled frames)."""
    bounds = [0, *cuts(enc.hists), len(enc.times)]
    return [
        Shot(lo, hi, *span(enc.times, lo, hi, enc.duration))
        for lo, hi in itertools.pairwise(bounds)
    ]


def shot_features(
    z: np.ndarray, parts: list[Shot], duration: float, vectors: np.ndarray | None = None
) -> np.ndarray:
    """One row per shot: :data:`FEATURES` from per-frame raw logits ``z``, then, given
    per-frame ``vectors`` (one row per sampled frame), the shot's mean vector minus the rest's
    and the absolute value of that difference (zero for a clip of one shot)."""
    rows = []
    for s in parts:
        inside = np.zeros(len(z), dtype=bool)
        inside[s.lo : s.hi] = True
        zs = float(z[inside].mean())
        zr = float(z[~inside].mean()) if (~inside).any() else zs
        share = (s.end - s.start) / max(duration, 1e-6)
        row = [zs, zr, zs - zr, share, float(len(parts))]
        if vectors is not None:
            vs = vectors[inside].mean(axis=0)
            d = vs - (vectors[~inside].mean(axis=0) if (~inside).any() else vs)
            row += [*d, *np.abs(d)]
        rows.append(row)
    return np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True)
class SpliceSample:
    """An encoded synthesised clip and its truth: the inserted interval, ``ai`` if the insert
    is synthetic. ``host``/``insert``: the source clips' groups (for splits)."""

    enc: Encoded
    interval: tuple[float, float]
    ai: bool
    host: str
    insert: str

    def labels(self, parts: list[Shot]) -> np.ndarray:
        """1 for shots (of positive length) at least half inside an AI insert."""
        a, b = self.interval
        out = [
            int(
                self.ai
                and s.end > s.start
                and max(0.0, min(s.end, b) - max(s.start, a)) >= 0.5 * (s.end - s.start)
            )
            for s in parts
        ]
        return np.asarray(out)


def _seconds(e: ClipEntry) -> float:
    try:
        return probe(e.file).duration
    except MediaError as exc:
        log.warning("splice host skipped: %s", exc)
        return 0.0


def splice_hosts(entries: list[ClipEntry]) -> list[ClipEntry]:
    """The camera clips of ``entries`` that last :data:`MIN_HOST_SECONDS` or more (unreadable
    ones skipped, logged), or all the camera clips when none does: short hosts are looped back
    and forth to 4 s by ``make_mixed``, longer ones preferred."""
    reals = [e for e in entries if e.label == "real"]
    return [e for e in reals if _seconds(e) >= MIN_HOST_SECONDS] or reals


def pick_insert(
    rng: np.random.Generator, host: ClipEntry, inserts: list[ClipEntry]
) -> ClipEntry | None:
    """An insert for ``host`` drawn from ``inserts`` outside the host's own group (a clip
    spliced into itself or into a near-duplicate is no test of a splice): ``None`` when every
    insert shares the host's group."""
    others = [e for e in inserts if e.group != host.group]
    return others[int(rng.integers(len(others)))] if others else None


def draw_mixed(
    rng: np.random.Generator,
    hosts: list[ClipEntry],
    inserts: list[ClipEntry],
    out: Path,
    gif: tuple[bool, bool] = (False, False),
) -> MixedClip:
    """Draw a host from ``hosts`` and an insert for it (:func:`pick_insert`) and splice them
    into ``out`` with :func:`~vidprov.detector.data.make_mixed` (``gif`` as there).

    Raises:
        DetectorError: every insert shares the drawn host's group.
        MediaError: a clip cannot be read, or the host is too short.
    """
    host = hosts[int(rng.integers(len(hosts)))]
    ins = pick_insert(rng, host, inserts)
    if ins is None:
        raise DetectorError(f"every insert shares the group of {host.file}")
    return make_mixed(host, ins, out, rng, gif=gif)


def build_samples(
    det: Detector,
    entries: list[ClipEntry],
    n: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    gif: bool = True,
) -> list[SpliceSample]:
    """Synthesise and encode ``n`` clips for splice training (see the module docstring).
    ``gif=False``: no piece goes through a GIF palette, for data whose AI clips never were GIFs
    (the same clips are drawn either way).

    Raises:
        DetectorError: no camera clip or no AI clip.
    """
    rng = np.random.default_rng(seed)
    hosts = splice_hosts(entries)
    ais = [e for e in entries if e.label == "ai"]
    if not hosts or not ais:
        raise DetectorError("splice training needs camera clips and AI clips")
    out: list[SpliceSample] = []
    with tempfile.TemporaryDirectory(prefix="vidprov-splice-") as tmp:
        path = Path(tmp) / "mixed.mp4"
        for _ in range(n):
            host = hosts[int(rng.integers(len(hosts)))]
            others = [e for e in hosts if e.group != host.group]
            gif_host = bool(rng.random() < GIF_HOST) and gif
            if rng.random() < AI_SHARE or not others:
                ins = ais[int(rng.integers(len(ais)))]
                palettes = (gif_host, False)  # the AI piece was a GIF already
            else:
                ins = pick_insert(rng, host, hosts)
                palettes = (gif_host, gif)
            try:
                mc = make_mixed(host, ins, path, rng, gif=palettes)
                enc = det.encode_file(path)
            except MediaError as exc:
                log.warning("splice sample skipped: %s", exc)
                if progress:
                    progress(1)
                continue
            out.append(SpliceSample(enc, mc.interval, ins.label == "ai", host.group, ins.group))
            if progress:
                progress(1)
    return out


@dataclass(frozen=True)
class SpliceModel:
    """A fitted splice model and its labelling threshold. ``contrast``: it reads the
    classifier's per-frame vectors beside the logits (models saved before it existed do not)."""

    model: Pipeline
    threshold: float
    report: dict[str, float]
    contrast: bool = False

    def score(
        self, z: np.ndarray, enc: Encoded, vectors: np.ndarray | None = None
    ) -> list[tuple[Shot, float]]:
        """``(shot, P(shot is a synthetic insert))`` for each shot of the clip, from per-frame
        raw logits ``z`` and, for a ``contrast`` model, the classifier's per-frame ``vectors``.

        Raises:
            DetectorError: a ``contrast`` model given no vectors.
        """
        if self.contrast and vectors is None:
            raise DetectorError("this splice model needs the classifier's frame vectors")
        parts = shots(enc)
        x = shot_features(z, parts, enc.duration, vectors if self.contrast else None)
        p = self.model.predict_proba(x)[:, 1]
        return list(zip(parts, (float(q) for q in p), strict=True))


def _model(contrast: bool) -> Pipeline:
    c = CONTRAST_C if contrast else LOGIT_C
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))


def rr_threshold(camera_max: np.ndarray, rr_fpr: float) -> float:
    """The lowest threshold that flags at most ``rr_fpr`` of the camera-in-camera clips, given
    each one's highest shot score (0.5 when there are none)."""
    if len(camera_max) == 0:
        return 0.5
    c = np.sort(camera_max)
    k = int(np.floor(rr_fpr * len(c) + 1e-9))  # clips allowed above the threshold
    if k >= len(c):  # all of them may be flagged: the lowest one's score flags them all
        return float(c[0])  # (indexing on would wrap round to the highest: flag none)
    return float(np.nextafter(c[len(c) - k - 1], np.inf))


def fit_splice(
    det: Detector,
    samples: list[SpliceSample],
    logits: list[np.ndarray] | None = None,
    rr_fpr: float = 0.1,
    contrast: bool = True,
) -> SpliceModel:
    """Fit the splice model on ``samples`` with per-frame raw ``logits`` for each (by default
    the trained frame classifier ``det``'s; better, held-out ones: see
    :func:`vidprov.detector.train.held_out_logits`, since a classifier scores clips it was
    trained on more confidently than it will score new ones). With ``contrast``, where ``det``
    gives per-frame vectors (:meth:`Detector.splice_vectors`), their shot-against-rest
    contrasts are features too.

    Only samples cut into two or more shots are used: the model never judges one-shot clips.
    The threshold comes from out-of-fold scores (one fold per host group, and no camera group
    of a fold's clips, host or insert, on its training side, since new clips come from new
    sources; ``oof_training_share`` in the report: the share of the other folds' shots left to
    train each fold's model, on average): the lowest that labels
    an ``ai`` shot in at most ``rr_fpr`` of the camera-in-camera samples (:func:`rr_threshold`),
    kept within 0.3..0.95.

    Raises:
        DetectorError: no multi-shot samples, fewer than two host groups among them, no AI
            shot or no camera shot among them, or no fold left with both to train on.
    """
    parts = [shots(s.enc) for s in samples]
    keep = [k for k, p in enumerate(parts) if len(p) > 1]
    if not keep:
        raise DetectorError("no splice training samples with two or more shots")
    samples, parts = [samples[k] for k in keep], [parts[k] for k in keep]
    z = [det.raw_logits(s.enc) for s in samples] if logits is None else [logits[k] for k in keep]
    y = np.concatenate([s.labels(p) for s, p in zip(samples, parts, strict=True)])
    if y.min() == y.max():
        raise DetectorError("splice training needs both inserted AI shots and camera shots")
    vecs = [det.splice_vectors(s.enc) if contrast else None for s in samples]
    contrast = contrast and all(v is not None for v in vecs)
    x = np.concatenate(
        [
            shot_features(zk, p, s.enc.duration, v if contrast else None)
            for zk, p, s, v in zip(z, parts, samples, vecs, strict=True)
        ]
    )
    owner = np.repeat(np.arange(len(samples)), [len(p) for p in parts])
    groups = np.array([samples[k].host for k in owner])
    camera_inserts = np.array([samples[k].insert if not samples[k].ai else "" for k in owner])
    n_groups = len(set(groups.tolist()))
    if n_groups < 2:
        raise DetectorError("splice training needs hosts from two or more groups")
    oof = np.zeros(len(y))
    kept, fitted = [], 0
    for tr_all, te in GroupKFold(n_splits=n_groups).split(x, y, groups):
        # no camera group of the held-out clips (host or insert) on the training side
        held = list((set(groups[te]) | set(camera_inserts[te])) - {""})
        tr = tr_all[~np.isin(groups[tr_all], held) & ~np.isin(camera_inserts[tr_all], held)]
        kept.append(len(tr) / len(tr_all))
        if not len(tr) or y[tr].min() == y[tr].max():
            oof[te] = y[tr].mean() if len(tr) else 0.5
            continue
        oof[te] = _model(contrast).fit(x[tr], y[tr]).predict_proba(x[te])[:, 1]
        fitted += 1
    if not fitted:  # every out-of-fold score a placeholder: a threshold from no evidence
        raise DetectorError(
            "no fold has shots of both kinds left to train on once its clips' camera groups "
            "are held out (clips from too few sources)"
        )
    clip_max = np.array([oof[owner == k].max() for k in range(len(samples))])
    camera = np.array([not s.ai for s in samples])
    if not camera.any() or camera.all():
        raise DetectorError("splice training needs camera-in-camera and AI-in-camera clips")
    threshold = float(np.clip(rr_threshold(clip_max[camera], rr_fpr), 0.3, 0.95))
    report = {
        "samples": float(len(samples)),
        "ai_samples": float(sum(s.ai for s in samples)),
        "shots": float(len(y)),
        "threshold": threshold,
        "target_camera_in_camera_flagged": float(rr_fpr),
        "oof_training_share": float(np.mean(kept)),
        "oof_camera_in_camera_flagged": float((clip_max[camera] >= threshold).mean())
        if camera.any()
        else 0.0,
        "oof_ai_insert_flagged": float((clip_max[~camera] >= threshold).mean())
        if (~camera).any()
        else 0.0,
    }
    return SpliceModel(_model(contrast).fit(x, y), threshold, report, contrast)
