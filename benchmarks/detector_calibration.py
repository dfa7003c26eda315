"""Do the classifier's clip scores mean what they say? Calibration of P(ai) on clips from
generators and camera sources the model never saw (leave-one-generator-out).

Usage: .venv/bin/python benchmarks/detector_calibration.py --cache FILE [--data DIR]
       [--model forensic-rf] [--seed 0] [--draws 0 2 [--seeds 2]]
``FILE`` is the cache ``benchmarks/detector.py --cache FILE`` writes (the same train and test
windows). Each fold fits the model as ``detector train`` does (calibration and threshold from
out-of-fold clip scores of its training side) and scores its clean test windows; the folds'
scores are pooled.
Each fold fits it twice: with the model's own calibration (for ``forensic-rf``, its vote
share, only the threshold fitted) and with a Platt map fitted on those out-of-fold scores;
beside them, a constant at each fold's training AI share (what knowing nothing gives). Writes
benchmarks/results/detector_calibration.{json,md}: Brier score, expected calibration error
(10 bins), log loss, and the reliability table of the calibrated scores; with ``--draws``,
the pooled Brier score and ECE again for training windows drawn afresh with each of those
seeds (the cache's test windows kept), ``--seeds`` forest seeds each.
"""

from __future__ import annotations

import argparse
import copy
import pickle
from pathlib import Path

import numpy as np
from _common import RESULTS, data_dir, write_results
from sklearn.metrics import log_loss

from vidprov.detector.data import logo_folds, read_index
from vidprov.detector.metrics import clip_metrics, reliability
from vidprov.detector.models import create
from vidprov.detector.train import build_windows, out_of_fold_raw


def summary(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    m = clip_metrics(y, p, 0.5)
    return {
        "brier": float(m["brier"] or 0.0),
        "ece": float(m["ece"] or 0.0),
        "log_loss": float(log_loss(y, np.clip(p, 1e-4, 1 - 1e-4), labels=[0, 1])),
        "auc": float(m["auc"] or 0.0),
        "mean_p": float(p.mean()),
        "ai_share": float(y.mean()),
    }


def pooled_scores(win, clean, entries, model: str, seed: int) -> tuple[dict, dict]:
    """Each fold's clean test scores (its own calibration, Platt, constant), pooled."""
    y = np.array([e.y for e in entries])
    scores = {k: np.zeros(len(entries)) for k in ("shipped", "platt", "constant")}
    folds = {}
    for gen, tr, te in logo_folds(entries):
        idx = win.of(tr)
        d = create(model)
        raw, _ = out_of_fold_raw(d, win, idx, 5, seed)  # as ``fit``, the forests fitted once
        d.fit_frames([win.encoded[i] for i in idx], win.y[idx], seed)
        platt = copy.deepcopy(d)
        platt.config["calibration"] = "platt"
        d.calibrate(raw, win.y[idx])
        platt.calibrate(raw, win.y[idx])
        scores["shipped"][te] = [d.result(clean[i]).clip_score for i in te]
        scores["platt"][te] = [platt.result(clean[i]).clip_score for i in te]
        scores["constant"][te] = float(win.y[idx].mean())
        folds[gen] = {**summary(y[te], scores["shipped"][te]), "platt_slope": platt.calib[0]}
        print(gen, {k: round(v, 3) for k, v in folds[gen].items()}, flush=True)
    return scores, folds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True, help="benchmarks/detector.py --cache FILE")
    ap.add_argument("--data")
    ap.add_argument("--model", default="forensic-rf")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--draws",
        type=int,
        nargs="*",
        default=[],
        help="also repeat on training windows drawn afresh with these seeds (about 3 min each)",
    )
    ap.add_argument("--seeds", type=int, default=2, help="forest seeds per repeated draw")
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    entries = read_index(data_dir(a.data))
    y = np.array([e.y for e in entries])
    train_win, ts = pickle.loads(Path(a.cache).read_bytes())[:2]
    clean = ts["enc"]["clean"]
    scores, folds = pooled_scores(train_win, clean, entries, a.model, a.seed)
    repeats = []
    for draw in a.draws:
        win = build_windows(entries, create(a.model), 2, draw)
        for seed in range(a.seeds):
            sc, _ = pooled_scores(win, clean, entries, a.model, seed)
            repeats.append(
                {"draw": draw, "seed": seed, **{k: summary(y, sc[k]) for k in ("shipped", "platt")}}
            )
    result = {
        "model": a.model,
        "clips": len(entries),
        "pooled": {k: summary(y, p) for k, p in scores.items()},
        "per_fold": folds,
        "reliability": {k: reliability(y, scores[k]) for k in ("shipped", "platt")},
        "repeats": repeats,
    }
    write_results("detector_calibration", result, markdown(result), a.out)


def markdown(r: dict) -> str:
    lines = [
        f"# Calibration of P(ai), leave-one-generator-out ({r['model']}, {r['clips']} clips, "
        "clean test windows, folds pooled)",
        "",
        "| scores | Brier | ECE | log loss | AUC | mean P(ai) | AI share |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, v in r["pooled"].items():
        lines.append(
            f"| {k} | {v['brier']:.3f} | {v['ece']:.3f} | {v['log_loss']:.3f} | {v['auc']:.3f} "
            f"| {v['mean_p']:.3f} | {v['ai_share']:.3f} |"
        )
    lines += [
        "",
        "| fold (shipped) | Brier | ECE | AUC | mean P(ai) | AI share | Platt slope |",
        "|---|---|---|---|---|---|---|",
    ]
    for g, v in r["per_fold"].items():
        lines.append(
            f"| {g} | {v['brier']:.3f} | {v['ece']:.3f} | {v['auc']:.3f} | {v['mean_p']:.3f} "
            f"| {v['ai_share']:.3f} | {v['platt_slope']:.2f} |"
        )
    if r.get("repeats"):
        lines += [
            "",
            "| training windows (draw, forest seed) | Brier / ECE (shipped) "
            "| Brier / ECE (Platt) |",
            "|---|---|---|",
        ]
        for x in r["repeats"]:
            sh, pl = x["shipped"], x["platt"]
            lines.append(
                f"| {x['draw']}, {x['seed']} | {sh['brier']:.3f} / {sh['ece']:.3f} "
                f"| {pl['brier']:.3f} / {pl['ece']:.3f} |"
            )
    for k, rows in r["reliability"].items():
        lines += ["", f"| P(ai) bin ({k}) | clips | mean P(ai) | AI share |", "|---|---|---|---|"]
        for b in rows:
            lines.append(
                f"| {b['lo']:.1f}-{b['hi']:.1f} | {b['n']:.0f} | {b['mean_p']:.3f} "
                f"| {b['ai_share']:.3f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
