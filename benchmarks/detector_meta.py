"""How much the normalised windows' metadata alone gives the label away, over several random
draws (the detector benchmark measures one draw, seed 1).

Usage: .venv/bin/python benchmarks/detector_meta.py [--data DIR] [--draws 5]
Writes benchmarks/results/detector_meta.{json,md}: per draw, the leave-one-generator-out mean
AUC of a random forest on width, height, fps, frame count and bitrate, and without bitrate.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from _common import RESULTS, data_dir, write_results

from detector import meta_baseline, meta_vec
from vidprov.detector.data import logo_folds, normalised_windows, read_index


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    entries = read_index(data_dir(a.data))
    folds = logo_folds(entries)
    y = np.array([e.y for e in entries])
    rows = []
    for seed in range(1, a.draws + 1):
        rng = np.random.default_rng(seed)
        with tempfile.TemporaryDirectory() as tmp:
            meta = []
            for i, e in enumerate(entries):
                w = Path(tmp) / f"{i}.mp4"
                normalised_windows(e, [w], rng)
                meta.append(meta_vec(w))
        m = np.array(meta)
        rows.append(
            {
                "seed": seed,
                "mean_auc": meta_baseline(m, y, folds)["mean_auc"],
                "mean_auc_without_bitrate": meta_baseline(m[:, :4], y, folds)["mean_auc"],
            }
        )
        print(rows[-1], flush=True)
    result = {
        "draws": rows,
        "mean": float(np.mean([r["mean_auc"] for r in rows])),
        "mean_without_bitrate": float(np.mean([r["mean_auc_without_bitrate"] for r in rows])),
    }
    md = [
        "# Metadata-only baseline over random draws of the normalised windows",
        "",
        "| draw (seed) | LOGO mean AUC | without bitrate |",
        "|---|---|---|",
        *(
            f"| {r['seed']} | {r['mean_auc']:.3f} | {r['mean_auc_without_bitrate']:.3f} |"
            for r in rows
        ),
        f"| mean | {result['mean']:.3f} | {result['mean_without_bitrate']:.3f} |",
    ]
    write_results("detector_meta", result, "\n".join(md) + "\n", a.out)


if __name__ == "__main__":
    main()
