"""Detection metrics: clip AUC, AP, EER, accuracy, calibration (Brier score, ECE, reliability);
temporal IoU and segment AP for mixed clips."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def clip_metrics(
    y: Sequence[int], score: Sequence[float], threshold: float
) -> dict[str, float | None]:
    """AUC, AP, EER, accuracy and real false-alarm / AI recall at ``threshold``, and how well
    the scores are calibrated as P(ai): Brier score and expected calibration error (``ece``).

    AUC/AP/EER are ``None`` when only one class is present.
    """
    yy = np.asarray(y, dtype=int)
    s = np.asarray(score, dtype=float)
    pred = s >= threshold
    out: dict[str, float | None] = {
        "n": len(yy),
        "n_ai": int(yy.sum()),
        "accuracy": float((pred == yy.astype(bool)).mean()) if len(yy) else None,
        "real_false_alarm": float(pred[yy == 0].mean()) if (yy == 0).any() else None,
        "ai_recall": float(pred[yy == 1].mean()) if (yy == 1).any() else None,
        "auc": None,
        "ap": None,
        "eer": None,
        "brier": float(np.mean((s - yy) ** 2)) if len(yy) else None,
        "ece": ece(yy, s) if len(yy) else None,
    }
    if len(set(yy.tolist())) == 2:
        out["auc"] = float(roc_auc_score(yy, s))
        out["ap"] = float(average_precision_score(yy, s))
        out["eer"] = eer(yy, s)
    return out


def reliability(y: Sequence[int], p: Sequence[float], bins: int = 10) -> list[dict[str, float]]:
    """Scores as probabilities: per equal-width bin of P(ai) that holds any clip, its range,
    clip count, mean P(ai) and the share of those clips that are AI."""
    yy, pp = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    which = np.minimum((pp * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        sel = which == b
        if sel.any():
            rows.append(
                {
                    "lo": b / bins,
                    "hi": (b + 1) / bins,
                    "n": int(sel.sum()),
                    "mean_p": float(pp[sel].mean()),
                    "ai_share": float(yy[sel].mean()),
                }
            )
    return rows


def ece(y: Sequence[int], p: Sequence[float], bins: int = 10) -> float:
    """Expected calibration error: the clip-weighted mean gap between mean P(ai) and the AI
    share over the :func:`reliability` bins."""
    rows = reliability(y, p, bins)
    n = sum(r["n"] for r in rows)
    return float(sum(r["n"] * abs(r["mean_p"] - r["ai_share"]) for r in rows) / n)


def eer(y: np.ndarray, s: np.ndarray) -> float:
    """Equal error rate: where the false-alarm rate equals the miss rate (interpolated)."""
    fpr, tpr, _ = roc_curve(y, s)
    fnr = 1 - tpr
    i = int(np.argmin(np.abs(fnr - fpr)))
    if i > 0 and (fnr[i] - fpr[i]) * (fnr[i - 1] - fpr[i - 1]) < 0:
        a0, a1 = fnr[i - 1] - fpr[i - 1], fnr[i] - fpr[i]
        w = a0 / (a0 - a1)
        return float(fpr[i - 1] + w * (fpr[i] - fpr[i - 1]))
    return float((fpr[i] + fnr[i]) / 2)


def tiou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Temporal IoU of two intervals."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def union_tiou(pred: Sequence[tuple[float, float]], truth: tuple[float, float]) -> float:
    """IoU between the union of predicted intervals and one true interval (0 if none)."""
    merged: list[list[float]] = []
    for a, b in sorted(pred):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    inter = sum(max(0.0, min(b, truth[1]) - max(a, truth[0])) for a, b in merged)
    union = sum(b - a for a, b in merged) + (truth[1] - truth[0]) - inter
    return inter / union if union > 0 else 0.0


def segment_ap(
    detections: Sequence[tuple[int, float, float, float]],
    truths: Sequence[tuple[float, float]],
    iou: float,
) -> float:
    """Average precision of scored segment detections ``(clip, start, end, score)`` against one
    true interval per clip, a detection counting as correct at temporal IoU ≥ ``iou`` (each truth
    matched once; VOC-style all-point interpolation)."""
    if not truths:
        return 0.0
    order = sorted(detections, key=lambda d: -d[3])
    used = [False] * len(truths)
    tp = np.zeros(len(order))
    for k, (clip, a, b, _) in enumerate(order):
        if not used[clip] and tiou((a, b), truths[clip]) >= iou:
            used[clip] = True
            tp[k] = 1
    if not len(order):
        return 0.0
    ctp = np.cumsum(tp)
    prec = ctp / np.arange(1, len(order) + 1)
    rec = ctp / len(truths)
    mprec = np.concatenate([[0.0], prec, [0.0]])
    mrec = np.concatenate([[0.0], rec, [rec[-1]]])
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    idx = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(((mrec[idx + 1] - mrec[idx]) * mprec[idx + 1]).sum())
