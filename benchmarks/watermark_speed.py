"""Watermark embed/detect speed alone (the full benchmark measures it between its other stages,
so anything else running on the machine shows in its figure).

Usage: .venv/bin/python benchmarks/watermark_speed.py [--data DIR] [--reps 3]
Writes benchmarks/results/watermark_speed.{json,md}: the median over ``--reps`` runs of
:func:`watermark.speed` on the first 60 frames of a 1280x720 camera clip, codec excluded.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from _common import RESULTS, data_dir, write_results

from vidprov.watermark import WatermarkConfig
from watermark import camera_clips, speed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = camera_clips(data_dir(a.data), 1, Path(tmp), (1280, 720))[0]
        runs = [speed(clip, WatermarkConfig()) for _ in range(a.reps)]
    med = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    result = {"cores": os.cpu_count(), "runs": runs, "median": med}
    md = (
        "| 1280x720, codec excluded (median of "
        f"{a.reps}, {result['cores']} cores) | fps |\n| --- | --- |\n"
        + "".join(f"| {k} | {v:.0f} |\n" for k, v in med.items())
    )
    write_results("watermark_speed", result, md, a.out)


if __name__ == "__main__":
    main()
