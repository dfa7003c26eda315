"""Watermark settings sweep: quality, bitrate and read-back margin per setting.

Usage: .venv/bin/python benchmarks/watermark_sweep.py [--clips 6] [--variant JSON ...]
Each variant is a JSON object of ``WatermarkConfig`` fields (e.g. ``{"iterations": 0,
"base_amplitude": 2.0}``); ``{}`` is the shipped default. On the camera clips of
``benchmarks/watermark.py`` (640x360, 5 s) it measures mean Y-PSNR and SSIM, the CRF 23 bitrate
against an unmarked encode, and for CRF 23/28/35, a 2 s excerpt at CRF 28 and a half-size
re-encode at CRF 23 the exact-payload rate and the mean log10 p-value (how much margin is left).
Writes benchmarks/results/watermark_sweep.{json,md}. This is how the default was chosen.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from _common import data_dir, write_results

from vidprov.media import EncodeOptions
from vidprov.watermark import WatermarkConfig, detect_file, embed_file
from watermark import KEY, PAYLOAD, _frames, _write, camera_clips, half_size, quality

DEFAULT_VARIANTS = (
    "{}",
    '{"base_amplitude": 1.6, "max_gain": 4.0}',
    '{"iterations": 0, "base_amplitude": 2.0}',
)


def _read(path: Path, cfg: WatermarkConfig) -> tuple[bool, float]:
    r = detect_file(path, KEY, cfg)
    return r.payload == PAYLOAD, math.log10(max(r.p_value, 1e-300))


def one_clip(clip: Path, plain23: int, cfg: WatermarkConfig, work: Path) -> dict[str, float]:
    marked = Path(
        embed_file(
            clip, work / "m.mp4", KEY, PAYLOAD, cfg, EncodeOptions(crf=0), read_back=False
        ).output
    )
    q = quality(clip, marked)
    fr = _frames(marked)
    mid = len(fr) // 2
    cases = {
        "crf23": _write(work / "a23.mp4", fr, crf=23),
        "crf28": _write(work / "a28.mp4", fr, crf=28),
        "crf35": _write(work / "a35.mp4", fr, crf=35),
        "trim2s_crf28": _write(work / "trim.mp4", fr[mid - 30 : mid + 30], crf=28),
        "half_crf23": _write(work / "half.mp4", half_size(fr), crf=23),
    }
    row = {
        "psnr": q["psnr_mean"],
        "ssim": q["ssim_mean"],
        "bitrate": cases["crf23"].stat().st_size / plain23 - 1,
    }
    for name, path in cases.items():
        row[name], row[f"log10p_{name}"] = _read(path, cfg)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--clips", type=int, default=6, help="camera clips")
    ap.add_argument("--variant", action="append", help="JSON of WatermarkConfig fields")
    ap.add_argument("--work", default="/tmp/vidprov-bench-wm-sweep")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    clips = camera_clips(data_dir(a.data), a.clips, work, (640, 360))
    plain = {c: _write(work / f"p23_{c.name}", _frames(c), crf=23).stat().st_size for c in clips}
    rows: list[dict[str, Any]] = []
    for text in a.variant or DEFAULT_VARIANTS:
        fields = json.loads(text)
        cfg = replace(WatermarkConfig(), **fields)
        per = [one_clip(c, plain[c], cfg, work) for c in clips]
        mean = {k: round(float(np.mean([r[k] for r in per])), 3) for k in per[0]}
        rows.append({"variant": fields, **mean})
        print(json.dumps(rows[-1]), flush=True)
    write_results("watermark_sweep", {"clips": len(clips), "rows": rows}, markdown(rows))


def markdown(rows: list[dict[str, Any]]) -> str:
    cases = ("crf23", "crf28", "crf35", "trim2s_crf28", "half_crf23")
    lines = [
        "| settings | Y-PSNR | SSIM | bitrate CRF 23 | "
        + " | ".join(f"{c}: exact / log10 p" for c in cases)
        + " |",
        "| --- " * (4 + len(cases)) + "|",
    ]
    for r in rows:
        name = json.dumps(r["variant"]) if r["variant"] else "default"
        cells = [f"{r[c]:.0%} / {r[f'log10p_{c}']:.0f}" for c in cases]
        lines.append(
            f"| {name} | {r['psnr']:.1f} | {r['ssim']:.3f} | {r['bitrate']:+.1%} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
