"""A timeline picture of a verdict: classifier frame scores over time, the threshold, the
verdict's segments and the watermark's marked spans (PNG, drawn with OpenCV)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vidprov.atomic import atomic_path, check_writable
from vidprov.detector.verdict import Verdict
from vidprov.errors import MediaError

W, H, PAD = 1000, 300, 50
AI, REAL, WM, INK = (60, 60, 220), (90, 170, 60), (200, 120, 30), (40, 40, 40)


def check_plot_target(out: str | Path) -> Path:
    """Check, before any scanning, that a timeline can be written to ``out``.

    Raises:
        MediaError: ``out`` is not a .png path, is a folder, or its folder is missing or not
            writable.
    """
    return check_writable(_png(out))


def _png(out: str | Path) -> Path:
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise MediaError("plot output must be a .png file", out)
    return out


def plot_timeline(verdict: Verdict, out: str | Path) -> Path:
    """Draw ``verdict`` as a timeline PNG at ``out`` (written atomically).

    Raises:
        MediaError: ``out`` is not a .png path or cannot be written.
    """
    out = _png(out)  # atomic_path below reports a folder that cannot be written
    img = np.full((H, W, 3), 255, np.uint8)
    dur = max(verdict.duration, 1e-3)
    x0, x1, top, bot = PAD, W - 20, 40, 190

    def x(t: float) -> int:
        return int(x0 + (x1 - x0) * min(max(t / dur, 0.0), 1.0))

    def y(p: float) -> int:
        return int(bot - (bot - top) * p)

    cv2.rectangle(img, (x0, top), (x1, bot), (220, 220, 220), 1)
    cls = verdict.evidence.get("classifier") or {}
    thr = cls.get("threshold")
    if thr is not None:
        cv2.line(img, (x0, y(thr)), (x1, y(thr)), (150, 150, 150), 1, cv2.LINE_AA)
    pts = [(x(f["t"]), y(f["score"])) for f in cls.get("frames", [])]
    if len(pts) > 1:
        cv2.polylines(img, [np.array(pts, np.int32)], False, INK, 2, cv2.LINE_AA)
    elif pts:  # one sampled frame: a dot, not nothing
        cv2.circle(img, pts[0], 3, INK, -1, cv2.LINE_AA)
    for s in verdict.segments:
        cv2.rectangle(img, (x(s.start), 205), (x(s.end), 225), AI if s.label == "ai" else REAL, -1)
    wm = verdict.evidence.get("watermark") or {}
    for s in wm.get("segments", []) if wm.get("detected") else []:
        cv2.rectangle(img, (x(s["start"]), 235), (x(s["end"]), 250), WM, -1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    title = f"{Path(verdict.file).name}: {verdict.label.upper()}  P(ai)={verdict.score_text}"
    cv2.putText(img, title, (x0, 25), font, 0.6, INK, 1, cv2.LINE_AA)
    cv2.putText(img, "score", (5, top + 10), font, 0.4, INK, 1, cv2.LINE_AA)
    cv2.putText(img, "verdict", (2, 220), font, 0.4, INK, 1, cv2.LINE_AA)
    cv2.putText(img, "mark", (8, 248), font, 0.4, INK, 1, cv2.LINE_AA)
    digits = 1 if dur >= 5 else 2 if dur >= 0.5 else 3  # ticks that differ on short clips
    for k in range(6):
        t = dur * k / 5
        cv2.putText(img, f"{t:.{digits}f}s", (x(t) - 12, 280), font, 0.4, INK, 1, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", img[..., ::-1])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid image
        raise MediaError("could not encode the plot", out)
    with atomic_path(out) as tmp:
        Path(tmp).write_bytes(png.tobytes())
    return out
