"""Metrics against hand-computed cases."""

from __future__ import annotations

import pytest

from vidprov.detector.metrics import (
    clip_metrics,
    ece,
    eer,
    reliability,
    segment_ap,
    tiou,
    union_tiou,
)


def test_clip_metrics_hand_computed() -> None:
    # pairs (ai, real): (.35,.1) ok, (.35,.4) wrong, (.8,.1) ok, (.8,.4) ok -> AUC 3/4
    m = clip_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], threshold=0.5)
    assert m["auc"] == pytest.approx(0.75)
    # ranking .8(ai) .4(real) .35(ai) .1(real): AP = (1/1 + 2/3) / 2
    assert m["ap"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["accuracy"] == pytest.approx(0.75)  # only .35 (ai) is below 0.5
    assert m["real_false_alarm"] == 0.0
    assert m["ai_recall"] == 0.5


def test_calibration_hand_computed() -> None:
    y, p = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    m = clip_metrics(y, p, threshold=0.5)
    assert m["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    # bins [0.1, 0.2): 0.1 real; [0.3, 0.4): 0.35 ai; [0.4, 0.5): 0.4 real; [0.8, 0.9): 0.8 ai
    rows = reliability(y, p)
    assert [(r["lo"], r["n"], r["ai_share"]) for r in rows] == [
        (0.1, 1, 0.0),
        (0.3, 1, 1.0),
        (0.4, 1, 0.0),
        (0.8, 1, 1.0),
    ]
    assert m["ece"] == pytest.approx((0.1 + 0.65 + 0.4 + 0.2) / 4)
    # perfectly calibrated in aggregate: half of the clips at P 0.5 are AI
    assert ece([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(0.0)
    assert ece([1, 1], [1.0, 1.0]) == pytest.approx(0.0)  # P 1.0 falls in the top bin


def test_single_class_has_no_auc() -> None:
    m = clip_metrics([0, 0], [0.2, 0.9], 0.5)
    assert m["auc"] is None and m["real_false_alarm"] == 0.5


def test_eer_perfect_and_inverted() -> None:
    import numpy as np

    y = np.array([0, 0, 1, 1])
    assert eer(y, np.array([0.1, 0.2, 0.8, 0.9])) == pytest.approx(0.0)
    assert eer(y, np.array([0.9, 0.8, 0.2, 0.1])) == pytest.approx(1.0)


def test_tiou() -> None:
    assert tiou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert tiou((0, 1), (2, 3)) == 0.0
    assert union_tiou([(0, 1), (1, 2)], (0, 2)) == pytest.approx(1.0, abs=1e-3)
    assert union_tiou([], (0, 2)) == 0.0


def test_segment_ap() -> None:
    truths = [(1.0, 3.0), (4.0, 6.0)]
    # clip 0 found exactly; clip 1's best detection is off (tIoU 1/3), scored lower
    dets = [(0, 1.0, 3.0, 0.9), (1, 5.0, 7.0, 0.6)]
    assert segment_ap(dets, truths, 0.5) == pytest.approx(0.5)
    assert segment_ap(dets, truths, 0.3) == pytest.approx(1.0)
    # a false detection ranked first: precision 1/2 then 2/3 at recall 1/2 and 1; the
    # interpolated precision (best at any higher recall) is 2/3 at both recall levels
    dets2 = [(1, 0.0, 0.5, 0.95), (0, 1.0, 3.0, 0.9), (1, 4.0, 6.0, 0.8)]
    assert segment_ap(dets2, truths, 0.5) == pytest.approx(2 / 3)
    assert segment_ap([], truths, 0.5) == 0.0
