"""Per-frame scores → segments: shots, long-shot splits, clip score."""

from __future__ import annotations

import numpy as np

from vidprov.detector.segments import segment


def hists(n: int, cut_at: list[int]) -> np.ndarray:
    h = np.zeros((n, 48), np.float32)
    shot = 0
    for i in range(n):
        if i in cut_at:
            shot += 1
        h[i, shot % 48] = 1.0
    return h


def test_shots_follow_cuts_and_take_their_mean() -> None:
    t = np.arange(48) / 8.0
    p = np.where((t >= 2) & (t < 4), 0.9, 0.1)
    segs, clip = segment(t, p, hists(48, [16, 32]), 0.5, 6.0)
    assert [(s.label, round(s.start, 2), round(s.end, 2)) for s in segs] == [
        ("real", 0.0, 1.94),
        ("ai", 1.94, 3.94),
        ("real", 3.94, 6.0),
    ]
    assert clip > 0.85


def test_long_shot_splits_where_scores_change_side() -> None:
    t = np.arange(64) / 8.0
    p = np.where((t >= 3) & (t < 5.5), 0.95, 0.05)
    segs, _ = segment(t, p, hists(64, []), 0.5, 8.0)
    ai = [s for s in segs if s.label == "ai"]
    assert len(ai) == 1
    assert abs(ai[0].start - 3.0) <= 0.25 and abs(ai[0].end - 5.5) <= 0.25


def test_one_blip_does_not_split() -> None:
    t = np.arange(40) / 8.0
    p = np.full(40, 0.1)
    p[20] = 0.99
    segs, clip = segment(t, p, hists(40, []), 0.5, 5.0)
    assert [s.label for s in segs] == ["real"] and clip < 0.5
