"""Feature-group ablation for ``forensic-rf``: leave-one-generator-out mean AUC with every
feature, and with each group left out (the model's ``exclude`` setting), over forest seeds.

Usage: .venv/bin/python benchmarks/detector_features.py --cache FILE [--data DIR] [--seeds 3]
``FILE`` is the encoded-window cache that ``benchmarks/detector.py --cache FILE`` writes (the
same train and test windows). Writes benchmarks/results/detector_features.{json,md}.
Calibration is left out: it is monotonic, so the AUC does not depend on it.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np
from _common import RESULTS, data_dir, write_results
from sklearn.metrics import roc_auc_score

from vidprov.detector.data import logo_folds, read_index
from vidprov.detector.models import create

GROUPS = {
    "residual statistics": ["res_"],
    "co-occurrences": ["cooc_"],
    "chroma co-occurrences": ["cc_"],
    "spectrum": ["spec_"],
    "sharpness and colour": ["lap_", "sat_", "luma_"],
    "chroma noise": ["c_"],
    "multi-scale": ["ms_"],
    "temporal": ["t_"],
}


def fold_aucs(
    train_win, ts, entries, exclude: list[str] | None, seed: int
) -> dict[str, list[float]]:
    """Each fold's AUC for each test set (clean and attacked), uncalibrated forests;
    ``exclude`` None: the model's default."""
    y = np.array([e.y for e in entries])
    out: dict[str, list[float]] = {name: [] for name in ts["enc"]}
    config = {} if exclude is None else {"exclude": exclude}
    for _gen, tr, te in logo_folds(entries):
        idx = train_win.of(tr)
        d = create("forensic-rf", **config)
        d.fit_frames([train_win.encoded[i] for i in idx], train_win.y[idx], seed)
        for name, enc in ts["enc"].items():
            s = [d.result(enc[i]).clip_score for i in te]
            out[name].append(float(roc_auc_score(y[te], s)))
    return out


def logo_auc(train_win, ts, entries, exclude: list[str], seed: int) -> dict[str, float]:
    """Mean AUC over the folds for each test set (clean and attacked)."""
    aucs = fold_aucs(train_win, ts, entries, exclude, seed)
    return {name: float(np.mean(v)) for name, v in aucs.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True, help="benchmarks/detector.py --cache FILE")
    ap.add_argument("--data")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    entries = read_index(data_dir(a.data))
    train_win, ts = pickle.loads(Path(a.cache).read_bytes())[:2]
    rows = []
    for label, exclude in [
        ("every feature", []),
        *((f"without {g}", p) for g, p in GROUPS.items()),
    ]:
        runs = [logo_auc(train_win, ts, entries, exclude, s) for s in range(a.seeds)]
        row = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        row["clean_by_seed"] = [r["clean"] for r in runs]
        rows.append({"features": label, "exclude": exclude, **row})
        print(label, {k: round(v, 3) for k, v in row.items() if k != "clean_by_seed"}, flush=True)
    tests = list(ts["enc"])
    lines = [
        "# forensic-rf feature groups (leave-one-generator-out mean AUC, "
        f"mean of {a.seeds} forest seeds)",
        "",
        "| features | " + " | ".join(tests) + " | clean, by seed |",
        "|---|" + "---|" * (len(tests) + 1),
    ]
    for r in rows:
        seeds = ", ".join(f"{v:.3f}" for v in r["clean_by_seed"])
        lines.append(
            f"| {r['features']} | " + " | ".join(f"{r[t]:.3f}" for t in tests) + f" | {seeds} |"
        )
    write_results(
        "detector_features", {"seeds": a.seeds, "rows": rows}, "\n".join(lines) + "\n", a.out
    )


if __name__ == "__main__":
    main()
