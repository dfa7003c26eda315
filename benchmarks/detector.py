"""Detector benchmark on the shared clips: leave-one-generator-out (LOGO) clip metrics, real
false alarms at the default threshold, robustness (CRF 35, 0.5x resize, GIF palette), mixed-clip
localisation, a metadata-only baseline, watermarked generator output after CRF 28, scan speed.

Usage: .venv/bin/python benchmarks/detector.py [--data DIR] [--model forensic-rf] [--windows 2]
       [--mixed-per-fold 10] [--splice-pool 300] [--skip-generator] [--cache FILE]
Writes benchmarks/results/detector.{json,md}.

Train and test windows are separate random draws (train: seed 0, ``--windows`` per clip; test:
one window per clip, seed 1); every fold trains from scratch on the other generators and on
real groups that are not in its test set. The splice model's synthesised clips are drawn once
(``--splice-pool``); each fold fits its splice model on those whose host and insert are both on
its training side.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import RESULTS, data_dir, write_results
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

from vidprov.detector.data import (
    attack,
    every_camera_fits,
    logo_folds,
    normalised_windows,
    read_index,
)
from vidprov.detector.metrics import clip_metrics, union_tiou
from vidprov.detector.models import create
from vidprov.detector.splice import build_samples, fit_splice, splice_hosts
from vidprov.detector.train import build_windows, fit, held_out_logits, mixed_report
from vidprov.media import probe

# "gif": every test window through an undithered 256-colour palette (median cut). All AI clips
# of the shared data were GIFs and most camera clips were not; when both classes carry the
# palette, a score that holds up is not reading GIF traces.
ATTACKS = {"clean": None, "crf35": (35, 1.0), "resize0.5": (23, 0.5), "gif": (23, 1.0, True)}


def meta_vec(path: Path) -> list[float]:
    i = probe(path)
    return [i.width, i.height, float(i.fps), i.frames, (i.bit_rate or 0) / 1e3]


def test_set(entries, det, work: Path) -> dict:
    """One normalised window per clip (seed 1) and its attacked copies, encoded."""
    rng = np.random.default_rng(1)
    enc = {k: [] for k in ATTACKS}
    meta = []
    for i, e in enumerate(entries):
        w = work / f"t{i}.mp4"
        normalised_windows(e, [w], rng)
        meta.append(meta_vec(w))
        for name, spec in ATTACKS.items():
            p = w if spec is None else attack(w, work / f"t{i}_{name}.mp4", *spec)
            enc[name].append(det.encode_file(p))
    return {"enc": enc, "meta": np.array(meta)}


def meta_baseline(x: np.ndarray, y: np.ndarray, folds) -> dict:
    aucs = {}
    for gen, tr, te in folds:
        rf = RandomForestClassifier(300, random_state=0).fit(x[tr], y[tr])
        aucs[gen] = float(roc_auc_score(y[te], rf.predict_proba(x[te])[:, 1]))
    return {"mean_auc": float(np.mean(list(aucs.values()))), "per_fold": aucs}


def resolution_control(raw_meta: np.ndarray, clips: list[int], y: list, s: list) -> dict:
    """Pooled clean AUC within source-resolution strata, and the source's short side alone as
    a score: most AI sources are small, so a model could read how much a window was resized."""
    short = raw_meta[clips, :2].min(axis=1)
    y_, s_ = np.array(y), np.array(s)
    out = {"source_short_side_alone_auc": float(roc_auc_score(y_, -short))}
    for name, sel in (("short_side_le_320", short <= 320), ("short_side_gt_320", short > 320)):
        out[name] = {
            "pooled_auc": float(roc_auc_score(y_[sel], s_[sel])),
            "n_ai": int(y_[sel].sum()),
            "n_real": int((1 - y_[sel]).sum()),
        }
    return out


def every_camera(model: str, train_win, clean: list, entries, seed: int = 0) -> dict:
    """Each held-out generator against every camera clip, not only its fold's share.

    A LOGO fold tests one generator against a tenth to a third of the camera clips, so its AUC
    depends on which camera sources it drew. Here generator ``g``'s clips are ranked against
    all camera clips, cross-fitted: for each fold's share of camera clips a model is fitted
    without ``g`` and without that share (nor any group they come from); the share is scored
    by it, and ``g``'s clips by the mean of those models. Uncalibrated clip scores (the AUC
    does not depend on calibration; the models are fitted alike, so their scores compare).
    """
    aucs = {}
    for fits in every_camera_fits(entries):
        ai, gen = fits[0].ai, fits[0].generator
        s_ai, s_cam = np.zeros(len(ai)), {}
        for f in fits:
            cam, tr = f.camera, f.train
            idx = train_win.of(tr)
            d = create(model)
            d.fit_frames([train_win.encoded[i] for i in idx], train_win.y[idx], seed)
            s_ai += np.array([d.result(clean[i]).clip_score for i in ai]) / len(fits)
            s_cam.update({i: d.result(clean[i]).clip_score for i in cam})
        y = [1] * len(ai) + [0] * len(s_cam)
        aucs[gen] = float(roc_auc_score(y, [*s_ai, *s_cam.values()]))
    return {
        "per_generator": aucs,
        "mean_auc": float(np.mean(list(aucs.values()))),
        "worst_auc": float(min(aucs.values())),
        "n_camera": len(s_cam),
    }


def generator_check(det, n: int, work: Path) -> dict:
    from vidprov.detector import scan_file
    from vidprov.generator import SignedGenerator
    from vidprov.keys import init_keys
    from vidprov.media import EncodeOptions, transcode

    home = work / "home"
    init_keys(home)
    os.environ["VIDPROV_HOME"] = str(home)
    gen = SignedGenerator("tiny-wan")
    labels = []
    for k in range(n):
        out = work / f"gen{k}.mp4"
        gen.generate(f"benchmark clip {k}", out, seed=k)
        re = work / f"gen{k}_crf28.mp4"
        transcode(out, re, EncodeOptions(crf=28))
        v = scan_file(re, detector=det)
        labels.append((v.label, v.decided_by))
    return {"n": n, "ai": sum(lab == "ai" for lab, _ in labels), "decided_by": labels}


def scan_speed(det, data: Path, work: Path) -> dict:
    from vidprov.detector import scan_file
    from vidprov.media import EncodeOptions, VideoWriter, iter_frames

    entries = [e for e in read_index(data) if e.label == "real"]
    frames = [f.rgb for f in iter_frames(entries[0].file)]
    import cv2

    path = work / "speed480p.mp4"
    with VideoWriter(path, 854, 480, 30, EncodeOptions(crf=23, preset="veryfast")) as w:
        for k in range(300):
            w.write(cv2.resize(frames[k % len(frames)], (854, 480)))
    scan_file(path, detector=det)  # warm-up: imports, model load

    def median_of_3(fn) -> float:
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        return float(np.median(runs))

    t_cls = median_of_3(lambda: det.score_file(path))
    t_all = median_of_3(lambda: scan_file(path, detector=det))
    return {
        "clip_seconds": 10.0,
        "classifier_seconds": t_cls,
        "scan_seconds": t_all,
        "x_real_time": 10.0 / t_all,
        "cores": os.cpu_count(),
    }


def _flagged(segs: list, t: float | None) -> list[bool]:
    """Which segments are ``ai`` when splice segments are labelled at ``t`` (None: as shipped)."""
    return [
        lab == "ai" if src != "splice" or t is None else score >= t
        for _, _, score, lab, src in segs
    ]


def splice_sweep(
    per_fold: dict, thresholds=(None, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
) -> list[dict]:
    """Segment labels under other splice thresholds, from the same scored segments."""
    out = []
    for t in thresholds:
        ious, mixed, false_mixed, real_ai = [], [], [], []
        for row in per_fold.values():
            for c in row["mixed"]["clips"]:
                lab = _flagged(c["segments"], t)
                ai = [(s, e) for (s, e, *_), x in zip(c["segments"], lab, strict=True) if x]
                ious.append(union_tiou(ai, tuple(c["truth"])))
                mixed.append(any(lab) and not all(lab))
            rr = row["real_in_real"]["clips"]
            false_mixed += [any(_flagged(c["segments"], t)) for c in rr]
            real_ai += [any(_flagged(segs, t)) for segs in row["real_clips"]]
        out.append(
            {
                "threshold": t,
                "mixed_mean_tiou": float(np.mean(ious)),
                "mixed_labelled_mixed": float(np.mean(mixed)),
                "real_in_real_with_ai_segment": float(np.mean(false_mixed)),
                "real_clips_with_ai_segment": float(np.mean(real_ai)),
                "n": [len(ious), len(false_mixed), len(real_ai)],
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--model", default="forensic-rf")
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--mixed-per-fold", type=int, default=10)
    ap.add_argument("--splice-pool", type=int, default=300)
    ap.add_argument("--skip-generator", action="store_true")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument(
        "--cache",
        help="Pickle of the encoded windows and splice pool (reused when present, whatever "
        "--windows and --splice-pool say: delete it after changing them).",
    )
    ap.add_argument("--generator-only", action="store_true", help="Re-run the generator check.")
    ap.add_argument("--n-generated", type=int, default=5)
    ap.add_argument("--speed-only", action="store_true", help="Re-measure scan speed only.")
    ap.add_argument(
        "--sweep-only",
        action="store_true",
        help="Recompute the splice-threshold sweep from the results' stored segments.",
    )
    ap.add_argument(
        "--every-camera-only",
        action="store_true",
        help="Re-run the every-camera check only (needs --cache).",
    )
    a = ap.parse_args()
    data = data_dir(a.data)
    if a.every_camera_only:
        entries = read_index(data)
        path = Path(a.out) / "detector.json"
        result = json.loads(path.read_text())
        train_win, ts = pickle.loads(Path(a.cache).read_bytes())[:2]
        ec = every_camera(a.model, train_win, ts["enc"]["clean"], entries)
        result["every_camera"] = ec
        write_results("detector", result, markdown(result), a.out)
        return
    if a.sweep_only:
        path = Path(a.out) / "detector.json"
        result = json.loads(path.read_text())
        result["splice_sweep"] = splice_sweep(result["logo"]["per_generator"])
        write_results("detector", result, markdown(result), a.out)
        return
    if a.speed_only or a.generator_only:
        from vidprov.detector import load_default

        path = Path(a.out) / "detector.json"
        result = json.loads(path.read_text())
        with tempfile.TemporaryDirectory() as tmp:
            if a.speed_only:
                result["scan_speed_480p"] = scan_speed(load_default(), data, Path(tmp))
            else:
                result["generator_crf28"] = generator_check(
                    load_default(), a.n_generated, Path(tmp)
                )
        write_results("detector", result, markdown(result), a.out)
        return
    entries = read_index(data)
    folds = logo_folds(entries)
    y = np.array([e.y for e in entries])
    det = create(a.model)
    t0 = time.time()
    cache = Path(a.cache) if a.cache else None
    with tempfile.TemporaryDirectory() as tmp:
        stored = pickle.loads(cache.read_bytes()) if cache and cache.is_file() else ()
        if len(stored) >= 2:
            train_win, ts = stored[:2]
        else:
            train_win = build_windows(entries, det, a.windows, 0)
            ts = test_set(entries, det, Path(tmp))
        pool = stored[2] if len(stored) == 3 else build_samples(det, entries, a.splice_pool, 3)
        if cache and len(stored) < 3:
            cache.write_bytes(pickle.dumps((train_win, ts, pool)))
        print(f"windows and splice pool built in {time.time() - t0:.0f} s", flush=True)
        per_fold, pooled, mixed = {}, {k: ([], []) for k in ATTACKS}, []
        pooled_clips: list[int] = []
        for gen, tr, te in folds:
            pooled_clips.extend(te)
            idx = train_win.of(tr)
            d = create(a.model)
            fit(d, train_win, idx, 5, 0)
            train_groups = {entries[i].group for i in tr}
            own = [p for p in pool if p.host in train_groups and p.insert in train_groups]
            d.splice = fit_splice(d, own, held_out_logits(d, train_win, idx, own, 0))
            row = {"splice": d.splice.report}
            for name in ATTACKS:
                s = np.array([d.result(ts["enc"][name][i]).clip_score for i in te])
                row[name] = clip_metrics(y[te], s, d.threshold)
                pooled[name][0].extend(y[te].tolist())
                pooled[name][1].extend(s.tolist())
            hosts = splice_hosts([entries[i] for i in te])
            ins = [entries[i] for i in te if entries[i].label == "ai"]
            row["mixed"] = mixed_report(d, hosts, ins, a.mixed_per_fold, 7, detail=True)
            # control: camera pieces spliced into camera hosts (any "ai" segment is false)
            row["real_in_real"] = mixed_report(d, hosts, hosts, a.mixed_per_fold, 8, detail=True)
            # whole camera clips of the test side: how often a real clip gets an "ai" segment
            row["real_clips"] = [
                [
                    (s.start, s.end, s.score, s.label, s.source)
                    for s in d.score_file(entries[i].file).segments
                ]
                for i in te
                if entries[i].label == "real"
            ]
            row["threshold"] = d.threshold
            mixed.append(row["mixed"])
            per_fold[gen] = row
            print(gen, json.dumps({k: row[k].get("auc") for k in ATTACKS}), flush=True)
        ec = every_camera(a.model, train_win, ts["enc"]["clean"], entries)
        raw_meta = np.array([meta_vec(e.file) for e in entries])
        base = {
            "as_shipped": meta_baseline(raw_meta, y, folds),
            "normalised": meta_baseline(ts["meta"], y, folds),
        }
        # the scan checks use one model fitted on all windows, as the shipped one is
        full = create(a.model)
        every = np.arange(len(train_win.encoded))
        fit(full, train_win, every, 5, 0)
        full.splice = fit_splice(full, pool, held_out_logits(full, train_win, every, pool, 0))
        gen_check = None if a.skip_generator else generator_check(full, a.n_generated, Path(tmp))
        speed = scan_speed(full, data, Path(tmp))
    aucs = {g: r["clean"]["auc"] for g, r in per_fold.items()}
    fpr = [r["clean"]["real_false_alarm"] for r in per_fold.values()]
    n_real = [sum(1 for i in te if y[i] == 0) for _, _, te in folds]
    nm = sum(m["n"] for m in mixed)
    result = {
        "model": a.model,
        "clips": len(entries),
        "train_windows_per_clip": a.windows,
        "logo": {
            "mean_auc": float(np.mean(list(aucs.values()))),
            "worst_auc": float(min(aucs.values())),
            "per_generator": per_fold,
            "real_false_alarm": float(np.average(fpr, weights=n_real)),
        },
        "robustness": {
            name: {
                "mean_auc": float(np.mean([r[name]["auc"] for r in per_fold.values()])),
                "pooled_auc": float(roc_auc_score(*pooled[name])),
            }
            for name in ATTACKS
        },
        "every_camera": ec,
        "mixed": {
            "n": nm,
            "ap50": float(sum(m["ap50"] * m["n"] for m in mixed) / max(nm, 1)),
            "ap75": float(sum(m["ap75"] * m["n"] for m in mixed) / max(nm, 1)),
            "mean_tiou": float(sum(m["mean_tiou"] * m["n"] for m in mixed) / max(nm, 1)),
            "mean_tiou_top_segment": float(
                sum(m["mean_tiou_top_segment"] * m["n"] for m in mixed) / max(nm, 1)
            ),
            "labelled_mixed": float(sum(m["labelled_mixed"] * m["n"] for m in mixed) / max(nm, 1)),
        },
        "splice_sweep": splice_sweep(per_fold),
        "splice_pool": len(pool),
        "metadata_baseline": base,
        "resolution_control": resolution_control(raw_meta, pooled_clips, *pooled["clean"]),
        "generator_crf28": gen_check,
        "scan_speed_480p": speed,
        "seconds": time.time() - t0,
    }
    write_results("detector", result, markdown(result), a.out)


def markdown(r: dict) -> str:
    lg = r["logo"]
    lines = [
        f"# Detector benchmark ({r['model']}, {r['clips']} clips, leave-one-generator-out)",
        "",
        "| generator | AUC clean | AUC CRF35 | AUC 0.5x | AUC GIF | AP | EER | real false alarms "
        "| mixed AP@0.5 | mixed tIoU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g, row in lg["per_generator"].items():
        c = row["clean"]
        lines.append(
            f"| {g} | {c['auc']:.3f} | {row['crf35']['auc']:.3f} | {row['resize0.5']['auc']:.3f} "
            f"| {row['gif']['auc']:.3f} | {c['ap']:.3f} | {c['eer']:.3f} "
            f"| {c['real_false_alarm']:.1%} "
            f"| {row['mixed'].get('ap50', 0):.2f} | {row['mixed'].get('mean_tiou', 0):.2f} |"
        )
    rb, m, b = r["robustness"], r["mixed"], r["metadata_baseline"]
    lines += [
        "",
        f"- LOGO mean AUC **{lg['mean_auc']:.3f}**, worst **{lg['worst_auc']:.3f}**; "
        f"real false alarms at the default threshold **{lg['real_false_alarm']:.1%}**",
        f"- robustness (mean AUC): clean {rb['clean']['mean_auc']:.3f}, CRF 35 "
        f"{rb['crf35']['mean_auc']:.3f}, 0.5x resize {rb['resize0.5']['mean_auc']:.3f}, "
        f"every test window through a GIF palette {rb['gif']['mean_auc']:.3f} "
        "(all AI clips of the data were GIFs, 15 of 111 camera clips)",
        f"- mixed clips ({m['n']}): AP@0.5 {m['ap50']:.3f}, AP@0.75 {m['ap75']:.3f}, "
        f"mean tIoU {m['mean_tiou']:.3f} (segments labelled ai at the threshold; top-scored "
        f"segment {m['mean_tiou_top_segment']:.3f}); labelled mixed {m['labelled_mixed']:.0%}",
        f"- metadata-only baseline (random forest on width, height, fps, frames, bitrate), LOGO "
        f"mean AUC: as shipped {b['as_shipped']['mean_auc']:.3f}, after normalisation "
        f"{b['normalised']['mean_auc']:.3f}",
    ]
    ec = r.get("every_camera")
    if ec:
        per = ", ".join(f"{g.split(' ')[0]} {v:.3f}" for g, v in ec["per_generator"].items())
        lines.append(
            f"- each generator against every camera clip ({ec['n_camera']}, cross-fitted; "
            f"uncalibrated): mean AUC {ec['mean_auc']:.3f}, worst {ec['worst_auc']:.3f} ({per})"
        )
    rc = r.get("resolution_control")
    if rc:
        lo, hi = rc["short_side_le_320"], rc["short_side_gt_320"]
        lines.append(
            f"- source resolution control: pooled clean AUC {lo['pooled_auc']:.3f} on clips whose "
            f"source's short side is at most 320 ({lo['n_ai']} AI, {lo['n_real']} camera), "
            f"{hi['pooled_auc']:.3f} above it ({hi['n_ai']} AI, {hi['n_real']} camera); the "
            f"short side alone scores {rc['source_short_side_alone_auc']:.3f}"
        )
    lines += [
        "",
        "Segment labels by splice threshold (fold's own = the threshold each fold's splice model "
        "chose for 10% camera-in-camera flags out of fold); real-in-real: camera pieces spliced "
        "into camera hosts; real clips: whole camera clips.",
        "",
        "| splice threshold | mixed tIoU | mixed clips labelled mixed "
        "| real-in-real with an ai segment | real clips with an ai segment |",
        "|---|---|---|---|---|",
    ]
    for c in r.get("splice_sweep", []):
        name = "each fold's own" if c["threshold"] is None else f"{c['threshold']:.1f}"
        lines.append(
            f"| {name} | {c['mixed_mean_tiou']:.3f} "
            f"| {c['mixed_labelled_mixed']:.0%} | {c['real_in_real_with_ai_segment']:.0%} "
            f"| {c['real_clips_with_ai_segment']:.1%} |"
        )
    lines.append("")
    g = r.get("generator_crf28")
    if g:
        lines.append(f"- our generator's clips after CRF 28 scanned `ai`: {g['ai']}/{g['n']}")
    s = r["scan_speed_480p"]
    lines.append(
        f"- scan of a 10 s 854x480 30 fps clip: {s['scan_seconds']:.2f} s "
        f"({s['x_real_time']:.1f}x real time; classifier alone {s['classifier_seconds']:.2f} s) "
        f"on {s['cores']} cores"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
