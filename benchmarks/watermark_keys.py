"""Watermark read-back over many keys: how often the exact payload comes back, per attack.

Usage: .venv/bin/python benchmarks/watermark_keys.py [--data DIR] [--clips 3] [--keys 20]
The other watermark benchmarks use one fixed key; whether a payload survives an attack near the
margin also depends on the key (the keyed pattern meets each clip's texture differently). For
each of ``--keys`` keys (derived from a counter, so runs repeat) it marks the camera clips of
``benchmarks/watermark.py`` (640x360, 5 s, losslessly encoded), re-encodes them at CRF 28, CRF 35
and at half size (CRF 23), and counts the readings: exact payload, detected without a payload, a
wrong payload, not detected. Each attacked clip is read three ways: as shipped; without the
sharp residual (``sharp=False``); and without it and with single-path Viterbi (``list_size=1``),
the detector before both.
Writes benchmarks/results/watermark_keys.{json,md}.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from pathlib import Path

from _common import RESULTS, data_dir, write_results

from vidprov.media import EncodeOptions
from vidprov.watermark import WatermarkConfig, detect_file, embed_file
from vidprov.watermark.coding import LIST_SIZE
from watermark import PAYLOAD, _frames, _write, camera_clips, half_size

OUTCOMES = ("exact", "no_payload", "wrong_payload", "not_detected")
READINGS = {
    "as shipped": WatermarkConfig(),
    f"no sharp residual, list {LIST_SIZE}": WatermarkConfig(sharp=False),
    "no sharp residual, list 1": WatermarkConfig(sharp=False, list_size=1),
}


def _attacks(marked: Path, work: Path) -> dict[str, Path]:
    fr = _frames(marked)
    return {
        "h264_crf28": _write(work / "crf28.mp4", fr, crf=28),
        "h264_crf35": _write(work / "crf35.mp4", fr, crf=35),
        "resize_0.5_crf23": _write(work / "half.mp4", half_size(fr), crf=23),
    }


def _outcome(detected: bool, payload: str | None) -> str:
    if not detected:
        return "not_detected"
    if payload is None:
        return "no_payload"
    return "exact" if payload == PAYLOAD else "wrong_payload"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--keys", type=int, default=20)
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    counts: dict[str, dict[str, int]] = {}
    misses: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = camera_clips(data_dir(a.data), a.clips, work, (640, 360))
        for k in range(a.keys):
            key = hashlib.sha256(f"vidprov-bench-key-{k}".encode()).digest()
            for c in clips:
                marked = work / "marked.mp4"
                embed_file(c, marked, key, PAYLOAD, options=EncodeOptions(crf=0), read_back=False)
                for attack, path in _attacks(marked, work).items():
                    for label, cfg in READINGS.items():
                        name = f"{attack}, {label}"
                        r = detect_file(path, key, cfg)
                        out = _outcome(r.detected, r.payload)
                        row = counts.setdefault(name, dict.fromkeys(OUTCOMES, 0))
                        row[out] += 1
                        if out != "exact":
                            misses.append(
                                {
                                    "key": k,
                                    "clip": c.name,
                                    "attack": name,
                                    "outcome": out,
                                    "p_value": r.p_value,
                                }
                            )
            print(f"key {k}: {counts}", flush=True)
    n = a.keys * len(clips)
    lines = [
        f"# Watermark read-back over {a.keys} keys x {len(clips)} camera clips (640x360, 5 s)",
        "",
        "| attack, reading | exact payload | detected, no payload | wrong payload | not detected |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, row in counts.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[o]}/{n}" for o in OUTCOMES) + " |")
    result = {"keys": a.keys, "clips": [c.name for c in clips], "counts": counts, "misses": misses}
    write_results("watermark_keys", result, "\n".join(lines) + "\n", a.out)


if __name__ == "__main__":
    main()
