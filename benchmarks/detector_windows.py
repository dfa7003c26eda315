"""How the training windows are drawn, screened: ``forensic-rf`` trained on windows built with
each ``NormaliseConfig`` variant, over several window draws and forest seeds, scored on the
benchmark's fixed test windows.

Usage: .venv/bin/python benchmarks/detector_windows.py --cache FILE [--data DIR] [--draws 0 2]
       [--seeds 2] [--variant NAME=FIELD:VALUE,...]...
``FILE`` is the cache ``benchmarks/detector.py --cache FILE`` writes (its test windows are used;
its training windows are not, so every variant is drawn afresh and alike). Default variants:
the shipped config and the resolution bottleneck for every window. Writes
benchmarks/results/detector_windows.{json,md}: per variant, the leave-one-generator-out mean
AUC on each test set (clean and attacked) and the worst fold, averaged over draws and seeds,
and the every-camera mean and worst (forest seed 0, per draw). Calibration is left out: it is
monotonic, so the AUC does not depend on it.
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np
from _common import RESULTS, data_dir, write_results
from detector_features import fold_aucs

from detector import every_camera
from vidprov.detector.data import NormaliseConfig, read_index
from vidprov.detector.models import create
from vidprov.detector.train import build_windows

DEFAULT_VARIANTS = ["shipped=", "bottleneck=bottleneck_share:1.0"]


def parse_variant(spec: str) -> tuple[str, dict[str, float]]:
    """``name=field:value,...`` → (name, numeric NormaliseConfig overrides)."""
    name, _, rest = spec.partition("=")
    fields = dict(kv.split(":", 1) for kv in rest.split(",") if kv)
    return name, {k: float(v) for k, v in fields.items()}


def logo(win, ts, entries, seed: int) -> dict[str, float]:
    """Mean LOGO AUC per test set, and the worst clean fold."""
    aucs = fold_aucs(win, ts, entries, None, seed)
    return {**{k: float(np.mean(v)) for k, v in aucs.items()}, "worst": min(aucs["clean"])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True, help="benchmarks/detector.py --cache FILE")
    ap.add_argument("--data")
    ap.add_argument("--draws", type=int, nargs="+", default=[0, 2], help="window-draw seeds")
    ap.add_argument("--seeds", type=int, default=2, help="forest seeds per draw")
    ap.add_argument("--variant", action="append", help="NAME=FIELD:VALUE,... (repeatable)")
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    entries = read_index(data_dir(a.data))
    ts = pickle.loads(Path(a.cache).read_bytes())[1]
    rows = []
    for spec in a.variant or DEFAULT_VARIANTS:
        name, fields = parse_variant(spec)
        cfg = NormaliseConfig(**fields)  # type: ignore[arg-type]
        runs, cams = [], []
        for draw in a.draws:
            t0 = time.time()
            win = build_windows(entries, create("forensic-rf"), 2, draw, cfg)
            built = time.time() - t0
            runs += [logo(win, ts, entries, s) for s in range(a.seeds)]
            cams.append(every_camera("forensic-rf", win, ts["enc"]["clean"], entries))
            print(name, draw, f"built in {built:.0f} s", runs[-1], cams[-1]["mean_auc"], flush=True)
        row = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        row["clean_by_run"] = [r["clean"] for r in runs]
        row["every_camera_mean"] = float(np.mean([c["mean_auc"] for c in cams]))
        row["every_camera_worst"] = float(np.mean([c["worst_auc"] for c in cams]))
        rows.append({"variant": name, "fields": fields, **row})
    tests = list(ts["enc"])
    lines = [
        f"# forensic-rf by training-window variant (LOGO mean AUC; window draws {a.draws}, "
        f"{a.seeds} forest seeds each)",
        "",
        "| variant | " + " | ".join(tests) + " | worst fold | every camera (worst) "
        "| clean, by run |",
        "|---|" + "---|" * (len(tests) + 3),
    ]
    for r in rows:
        runs = ", ".join(f"{v:.3f}" for v in r["clean_by_run"])
        lines.append(
            f"| {r['variant']} | "
            + " | ".join(f"{r[t]:.3f}" for t in tests)
            + f" | {r['worst']:.3f} | {r['every_camera_mean']:.3f} ({r['every_camera_worst']:.3f})"
            + f" | {runs} |"
        )
    result = {"draws": a.draws, "seeds": a.seeds, "rows": rows}
    write_results("detector_windows", result, "\n".join(lines) + "\n", a.out)


if __name__ == "__main__":
    main()
