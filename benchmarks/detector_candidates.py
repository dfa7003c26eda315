"""Candidate forensic feature groups for ``forensic-rf``, each added to the shipped features, on
a fast per-window protocol: is a new group worth a full benchmark run?

Usage: .venv/bin/python benchmarks/detector_candidates.py --work DIR [--data DIR] [--seeds 2]
       [--max-features sqrt log2 4 ...]   (the forest's setting instead, on the shipped features)
``DIR`` keeps the normalised windows (two per clip, seed 0, for training; one per clip, seed 1,
and its CRF 35 / 0.5x / GIF copies, for testing: the draws of ``benchmarks/detector.py``) and
their features, and reuses them when present. Writes benchmarks/results/detector_candidates.*

Each window is one row: the mean and spread of its frames' features (the shipped model
aggregates ±1 s around every frame; a 2 s window is about one such span). An extra-trees forest
with the shipped settings is fitted per fold and seed, uncalibrated. Two protocols:
``logo`` (the benchmark's folds: each generator against its fold's share of camera clips) and
``every`` (each generator against every camera clip, cross-fitted as in
``detector.every_camera``). The row ``shipped`` is the model's own features (temporal ones left
out, as shipped); ``without chroma co-occurrences`` is the set before they were added.
"""

from __future__ import annotations

import argparse
import pickle
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from _common import RESULTS, data_dir, write_results
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.metrics import roc_auc_score

from vidprov.detector.data import (
    attack,
    every_camera_fits,
    logo_folds,
    normalised_windows,
    read_index,
)
from vidprov.detector.features import _Q, FEATURE_NAMES, _cooc, frame_features
from vidprov.detector.models.forensic import ForensicDetector
from vidprov.detector.sampling import sample_frames

ATTACKS = {"crf35": (35, 1.0), "resize0.5": (23, 0.5), "gif": (23, 1.0, True)}
SETS = ["clean", *ATTACKS]


def _q(d: np.ndarray, step: float, t: int = _Q) -> np.ndarray:
    return np.clip(np.rint(d / step), -t, t).astype(np.int64)


def _pairs(img: np.ndarray, step: float) -> np.ndarray:
    return np.concatenate(
        [_cooc(_q(np.diff(img, axis=1), step), 1), _cooc(_q(np.diff(img, axis=0), step), 0)]
    )


def _diag(img: np.ndarray, step: float) -> np.ndarray:
    d1, d2 = img[1:, 1:] - img[:-1, :-1], img[1:, :-1] - img[:-1, 1:]
    return np.concatenate([_cooc(_q(d1, step), 1), _cooc(_q(d2, step), 1)])


def _blocks(a: np.ndarray, b: int = 16) -> np.ndarray:
    h, w = a.shape[0] // b * b, a.shape[1] // b * b
    return a[:h, :w].reshape(h // b, b, w // b, b).swapaxes(1, 2).reshape(-1, b * b)


def _noise_levels(y: np.ndarray) -> np.ndarray:
    """Block noise levels: percentiles in the flattest quarter and overall, their slope and
    correlation against brightness (sensor noise grows with signal) and against structure."""
    res = y - cv2.medianBlur(y.astype(np.uint8), 3).astype(np.float32)
    sm = cv2.GaussianBlur(y, (0, 0), 2.0)
    g = np.hypot(cv2.Sobel(sm, cv2.CV_32F, 1, 0), cv2.Sobel(sm, cv2.CV_32F, 0, 1))
    rb = _blocks(res)
    noise, mean = np.log(rb.std(1) + 0.05), _blocks(y).mean(1) / 255
    grad = np.log(_blocks(g).mean(1) + 1e-3)
    flat = np.argsort(grad)[: max(4, len(grad) // 4)]
    nf, mf = noise[flat], mean[flat]
    ok = (mf > 0.06) & (mf < 0.94)
    slope = corr = 0.0
    if ok.sum() >= 4 and mf[ok].std() > 1e-3 and nf[ok].std() > 1e-6:
        slope = float(np.polyfit(mf[ok], nf[ok], 1)[0])
        corr = float(np.corrcoef(mf[ok], nf[ok])[0, 1])
    cg = float(np.corrcoef(grad, noise)[0, 1]) if noise.std() > 1e-6 else 0.0
    p, pa = np.percentile(nf, [10, 50, 90]), np.percentile(noise, [10, 50, 90])
    tail = float((rb.std(1)[flat] < 0.3).mean())
    return np.array([*p, p[2] - p[0], nf.std(), slope, corr, cg, *pa, pa[2] - pa[0], tail])


def candidates(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Each candidate group's values for one prepared frame."""
    y = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    cr, cb = ycc[..., 1], ycc[..., 2]
    r2x = y[:, :-2] - 2 * y[:, 1:-1] + y[:, 2:]
    r2y = y[:-2] - 2 * y[1:-1] + y[2:]
    dx, dy = _q(np.diff(y, axis=1), 2, 1), _q(np.diff(y, axis=0), 2, 1)
    tx = np.bincount(
        ((dx[:, :-2] + 1) * 9 + (dx[:, 1:-1] + 1) * 3 + dx[:, 2:] + 1).ravel(), None, 27
    )
    ty = np.bincount(((dy[:-2] + 1) * 9 + (dy[1:-1] + 1) * 3 + dy[2:] + 1).ravel(), None, 27)
    qcr, qcb, qy = (_q(np.diff(c, axis=1), s) for c, s in ((cr, 1), (cb, 1), (y, 2)))

    def joint(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        h = np.bincount(((a + _Q) * (2 * _Q + 1) + b + _Q).ravel(), None, (2 * _Q + 1) ** 2)
        return h / h.sum()

    return {
        "luma second-order": np.concatenate([_cooc(_q(r2x, 2), 1), _cooc(_q(r2y, 2), 0)]),
        "luma diagonal": _diag(y, 2),
        "luma at half scale": _pairs(cv2.pyrDown(y), 2),
        "luma step 1": _pairs(y, 1),
        "luma step 4": _pairs(y, 4),
        "luma triples": np.concatenate([tx / tx.sum(), ty / ty.sum()]),
        "chroma step 2": np.concatenate([_pairs(cr, 2), _pairs(cb, 2)]),
        "chroma diagonal": np.concatenate([_diag(cr, 1), _diag(cb, 1)]),
        "across channels": np.concatenate([joint(qcr, qcb), joint(qy, qcr), joint(qy, qcb)]),
        "block noise levels": _noise_levels(y),
    }


def _window_features(path: Path) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    base, extra, state = [], {}, None
    for _, rgb in sample_frames(path):
        vec, state = frame_features(rgb, state)
        base.append(vec)
        for k, v in candidates(rgb).items():
            extra.setdefault(k, []).append(v)
    return path.name, np.stack(base), {k: np.stack(v) for k, v in extra.items()}


def build(entries, work: Path) -> dict:
    """Windows and their features, from ``work`` when already there."""
    cache = work / "features.pkl"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    rng = np.random.default_rng(0)
    for i, e in enumerate(entries):
        normalised_windows(e, [work / f"tr{i}_{k}.mp4" for k in range(2)], rng)
    rng = np.random.default_rng(1)
    for i, e in enumerate(entries):
        w = normalised_windows(e, [work / f"te{i}.mp4"], rng)[0]
        for name, spec in ATTACKS.items():
            attack(w, work / f"te{i}_{name}.mp4", *spec)
    with ProcessPoolExecutor(2) as ex:
        feats = {n: (b, x) for n, b, x in ex.map(_window_features, sorted(work.glob("*.mp4")))}
    cache.write_bytes(pickle.dumps(feats))
    return feats


def _agg(x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nan_to_num(np.concatenate([np.nanmean(x, 0), np.nanstd(x, 0)]), nan=-1.0)


def rows(feats: dict, n: int, skip: tuple[str, ...], extra: list[str]) -> tuple[dict, dict]:
    used = np.array([not f.startswith(skip) for f in FEATURE_NAMES])

    def vec(name: str) -> np.ndarray:
        b, x = feats[name]
        return _agg(np.concatenate([b[:, used], *(x[g] for g in extra)], axis=1))

    tr = {i: [vec(f"tr{i}_{k}.mp4") for k in range(2)] for i in range(n)}
    te = {
        s: {i: vec(f"te{i}.mp4" if s == "clean" else f"te{i}_{s}.mp4") for i in range(n)}
        for s in SETS
    }
    return tr, te


#: the shipped forest's settings, which every variant uses unless ``--max-features`` says
SHIPPED = {
    k: ForensicDetector.DEFAULTS[k] for k in ("n_estimators", "min_samples_leaf", "max_features")
}


def _fit_score(
    tr, y, train: list[int], tests: list[np.ndarray], seeds: int, forest: dict
) -> list[np.ndarray]:
    x = np.array([v for i in train for v in tr[i]])
    t = np.array([y[i] for i in train for _ in tr[i]])
    out = [np.zeros(len(a)) for a in tests]
    for s in range(seeds):
        m = ExtraTreesClassifier(random_state=s, n_jobs=-1, **forest)
        m.fit(x, t)
        for k, a in enumerate(tests):
            out[k] += m.predict_proba(a)[:, 1] / seeds
    return out


def evaluate(tr, te, entries, seeds: int, forest: dict = SHIPPED) -> dict:
    """Per test set: mean and worst AUC over generators, for both protocols."""
    y = np.array([e.y for e in entries])
    folds = logo_folds(entries)
    logo: dict[str, list[float]] = {s: [] for s in SETS}
    every: dict[str, list[float]] = {s: [] for s in SETS}
    for _, train, test in folds:
        tests = [np.array([te[s][i] for i in test]) for s in SETS]
        ps = _fit_score(tr, y, train, tests, seeds, forest)
        for s, p in zip(SETS, ps, strict=True):
            logo[s].append(float(roc_auc_score(y[test], p)))
    for fits in every_camera_fits(entries):
        ai = fits[0].ai
        s_ai = {s: np.zeros(len(ai)) for s in SETS}
        s_cam: dict[str, dict[int, float]] = {s: {} for s in SETS}
        for f in fits:
            cam, train_k = f.camera, f.train
            tests = [np.array([te[s][i] for i in ai + cam]) for s in SETS]
            scores = _fit_score(tr, y, train_k, tests, seeds, forest)
            for s, p in zip(SETS, scores, strict=True):
                s_ai[s] += p[: len(ai)] / len(fits)
                s_cam[s].update(zip(cam, p[len(ai) :], strict=True))
        for s in SETS:
            truth = [1] * len(ai) + [0] * len(s_cam[s])
            every[s].append(float(roc_auc_score(truth, [*s_ai[s], *s_cam[s].values()])))
    return {
        name: {
            s: {"mean": float(np.mean(v[s])), "worst": float(min(v[s])), "per_generator": v[s]}
            for s in SETS
        }
        for name, v in (("logo", logo), ("every", every))
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True, help="Folder for the windows and their features.")
    ap.add_argument("--data")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument(
        "--max-features",
        nargs="+",
        help="Screen the forest's features per split instead (shipped features, each value: "
        "sqrt, log2 or a count); writes detector_forest.*",
    )
    a = ap.parse_args()
    entries = read_index(data_dir(a.data))
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    feats = build(entries, work)
    built = time.time() - t0
    if a.max_features:
        forests(feats, entries, a, built, t0)
        return
    some = next(iter(feats.values()))[1]
    variants = [("shipped", ("t_",), []), ("without chroma co-occurrences", ("t_", "cc_"), [])]
    variants += [(f"+ {g}", ("t_",), [g]) for g in some]
    variants.append(("+ temporal (shipped leaves it out)", (), []))
    results = {}
    for name, skip, extra in variants:
        results[name] = evaluate(*rows(feats, len(entries), skip, extra), entries, a.seeds)
        r = results[name]
        print(
            name,
            round(r["logo"]["clean"]["mean"], 3),
            round(r["every"]["clean"]["mean"], 3),
            flush=True,
        )
    out = {
        "seeds": a.seeds,
        "build_seconds": built,
        "seconds": time.time() - t0,
        "variants": results,
    }
    write_results("detector_candidates", out, markdown(out, "Candidate feature groups"), a.out)


def forests(feats: dict, entries: list, a: argparse.Namespace, built: float, t0: float) -> None:
    """The shipped features under each ``--max-features`` value (other settings as shipped)."""
    results = {}
    tr, te = rows(feats, len(entries), ("t_",), [])
    for v in a.max_features:
        forest = {**SHIPPED, "max_features": int(v) if v.isdigit() else v}
        name = f"max_features={v}"
        if forest == SHIPPED:
            name += " (shipped)"
        results[name] = evaluate(tr, te, entries, a.seeds, forest)
        print(name, round(results[name]["logo"]["clean"]["mean"], 3), flush=True)
    out = {"seeds": a.seeds, "build_seconds": built, "seconds": time.time() - t0}
    out["variants"] = results
    write_results("detector_forest", out, markdown(out, "Forest features per split"), a.out)


def markdown(r: dict, title: str) -> str:
    head = " | ".join(f"{p} {s}" for p in ("logo", "every") for s in SETS)
    lines = [
        f"# {title} (forensic-rf, per-window rows, {r['seeds']} forest seeds)",
        "",
        "Mean AUC over generators (worst in brackets for clean); logo: each generator against "
        "its fold's camera clips; every: against every camera clip, cross-fitted.",
        "",
        f"| features | {head} |",
        "|---|" + "---|" * (2 * len(SETS)),
    ]
    for name, v in r["variants"].items():
        cells = []
        for p in ("logo", "every"):
            for s in SETS:
                c = v[p][s]
                cells.append(f"{c['mean']:.3f}" + (f" ({c['worst']:.3f})" if s == "clean" else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
