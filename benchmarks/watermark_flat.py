"""Why featureless areas get special marks: CRF 23 bytes of the benchmark's flat and dark clips
(640x360, 5 s) unmarked and under three ways of marking them, split into intra and predicted
frames, and whether the payload reads after the CRF 23 encode.

- ``dense``: the smooth mark everywhere (no block classes);
- ``blocks_everywhere``: every featureless block gets the block mark, changing ones too;
- ``shipped``: still featureless blocks get the block mark, changing ones none.

Usage: .venv/bin/python benchmarks/watermark_flat.py
Writes benchmarks/results/watermark_flat.{json,md}.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
from _common import RESULTS, write_results

from vidprov.media import VideoReader
from vidprov.watermark import WatermarkConfig, detect_file
from vidprov.watermark.coding import encode, parse_payload
from vidprov.watermark.config import keyed_pattern
from vidprov.watermark.embed import block_classes
from vidprov.watermark.signal import MOVING_FLAT, STILL_FLAT, embed_luma
from watermark import KEY, PAYLOAD, _write, synthetic_clips

Classes = Callable[[np.ndarray], np.ndarray | None]
VARIANTS: dict[str, Classes] = {
    "dense": lambda c: None,
    "blocks_everywhere": lambda c: np.where(c == MOVING_FLAT, STILL_FLAT, c).astype(np.int8),
    "shipped": lambda c: c,
}


def _bytes(path: Path) -> dict[str, int]:
    with av.open(str(path)) as c:
        packets = [(p.size, p.is_keyframe) for p in c.demux(video=0) if p.size]
    return {
        "total": path.stat().st_size,
        "intra": sum(s for s, k in packets if k),
        "predicted": sum(s for s, k in packets if not k),
    }


def measure(clip: Path, work: Path) -> dict[str, dict]:
    cfg = WatermarkConfig()
    pattern = keyed_pattern(KEY, cfg.grid, cfg.pilot_fraction)
    coded = encode(parse_payload(PAYLOAD)).astype(np.float32) * 2 - 1
    with VideoReader(clip) as r:
        frames = list(r.frames("yuv420p"))
    plain = _write(work / "plain.mp4", frames, crf=23)
    out: dict[str, dict] = {"plain": _bytes(plain)}
    for name, pick in VARIANTS.items():
        marked = [
            replace(f, y=embed_luma(f.y, pattern, coded, cfg, pick(c)))
            for f, c in block_classes(iter(frames), cfg.grid)
        ]
        path = _write(work / f"{name}.mp4", marked, crf=23)
        reading = detect_file(path, KEY, cfg)
        size = _bytes(path)
        out[name] = {
            **size,
            "increase": size["total"] / out["plain"]["total"] - 1,
            "reads_after_crf23": bool(reading.detected and reading.payload == PAYLOAD),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        flat, dark = synthetic_clips(work, (640, 360))
        result = {"flat": measure(flat, work), "dark": measure(dark, work)}
    md = [
        "| clip | marking | bytes at CRF 23 (intra + predicted) | increase | reads after CRF 23 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for clip, rows in result.items():
        for name, r in rows.items():
            inc = f"{r['increase']:+.0%}" if "increase" in r else "-"
            ok = {True: "yes", False: "no"}.get(r.get("reads_after_crf23"), "-")
            md.append(
                f"| {clip} | {name} | {r['total'] / 1e3:.1f} kB ({r['intra'] / 1e3:.1f} + "
                f"{r['predicted'] / 1e3:.1f}) | {inc} | {ok} |"
            )
    write_results("watermark_flat", result, "\n".join(md) + "\n", a.out)


if __name__ == "__main__":
    main()
