"""Segment boundaries over many keys: a signed marked clip concatenated after camera-like footage.

Usage: .venv/bin/python benchmarks/watermark_boundaries.py [--keys 40]
The case of ``tests/provenance/test_edit.py::test_concat_chain``: a 2 s synthetic 25 fps clip,
then a 3 s synthetic clip marked and signed, joined with ``concat_files``; the marked segment
should read [2, 5] s. For each random watermark key it records the segments read back and
whether both ends land within 0.5 s. Writes benchmarks/results/watermark_boundaries.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from _common import write_results

from vidprov.keys import init_keys
from vidprov.media import make_clip
from vidprov.provenance import ManifestStore, PkiPaths, concat_files, load_signer, sign_file
from vidprov.watermark import detect_file, embed_file

TRUTH = (2.0, 5.0)
TOLERANCE = 0.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=40)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidprov-bench-bounds-"))
    init_keys(work / "home")
    pki = PkiPaths.under(work / "home")
    signer = load_signer(pki.signer_chain, pki.signer_key)
    store = ManifestStore(work / "store.sqlite")
    src = make_clip(work / "src.mp4", seconds=3.0, width=640, height=360, audio=True, seed=4)
    cam = make_clip(work / "cam.mp4", seconds=2.0, width=640, height=360, fps=25, seed=11)
    rows = []
    for _ in range(a.keys):
        key = os.urandom(32)
        embed_file(src, work / "m.mp4", key, "0123456789abcdef")
        signed = sign_file(work / "m.mp4", work / "s.mp4", signer=signer, key=key, store=store)
        out = concat_files([cam, signed.output], work / "cat.mp4", signer, key=key, store=store)
        r = detect_file(out.output, key)
        segs = [(round(float(s.start), 2), round(float(s.end), 2)) for s in r.segments if s.payload]
        ok = len(segs) == 1 and all(
            abs(x - t) <= TOLERANCE for x, t in zip(segs[0], TRUTH, strict=True)
        )
        rows.append({"segments": segs, "within_tolerance": ok})
    misses = [r["segments"] for r in rows if not r["within_tolerance"]]
    result = {"keys": a.keys, "truth": TRUTH, "tolerance_s": TOLERANCE, "misses": misses}
    result["rows"] = rows
    write_results("watermark_boundaries", result, markdown(result))


def markdown(r: dict[str, Any]) -> str:
    misses = "; ".join(f"{[list(s) for s in m]}" for m in r["misses"]) or "none"
    return (
        f"{r['keys'] - len(r['misses'])}/{r['keys']} random keys put the marked segment within "
        f"{r['tolerance_s']} s of {list(r['truth'])} s. Misses (segments read): {misses}\n"
    )


if __name__ == "__main__":
    main()
