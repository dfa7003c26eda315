"""Scan memory and time against clip length: does `scan` stay flat however long the clip?

Usage: .venv/bin/python benchmarks/scan_memory.py [--data DIR] [--seconds 10 60 300 1200]
Writes benchmarks/results/scan_memory.{json,md}. Each clip is 854x480 at 30 fps, H.264 CRF 23,
made by looping the first camera clip of ``--data`` (``VIDPROV_DATA``, default
../shared/data/clips). Each scan runs in a fresh process (the shipped classifier, the C2PA check
and the watermark detector with a key made for the run) that reports its own peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
from _common import RESULTS, data_dir, write_results

from vidprov.detector.data import read_index
from vidprov.keys import init_keys
from vidprov.media import EncodeOptions, VideoReader, VideoWriter

W, H, FPS = 854, 480, 30

_CHILD = """
import json, resource, sys, time
base = int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
from vidprov.detector import scan_file
from vidprov.detector.models import load_default
det = load_default()
loaded = int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
t = time.perf_counter()
v = scan_file(sys.argv[1], detector=det)
dt = time.perf_counter() - t
print(json.dumps({
    "seconds": dt,
    "baseline_rss_mb": base,
    "loaded_rss_mb": loaded,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "label": v.label,
    "segments": len(v.segments),
    "watermark_checked": v.to_dict()["evidence"]["watermark"] is not None,
}))
"""


def make_clip(src: Path, seconds: int, path: Path) -> None:
    """Loop ``src``'s frames (resized to 854x480) for ``seconds``, streamed into an H.264 file."""
    with VideoReader(src) as r:
        frames = [cv2.resize(f.rgb, (W, H)) for f in r.frames("rgb24")]
    with VideoWriter(path, W, H, FPS, EncodeOptions(crf=23, preset="veryfast")) as w:
        for k in range(seconds * FPS):
            # ping-pong so the loop point is not a cut every few seconds
            n = len(frames)
            i = k % (2 * n - 2) if n > 1 else 0
            w.write(frames[i if i < n else 2 * n - 2 - i])


def scan_once(path: Path, home: Path) -> dict:
    env = dict(os.environ, VIDPROV_HOME=str(home))
    p = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, env=env
    )
    if p.returncode != 0:
        raise SystemExit(f"scan of {path} failed: {p.stderr.strip().splitlines()[-1:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def markdown(r: dict) -> str:
    rows = [
        "| clip | file MB | scan s | x real time | peak RSS MB | after model load MB "
        "| scan's own peak MB | label | segments |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for x in r["runs"]:
        rows.append(
            f"| {x['clip_seconds']} s | {x['file_mb']} | {x['seconds']:.1f} "
            f"| {x['clip_seconds'] / x['seconds']:.1f} | {x['peak_rss_mb']:.0f} "
            f"| {x['loaded_rss_mb']:.0f} | {x['peak_rss_mb'] - x['loaded_rss_mb']:.0f} "
            f"| {x['label']} | {x['segments']} |"
        )
    return (
        f"Scan of 854x480 30 fps clips ({r['source']}, looped), {r['cores']} cores; "
        "classifier, C2PA check and watermark detector; a fresh process per scan.\n\n"
        + "\n".join(rows)
        + "\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data")
    ap.add_argument("--seconds", type=int, nargs="+", default=[10, 60, 300, 1200])
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    src = next(e.file for e in read_index(data_dir(a.data)) if e.label == "real")
    runs = []
    with tempfile.TemporaryDirectory(prefix="vidprov-bench-scanmem-") as tmp:
        home = Path(tmp) / "home"
        init_keys(home)
        for sec in a.seconds:
            path = Path(tmp) / f"scan{sec}.mp4"
            t0 = time.perf_counter()
            make_clip(src, sec, path)
            made = time.perf_counter() - t0
            x = scan_once(path, home)
            x.update(
                clip_seconds=sec,
                file_mb=round(path.stat().st_size / 2**20, 1),
                encode_seconds=round(made, 1),
            )
            print(json.dumps(x), flush=True)
            runs.append(x)
            path.unlink()
    result = {"source": src.name, "cores": os.cpu_count(), "runs": runs}
    write_results("scan_memory", result, markdown(result), a.out)


if __name__ == "__main__":
    main()
