"""Splice-model screen: the five logit features alone against logits plus the shot-against-rest
contrasts of the classifier's window features, on held-out synthesised clips, with palette
controls.

Usage: .venv/bin/python benchmarks/detector_splice.py --cache FILE [--work DIR] [--data DIR]
       [--per-kind 12]
Writes benchmarks/results/detector_splice.{json,md}.

``--cache`` is the file ``benchmarks/detector.py --cache`` writes (training windows, test windows,
splice pool). Each leave-one-generator-out fold fits a forest (uncalibrated) on its training
windows and both splice models on the pool clips whose host and insert are both on its training
side (held-out logits, as the benchmark does), then judges four kinds of clip made from its test
side (``--per-kind`` each, encoded once and kept in ``--work``): AI pieces in camera hosts,
camera pieces in camera hosts, the same with the camera insert put through a GIF palette (every
AI clip of the shared data was a GIF: a model that reads palettes flags these), and AI pieces in
hosts put through a palette; beside them, the fold means of what each splice model's own
out-of-fold scores on the pool promised (threshold, camera-in-camera and AI inserts flagged).
Every clip of two or more shots is judged by the splice model
itself, whatever the clip score (the scan only asks it below the classifier's threshold).
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np
from _common import RESULTS, data_dir, write_results
from sklearn.metrics import roc_auc_score

from vidprov.detector.data import logo_folds, read_index
from vidprov.detector.metrics import union_tiou
from vidprov.detector.models import create
from vidprov.detector.splice import draw_mixed, fit_splice, shots, splice_hosts
from vidprov.detector.train import held_out_logits
from vidprov.errors import DetectorError, MediaError

# kind: (inserts from AI clips?, (host palette, insert palette), seed)
KINDS = {
    "ai_in_camera": (True, (False, False), 7),
    "camera_in_camera": (False, (False, False), 8),
    "camera_in_camera_gif_insert": (False, (False, True), 9),
    "ai_in_gif_camera": (True, (True, False), 10),
}
POSITIVE = ("ai_in_camera", "ai_in_gif_camera")


def test_clips(entries, folds, det, per_kind: int, work: Path) -> dict:
    """Per fold and kind: ``(encoded clip, interval)`` for each synthesised test clip."""
    cache = work / f"splice_tests_{per_kind}.pkl"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    out = {}
    path = work / "mixed.mp4"
    for gen, _tr, te in folds:
        hosts = splice_hosts([entries[i] for i in te])
        ais = [entries[i] for i in te if entries[i].label == "ai"]
        out[gen] = {}
        for kind, (ai, gif, seed) in KINDS.items():
            rng = np.random.default_rng(seed)
            inserts = ais if ai else hosts
            clips = []
            for _ in range(per_kind):
                try:
                    mc = draw_mixed(rng, hosts, inserts, path, gif)
                    clips.append((det.encode_file(path), mc.interval))
                except (DetectorError, MediaError) as exc:
                    print(f"skipped: {exc}", flush=True)
            out[gen][kind] = clips
        print(f"{gen}: test clips built", flush=True)
    cache.write_bytes(pickle.dumps(out))
    return out


def judge(det, sp, clips) -> list[dict]:
    """Each clip's highest shot score, whether any shot is flagged, and the tIoU of the
    flagged shots and of the top shot with the insert (zeros for one-shot clips)."""
    rows = []
    for enc, interval in clips:
        if len(shots(enc)) < 2:
            rows.append({"max": 0.0, "flagged": False, "tiou": 0.0, "top_tiou": 0.0})
            continue
        vectors = det.splice_vectors(enc) if sp.contrast else None
        scored = sp.score(det.raw_logits(enc), enc, vectors)
        flagged = [(s.start, s.end) for s, p in scored if p >= sp.threshold]
        top, p_top = max(scored, key=lambda sp_: sp_[1])
        rows.append(
            {
                "max": p_top,
                "flagged": bool(flagged),
                "tiou": union_tiou(flagged, interval),
                "top_tiou": union_tiou([(top.start, top.end)], interval),
            }
        )
    return rows


def summary(rows: dict[str, list[dict]]) -> dict:
    out = {
        kind: {
            "n": len(r),
            "flagged": float(np.mean([x["flagged"] for x in r])),
            "tiou": float(np.mean([x["tiou"] for x in r])),
            "top_tiou": float(np.mean([x["top_tiou"] for x in r])),
        }
        for kind, r in rows.items()
    }
    pos = np.array([x["max"] for k in POSITIVE for x in rows[k]])
    neg = np.array([x["max"] for k in rows if k not in POSITIVE for x in rows[k]])
    out["clip_auc"] = float(
        roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg])
    )
    # the share of AI-insert clips found at the score that flags 10% of the camera-in-camera ones
    t = np.sort(neg)[int(np.ceil(0.9 * len(neg))) - 1]
    out["ai_found_at_10pct_camera"] = float((pos > t).mean())
    return out


def oof(reports: list[dict]) -> dict:
    """Fold means of what each splice model's own out-of-fold scores promised."""
    keys = (
        "threshold",
        "oof_camera_in_camera_flagged",
        "oof_ai_insert_flagged",
        "oof_training_share",
    )
    return {k: float(np.mean([rep[k] for rep in reports])) for k in keys}


def markdown(r: dict) -> str:
    lines = [
        "# Splice model: logits alone vs with feature contrasts (held-out synthesised clips)",
        "",
        f"{r['per_fold_and_kind']} clips per kind and fold, {len(r['folds'])} folds; every "
        "multi-shot clip judged by the splice model at its own threshold (10% camera-in-camera "
        "out of fold on the training pool).",
        "",
        "| splice model | AI in camera: flagged / tIoU / top tIoU | AI in GIF camera: flagged / "
        "tIoU | camera in camera: flagged | camera in camera, GIF insert: flagged | clip AUC "
        "| AI found at 10% camera flags | out of fold: threshold / camera flagged / AI "
        "flagged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in r["variants"].items():
        a, g, o = s["ai_in_camera"], s["ai_in_gif_camera"], s["oof"]
        lines.append(
            f"| {name} | {a['flagged']:.1%} / {a['tiou']:.3f} / {a['top_tiou']:.3f} "
            f"| {g['flagged']:.1%} / {g['tiou']:.3f} "
            f"| {s['camera_in_camera']['flagged']:.1%} "
            f"| {s['camera_in_camera_gif_insert']['flagged']:.1%} "
            f"| {s['clip_auc']:.3f} | {s['ai_found_at_10pct_camera']:.1%} "
            f"| {o['threshold']:.2f} / {o['oof_camera_in_camera_flagged']:.1%} / "
            f"{o['oof_ai_insert_flagged']:.1%} |"
        )
    lines += ["", f"- run time {r['seconds'] / 60:.1f} min", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True, help="benchmarks/detector.py --cache FILE")
    ap.add_argument("--work", default=None, help="Folder for the encoded test clips (kept).")
    ap.add_argument("--data")
    ap.add_argument("--model", default="forensic-rf")
    ap.add_argument("--per-kind", type=int, default=12)
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    t0 = time.time()
    entries = read_index(data_dir(a.data))
    folds = logo_folds(entries)
    train_win, _ts, pool = pickle.loads(Path(a.cache).read_bytes())
    work = Path(a.work or Path(a.cache).parent)
    work.mkdir(parents=True, exist_ok=True)
    tests = test_clips(entries, folds, create(a.model), a.per_kind, work)
    names = {"logits only": False, "logits + feature contrasts": True}
    rows: dict[str, dict[str, list]] = {n: {k: [] for k in KINDS} for n in names}
    reports: dict[str, list[dict]] = {n: [] for n in names}
    for gen, tr, _te in folds:
        idx = train_win.of(tr)
        det = create(a.model)
        det.fit_frames([train_win.encoded[j] for j in idx], train_win.y[idx], 0)
        groups = {entries[i].group for i in tr}
        own = [p for p in pool if p.host in groups and p.insert in groups]
        logits = held_out_logits(det, train_win, idx, own, 0)
        for name, contrast in names.items():
            sp = fit_splice(det, own, logits, contrast=contrast)
            reports[name].append(sp.report)
            for kind, clips in tests[gen].items():
                rows[name][kind] += judge(det, sp, clips)
        print(f"{gen}: done ({time.time() - t0:.0f} s)", flush=True)
    result = {
        "model": a.model,
        "per_fold_and_kind": a.per_kind,
        "folds": [g for g, _, _ in folds],
        "splice_pool": len(pool),
        "variants": {n: {**summary(r), "oof": oof(reports[n])} for n, r in rows.items()},
        "seconds": time.time() - t0,
    }
    write_results("detector_splice", result, markdown(result), a.out)


if __name__ == "__main__":
    main()
