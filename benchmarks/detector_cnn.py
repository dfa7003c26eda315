"""The timm CNN on the shared clips, trained on the CPU: leave-one-generator-out clip AUC on
the clean and attacked test windows, beside the forest and an average of the two.

Usage: .venv/bin/python benchmarks/detector_cnn.py [--data DIR] [--model timm-cnn-cpu]
       [--windows 2] [--cache FILE] [--forest-cache FILE] [--seeds 2] [--speed-only]
``--cache`` keeps the CNN's encoded windows (reused when present); ``--forest-cache`` is the
file ``benchmarks/detector.py --cache`` writes. Both scripts draw the same train windows
(seed 0) and test windows (seed 1), so with it the forest is fitted per fold on the same
windows, and each clip's two scores are averaged (each model's test logits standardised
within the fold). Writes benchmarks/results/detector_cnn.{json,md}.

``--speed-only`` adds the scan speed of a 10 s 854x480 clip with the model's network at its
initial weights (the cost of a forward pass does not depend on them) to the written results.

One model per fold, no calibration (the AUC does not depend on it), so no false-alarm rate:
the full benchmark (``detector.py --model NAME``) fits 16 models per fold, which on two CPU
cores is hours for a CNN.
"""

from __future__ import annotations

import argparse
import json
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import RESULTS, data_dir, write_results
from sklearn.metrics import average_precision_score, roc_auc_score

from detector import ATTACKS, scan_speed, test_set
from vidprov.detector.data import logo_folds, read_index
from vidprov.detector.models import create
from vidprov.detector.train import build_windows


def _z(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / (v.std() + 1e-9)


def fold_scores(name: str, train_win, ts, tr: list[int], te: list[int], seed: int) -> dict:
    """Clip-mean raw logits of a model fitted on the windows of clips ``tr``, per test set."""
    idx = train_win.of(tr)
    d = create(name)
    d.fit_frames([train_win.encoded[i] for i in idx], train_win.y[idx], seed)
    return {k: np.array([d.clip_raw(ts["enc"][k][i]) for i in te]) for k in ATTACKS}


def seed_run(name: str, train_win, ts, forest, entries, seed: int) -> list[dict]:
    """Per-fold AUCs (each test set) and clean AP of the CNN, the forest and their average."""
    y = np.array([e.y for e in entries])
    rows = []
    for gen, tr, te in logo_folds(entries):
        t1 = time.time()
        scores = {"cnn": fold_scores(name, train_win, ts, tr, te, seed)}
        row = {"generator": gen, "n_test": len(te), "cnn_fit_seconds": time.time() - t1}
        if forest:
            scores["forest"] = fold_scores("forensic-rf", *forest, tr, te, seed)
            scores["average"] = {k: _z(scores["cnn"][k]) + _z(scores["forest"][k]) for k in ATTACKS}
        for m, per in scores.items():
            row[m] = {k: float(roc_auc_score(y[te], s)) for k, s in per.items()}
            row[m]["ap"] = float(average_precision_score(y[te], per["clean"]))
        rows.append(row)
        print(seed, gen, {m: round(row[m]["clean"], 3) for m in scores}, flush=True)
    return rows


def markdown(r: dict) -> str:
    rows, summary = r["per_generator"], r["summary"]
    models = list(summary)
    lines = [
        f"# {r['model']} on the shared clips (leave-one-generator-out clip AUC, CPU training, "
        f"mean of {r['seeds']} training seeds)",
        "",
        "| generator | " + " | ".join(models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for row in rows:
        cells = " | ".join(f"{row[m]['clean']:.3f}" for m in models)
        lines.append(f"| {row['generator']} | {cells} |")
    head = "| model | mean AUC | worst | " + " | ".join(ATTACKS) + " | mean / worst, by seed |"
    lines += ["", head, "|---|---|---|" + "---|" * (len(ATTACKS) + 1)]
    for m in models:
        s = summary[m]
        seeds = ", ".join(
            f"{c:.3f} / {w:.3f}"
            for c, w in zip(s["clean_by_seed"], s["worst_by_seed"], strict=True)
        )
        lines.append(
            f"| {m} | {s['clean']:.3f} | {s['worst']:.3f} | "
            + " | ".join(f"{s[k]:.3f}" for k in ATTACKS)
            + f" | {seeds} |"
        )
    fit_min = np.mean([row["cnn_fit_seconds"] for row in rows]) / 60
    lines += ["", f"- CNN fit and scoring per fold: {fit_min:.1f} min on this machine's CPU"]
    speed = r.get("scan_speed_480p")
    if speed:
        lines.append(
            f"- scan of a 10 s 854x480 30 fps clip: {speed['scan_seconds']:.2f} s "
            f"({speed['x_real_time']:.1f}x real time; classifier alone "
            f"{speed['classifier_seconds']:.2f} s) on {speed['cores']} cores"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--model", default="timm-cnn-cpu")
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--cache", help="Pickle of the CNN's encoded windows (reused when present).")
    ap.add_argument("--forest-cache", help="benchmarks/detector.py --cache FILE")
    ap.add_argument("--seeds", type=int, default=2, help="Training seeds (AUCs averaged).")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    if a.speed_only:
        det = create(a.model)
        det.init_net()
        path = Path(a.out) / "detector_cnn.json"
        result = json.loads(path.read_text())
        with tempfile.TemporaryDirectory() as tmp:
            result["scan_speed_480p"] = scan_speed(det, data_dir(a.data), Path(tmp))
        write_results("detector_cnn", result, markdown(result), a.out)
        return
    entries = read_index(data_dir(a.data))
    t0 = time.time()
    cache = Path(a.cache) if a.cache else None
    if cache and cache.is_file():
        train_win, ts = pickle.loads(cache.read_bytes())
    else:
        det = create(a.model)
        with tempfile.TemporaryDirectory() as tmp:
            train_win = build_windows(entries, det, a.windows, 0)
            ts = test_set(entries, det, Path(tmp))
        if cache:
            cache.write_bytes(pickle.dumps((train_win, ts)))
    print(f"windows built in {time.time() - t0:.0f} s", flush=True)
    forest = pickle.loads(Path(a.forest_cache).read_bytes())[:2] if a.forest_cache else None
    runs = [seed_run(a.model, train_win, ts, forest, entries, s) for s in range(a.seeds)]
    models = [m for m in ("cnn", "forest", "average") if m in runs[0][0]]
    rows = []
    for k, first in enumerate(runs[0]):
        row = {"generator": first["generator"], "n_test": first["n_test"]}
        row["cnn_fit_seconds"] = float(np.mean([r[k]["cnn_fit_seconds"] for r in runs]))
        for m in models:
            row[m] = {t: float(np.mean([r[k][m][t] for r in runs])) for t in (*ATTACKS, "ap")}
            row[m]["clean_by_seed"] = [r[k][m]["clean"] for r in runs]
        rows.append(row)
    summary = {
        m: {
            **{t: float(np.mean([r[m][t] for r in rows])) for t in ATTACKS},
            "worst": float(min(r[m]["clean"] for r in rows)),
            "clean_by_seed": [
                float(np.mean([r[k][m]["clean"] for k in range(len(r))])) for r in runs
            ],
            "worst_by_seed": [float(min(r[k][m]["clean"] for k in range(len(r)))) for r in runs],
        }
        for m in models
    }
    result = {
        "model": a.model,
        "config": create(a.model).config,
        "train_windows_per_clip": a.windows,
        "seeds": a.seeds,
        "per_generator": rows,
        "summary": summary,
        "seconds": time.time() - t0,
    }
    write_results("detector_cnn", result, markdown(result), a.out)


if __name__ == "__main__":
    main()
