"""Watermark benchmark: robustness per attack, false positives, quality, speed.

Usage: .venv/bin/python benchmarks/watermark.py [--data DIR] [--clips N] [--keys K]
Data: ../shared/data/clips (or $VIDPROV_DATA): the camera clips, looped/cut to 5 s, at 640x360
(and 1280x720 for speed), plus synthetic flat and dark clips. Writes benchmarks/results/
watermark.json and watermark.md. Measures; never passes or fails.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
from _common import data_dir, write_results

from vidprov.media import EncodeOptions, VideoReader, VideoWriter, YUVFrame
from vidprov.watermark import WatermarkConfig, detect, detect_file, embed_file
from vidprov.watermark.config import keyed_pattern
from vidprov.watermark.detect import _Accumulator, _reading

KEY = bytes(range(32))
PAYLOAD = "a5c3f00d12345678"
FPS = 30


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _write(
    path: Path,
    frames: list[np.ndarray] | list[YUVFrame],
    fps: float = FPS,
    crf: int = 18,
    codec: str = "libx264",
) -> Path:
    """Encode RGB arrays or YUV frames (written as they are, as ``embed_file`` writes them)."""
    h, w = getattr(frames[0], "y", frames[0]).shape[:2]
    with VideoWriter(path, w, h, fps, EncodeOptions(crf=crf, codec=codec, preset="medium")) as out:
        for f in frames:
            out.write(f)
    return path


def material(data: Path, n: int, work: Path, size: tuple[int, int]) -> list[Path]:
    """``n`` camera clips from the data, then the flat and the dark synthetic clip."""
    return camera_clips(data, n, work, size) + synthetic_clips(work, size)


def camera_clips(data: Path, n: int, work: Path, size: tuple[int, int]) -> list[Path]:
    """``n`` real clips of the data looped to 5 s at ``size``, encoded at CRF 10."""
    with open(data / "index.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["label"] == "real" and int(r["frames"]) >= 45]
    picks = rows[:: max(1, len(rows) // n)][:n]
    out = []
    for i, r in enumerate(picks):
        src = _frames(data / r["file"])
        frames = [
            cv2.resize(src[k % len(src)], size, interpolation=cv2.INTER_AREA)
            for k in range(5 * FPS)
        ]
        out.append(_write(work / f"real{i}_{size[0]}.mp4", frames, crf=10))
    return out


def synthetic_clips(work: Path, size: tuple[int, int]) -> list[Path]:
    """A brightening flat gradient and a still dark gradient, 5 s at ``size``, CRF 10."""
    w, h = size
    yy = np.linspace(0, 1, h)[:, None, None]
    flat = [
        np.clip(np.full((h, w, 3), 128.0) + 4 * yy + 0.3 * k, 0, 255).astype(np.uint8)
        for k in range(5 * FPS)
    ]
    dark = [
        np.clip(
            np.full((h, w, 3), 14.0) + 20 * yy * np.linspace(0, 1, w)[None, :, None], 0, 255
        ).astype(np.uint8)
        for _ in range(5 * FPS)
    ]
    return [
        _write(work / f"flat_{w}.mp4", flat, crf=10),
        _write(work / f"dark_{w}.mp4", dark, crf=10),
    ]


def half_size(frames: list[np.ndarray]) -> list[np.ndarray]:
    """RGB frames scaled to half width and height (even sizes, area filter): an upload made
    small."""
    h, w = frames[0].shape[:2]
    return [cv2.resize(f, (w // 4 * 2, h // 4 * 2), interpolation=cv2.INTER_AREA) for f in frames]


def attacks(marked: Path, host: Path, work: Path) -> dict[str, Path]:
    fr = _frames(marked)
    h, w = fr[0].shape[:2]
    res: dict[str, Path] = {}
    for crf in (23, 28, 35):
        res[f"h264_crf{crf}"] = _write(work / f"a_crf{crf}.mp4", fr, crf=crf)
    res["h265_crf28"] = _write(work / "a_h265.mp4", fr, crf=28, codec="libx265")
    res["resize_0.5_crf23"] = _write(work / "a_half.mp4", half_size(fr), crf=23)
    dy, dx = int(h * 0.1), int(w * 0.1)
    res["crop_10pct_crf23"] = _write(
        work / "a_crop.mp4", [f[dy : h - dy, dx : w - dx] for f in fr], crf=23
    )
    for name, g, b in (
        ("bright+15", 1.0, 0.15),
        ("bright-15", 1.0, -0.15),
        ("contrast0.8", 0.8, 0.0),
        ("contrast1.2", 1.2, 0.0),
    ):
        adj = [
            np.clip((f.astype(np.float32) - 128) * g + 128 + b * 255, 0, 255).astype(np.uint8)
            for f in fr
        ]
        res[name] = _write(work / f"a_{name}.mp4", adj, crf=23)
    idx = np.floor(np.arange(int(len(fr) * 24 / FPS)) * FPS / 24).astype(int)
    res["fps_30to24"] = _write(work / "a_fps.mp4", [fr[i] for i in idx], fps=24, crf=23)
    mid = len(fr) // 2
    res["trim_2s"] = _write(work / "a_trim.mp4", fr[mid - FPS : mid + FPS], crf=23)
    return res


def splice(host: Path, marked: Path, work: Path) -> tuple[Path, tuple[float, float]]:
    a, m = _frames(host), _frames(marked)
    frames = a[:FPS] + m[FPS : 4 * FPS] + a[4 * FPS :] + a[:FPS]  # 3 s marked in 6 s
    return _write(work / "a_splice.mp4", frames, crf=23), (1.0, 4.0)


def quality(src: Path, marked: Path) -> dict[str, float]:
    ps, ss = [], []
    with VideoReader(src) as a, VideoReader(marked) as b:
        for fa, fb in zip(a.frames("yuv420p"), b.frames("yuv420p"), strict=False):
            x, y = fa.y.astype(np.float64), fb.y.astype(np.float64)
            mse = np.mean((x - y) ** 2)
            ps.append(99.0 if mse == 0 else 10 * math.log10(255**2 / mse))
            ss.append(_ssim(x, y))
    return {
        "psnr_mean": float(np.mean(ps)),
        "psnr_min": float(np.min(ps)),
        "ssim_mean": float(np.mean(ss)),
    }


def _ssim(x: np.ndarray, y: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda z: cv2.GaussianBlur(z, (11, 11), 1.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    return float(
        np.mean(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    )


def false_positives(
    clips: list[Path], keys: int, sync_keys: int, cfg: WatermarkConfig
) -> dict[str, object]:
    """Unmarked 2 s windows x many keys, read by the detector's own decision (``_reading``).
    The residual sums do not depend on the key, so each 2 s window (four 0.5 s windows) is
    accumulated once and read once per key: with the crop/scale search for the first
    ``sync_keys`` keys, without it (where-embedded hypothesis only) for the rest."""
    excerpts = []
    for c in clips:
        with VideoReader(c) as r:
            frames = list(r.frames("yuv420p"))
        for s0 in range(0, len(frames) - 2 * FPS + 1, 2 * FPS):
            acc = _Accumulator(keyed_pattern(KEY, cfg.grid, cfg.pilot_fraction), cfg)
            for f in frames[s0 : s0 + 2 * FPS]:
                acc.add(f.time, f.y)
            excerpts.append((acc.finish(), acc.times))
    counts = {"plain": [0, 0], "sync": [0, 0]}  # [windows, detections]
    pmin = {"plain": 1.0, "sync": 1.0}
    for k in range(keys):
        key = np.random.default_rng(k).bytes(32)
        pat = keyed_pattern(key, cfg.grid, cfg.pilot_fraction)
        kind = "sync" if k < sync_keys else "plain"
        kcfg = replace(cfg, sync=kind == "sync")
        for windows, times in excerpts:
            acc = _Accumulator(pat, kcfg)
            acc.windows, acc.times, acc.frame_z = list(windows), list(times), [0.0] * len(times)
            r = _reading(acc, None)
            counts[kind][0] += 1
            counts[kind][1] += r.detected
            pmin[kind] = min(pmin[kind], r.p_value)
    return {
        "windows": counts["plain"][0] + counts["sync"][0],
        "detections": counts["plain"][1] + counts["sync"][1],
        "windows_with_sync_search": counts["sync"][0],
        "detections_with_sync_search": counts["sync"][1],
        "min_p_value": min(pmin.values()),
    }


def speed(clip: Path, cfg: WatermarkConfig) -> dict[str, float]:
    from vidprov.watermark import embed

    with VideoReader(clip) as r:
        frames = list(r.frames("yuv420p"))[:60]
    t = time.perf_counter()
    marked = list(embed(iter(frames), PAYLOAD, KEY, cfg))
    te = time.perf_counter() - t
    t = time.perf_counter()
    detect(iter(marked), KEY, cfg)
    td = time.perf_counter() - t
    t = time.perf_counter()
    detect(iter(frames), KEY, cfg)  # unmarked: the crop/scale search runs too
    tu = time.perf_counter() - t
    return {
        "embed_fps": len(frames) / te,
        "detect_fps": len(frames) / td,
        "detect_fps_unmarked_with_sync_search": len(frames) / tu,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--keys", type=int, default=700)
    ap.add_argument("--sync-keys", type=int, default=50, help="keys read with the crop search")
    ap.add_argument("--work", default="/tmp/vidprov-bench-wm")
    ap.add_argument("--size", default="640x360", help="test clip size, WIDTHxHEIGHT")
    ap.add_argument("--tag", default="", help="suffix of the result files (watermark<TAG>.md)")
    ap.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the invisible-watermark baseline (needs the bench extra; ~14 min)",
    )
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cfg = WatermarkConfig()
    data = data_dir(args.data)
    width, height = (int(v) for v in args.size.split("x"))
    clips = material(data, args.clips, work, (width, height))
    per_attack: dict[str, list[bool]] = {}
    qual, splice_err, sizes = [], [], []  # sizes: (marked, plain) bytes at CRF 23
    for i, c in enumerate(clips):
        cw = work / f"c{i}"
        cw.mkdir(exist_ok=True)
        marked = Path(
            embed_file(
                c, cw / "marked.mp4", KEY, PAYLOAD, cfg, EncodeOptions(crf=0), read_back=False
            ).output
        )
        q = quality(c, marked)
        q["clip"] = c.name
        qual.append(q)
        r = detect_file(marked, KEY, cfg)
        per_attack.setdefault("none", []).append(r.detected and r.payload == PAYLOAD)
        plain23 = _write(cw / "plain23.mp4", _frames(c), crf=23).stat().st_size
        for name, path in attacks(marked, c, cw).items():
            r = detect_file(path, KEY, cfg)
            per_attack.setdefault(name, []).append(r.detected and r.payload == PAYLOAD)
            if name == "h264_crf23":
                sizes.append((path.stat().st_size, plain23))
        sp, (s0, s1) = splice(c, marked, cw)
        r = detect_file(sp, KEY, cfg)
        ok = r.detected and len(r.segments) >= 1
        err = max(abs(r.segments[0].start - s0), abs(r.segments[0].end - s1)) if ok else None
        splice_err.append(err)
        per_attack.setdefault("splice_3s", []).append(
            bool(ok and err is not None and err <= 0.5 and r.payload == PAYLOAD)
        )
        print(f"{c.name}: psnr {q['psnr_mean']:.1f}/{q['psnr_min']:.1f}", flush=True)
    fp = false_positives(clips, args.keys, args.sync_keys, cfg)
    big = camera_clips(data, 1, work, (1280, 720))[0]
    sp = speed(big, cfg)
    bitrate = [a / b - 1 for a, b in sizes]
    n_cam = len(clips) - 2
    result = {
        "clips": len(clips),
        "exact_payload_rate": {k: sum(v) / len(v) for k, v in per_attack.items()},
        "exact_payload_rate_camera": {k: sum(v[:n_cam]) / n_cam for k, v in per_attack.items()},
        "exact_payload_flat_dark": {k: v[n_cam:] for k, v in per_attack.items()},
        "quality": {
            "psnr_y_mean": float(np.mean([q["psnr_mean"] for q in qual])),
            "psnr_y_worst_frame": float(np.min([q["psnr_min"] for q in qual])),
            "psnr_y_mean_camera": float(np.mean([q["psnr_mean"] for q in qual[:n_cam]])),
            "ssim_mean": float(np.mean([q["ssim_mean"] for q in qual])),
            "per_clip": qual,
            "bitrate_increase_crf23": float(np.mean(bitrate)),
            "bitrate_increase_crf23_camera": float(np.mean(bitrate[:n_cam])),
            "bitrate_increase_crf23_flat_dark": bitrate[n_cam:],
            "bytes_crf23_flat_dark_marked_plain": sizes[n_cam:],
            "bitrate_increase_crf23_all_bytes": sum(a for a, _ in sizes) / sum(b for _, b in sizes)
            - 1,
        },
        "splice_boundary_error_s": splice_err,
        "false_positives": fp,
        "speed_1280x720": sp,
    }
    lines = [
        "| attack | exact 64-bit payload, all clips | camera clips | flat | dark |",
        "| --- | --- | --- | --- | --- |",
    ]
    yes = {True: "yes", False: "no"}
    lines += [
        f"| {k} | {v:.0%} | {result['exact_payload_rate_camera'][k]:.0%} | "
        + " | ".join(yes[ok] for ok in result["exact_payload_flat_dark"][k])
        + " |"
        for k, v in result["exact_payload_rate"].items()
    ]
    qd = result["quality"]
    lines += [
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| clips | {len(clips)} ({args.size}, 5 s; {n_cam} camera, flat, dark) |",
        f"| Y-PSNR mean / worst frame | {qd['psnr_y_mean']:.1f} / "
        f"{qd['psnr_y_worst_frame']:.1f} dB |",
        f"| Y-PSNR mean, camera clips only | {qd['psnr_y_mean_camera']:.1f} dB |",
        f"| SSIM mean | {qd['ssim_mean']:.4f} |",
        f"| bitrate increase at CRF 23, camera clips (mean) | "
        f"{qd['bitrate_increase_crf23_camera']:+.1%} |",
        f"| ... flat / dark synthetic clips | {qd['bitrate_increase_crf23_flat_dark'][0]:+.0%} / "
        f"{qd['bitrate_increase_crf23_flat_dark'][1]:+.0%} ("
        + ", ".join(f"{b / 1e3:.1f} -> {a / 1e3:.1f} kB" for a, b in sizes[n_cam:])
        + " for 5 s) |",
        f"| ... all clips, total bytes | {qd['bitrate_increase_crf23_all_bytes']:+.1%} |",
        f"| false positives | {fp['detections']} / {fp['windows']} unmarked 2 s windows x keys "
        f"({fp['detections_with_sync_search']} / {fp['windows_with_sync_search']} with the crop "
        f"search; smallest p-value {fp['min_p_value']:.2g}) |",
        f"| embed / detect speed, 1280x720 | {sp['embed_fps']:.0f} / "
        f"{sp['detect_fps']:.0f} fps (codec excluded; 2 s excerpts; detect on an unmarked "
        f"excerpt, crop search included: {sp['detect_fps_unmarked_with_sync_search']:.0f} fps) |",
    ]
    if not args.no_baseline:
        lines += ["", "Baseline (invisible-watermark, same clips and attacks):", ""]
        lines.append(baseline(clips, work, result))
    write_results(f"watermark{args.tag}", result, "\n".join(lines) + "\n")


def baseline(clips: list[Path], work: Path, result: dict) -> str:
    """Run the invisible-watermark baseline on the same clips; its table (markdown)."""
    try:
        from wm_baseline import markdown, run_baselines
    except ImportError as exc:  # the bench extra is not installed
        result["baseline"] = f"not run: {exc}"
        return f"not run ({exc}; pip install -e '.[bench]')"
    base = run_baselines(clips, work)
    result["baseline"] = base
    q = result["quality"]
    return markdown(
        base,
        result["exact_payload_rate"],
        {"psnr_y_mean": q["psnr_y_mean"], "ssim_mean": q["ssim_mean"]},
    )


if __name__ == "__main__":
    main()
