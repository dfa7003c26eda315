"""Train the detector shipped inside the package and write its model card.

Usage: .venv/bin/python benchmarks/train_default.py [--data DIR] [--windows 2]
Writes detector/default/model.joblib (+ .sha256) and detector/default/model.json: checksum,
training config, out-of-fold report and, when benchmarks/results/detector.json exists, the
leave-one-generator-out evaluation summary (with detector_calibration.json's pooled calibration).
"""

from __future__ import annotations

import argparse
import json

from _common import RESULTS, data_dir

from vidprov.detector.models import DEFAULT_CARD, DEFAULT_FILE
from vidprov.detector.train import TrainConfig, train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data",
        default=str(data_dir(None)),
    )
    ap.add_argument("--model", default="forensic-rf")
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--card-only", action="store_true", help="Refresh the card's evaluation.")
    a = ap.parse_args()
    if a.card_only:
        card = json.loads(DEFAULT_CARD.read_text())
    else:
        r = train(a.data, DEFAULT_FILE, TrainConfig(model=a.model, windows_per_clip=a.windows))
        card = {
            "model": r.model,
            "file": DEFAULT_FILE.name,
            "sha256": r.sha256,
            "threshold": r.threshold,
            "trained_on": "shared/data/clips (228 clips: 111 camera, 117 AI from 6 generators)",
            "training": r.report,
        }
    bench = RESULTS / "detector.json"
    if bench.is_file():
        b = json.loads(bench.read_text())
        card["evaluation"] = {
            "source": "benchmarks/detector.py (leave-one-generator-out, models retrained per fold)",
            "logo_mean_auc": b["logo"]["mean_auc"],
            "logo_worst_auc": b["logo"]["worst_auc"],
            "real_false_alarm": b["logo"]["real_false_alarm"],
            "every_camera": dict(b.get("every_camera", {})),
            "robustness": b["robustness"],
            "mixed": b["mixed"],
            "metadata_baseline": b["metadata_baseline"],
        }
    cal = RESULTS / "detector_calibration.json"
    if cal.is_file() and "evaluation" in card:
        c = json.loads(cal.read_text())["pooled"]["shipped"]
        card["evaluation"]["calibration"] = {
            "source": "benchmarks/detector_calibration.py (leave-one-generator-out, pooled)",
            **{k: c[k] for k in ("brier", "ece", "log_loss")},
        }
    DEFAULT_CARD.write_text(json.dumps(card, indent=2, default=str) + "\n")
    print(json.dumps({k: card[k] for k in ("model", "sha256", "threshold")}, indent=2))


if __name__ == "__main__":
    main()
