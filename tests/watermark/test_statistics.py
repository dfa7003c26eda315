"""The detection statistic's p-value bound, and the crop/scale search's bookkeeping."""

from __future__ import annotations

import importlib
import math

import cv2
import numpy as np
import pytest

from vidprov.media import YUVFrame
from vidprov.watermark import WatermarkConfig
from vidprov.watermark.config import keyed_pattern
from vidprov.watermark.detect import _chernoff, _evidence
from vidprov.watermark.sync import HI_FACTOR, hypothesis_count, search, to_grid

# the module, not the function of the same name that vidprov.watermark exports
detect_module = importlib.import_module("vidprov.watermark.detect")


def test_chernoff_bound_holds_for_random_signs() -> None:
    """Over random keys, P(p <= a) <= a for any fixed residual (checked at a = 0.01, 0.1)."""
    rng = np.random.default_rng(0)
    cfg = WatermarkConfig()
    residual = rng.standard_t(3, cfg.grid[0] * cfg.grid[1]) * rng.uniform(0, 5, 1)
    ps = []
    for _ in range(400):
        pat = keyed_pattern(rng.bytes(32), cfg.grid, cfg.pilot_fraction)
        ps.append(math.exp(_evidence(residual, pat)[0]))
    ps_arr = np.array(ps)
    assert np.mean(ps_arr <= 0.01) <= 0.01 and np.mean(ps_arr <= 0.1) <= 0.1
    assert _chernoff(100.0, 173) == 0.0  # below the mean: no evidence
    assert _chernoff(400.0, 173) < -40


def test_search_count_and_mapping(key: bytes) -> None:
    """A residual that is the pattern itself, cropped 10% per side, is found at that place."""
    cfg = WatermarkConfig()
    gw, gh = cfg.grid
    pat = keyed_pattern(key, cfg.grid, cfg.pilot_fraction)
    assert 1e5 < hypothesis_count(cfg.grid) < 1e6
    full = np.kron(pat.signs.reshape(gh, gw), np.ones((HI_FACTOR, HI_FACTOR), np.float32))
    dy, dx = round(0.1 * gh * HI_FACTOR), round(0.1 * gw * HI_FACTOR)
    cropped = np.ascontiguousarray(full[dy:-dy, dx:-dx])
    acc = cv2.resize(cropped, (gw * HI_FACTOR, gh * HI_FACTOR), interpolation=cv2.INTER_LINEAR)
    best = min(search(acc, pat), key=lambda c: _evidence(c[1], pat)[0])
    hyp, v = best
    assert abs(hyp.width - (gw * HI_FACTOR) / 1.25) <= 2
    assert np.array_equal(v, to_grid(acc, hyp, cfg.grid))
    assert _evidence(v, pat)[0] < -100


def _frames(n: int) -> list[YUVFrame]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        y = rng.integers(16, 235, (360, 640), dtype=np.uint8)
        u = np.full((180, 320), 128, np.uint8)
        out.append(YUVFrame(i, i / 30, None, None, y, u, u.copy()))
    return out


def test_sharp_and_sync_are_tried_when_the_mark_is_found_without_a_payload(
    key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the plain residual detects the mark but its payload fails the CRC, the sharp
    residual is read, then (if still no payload) the resynchronised one; a payload one of them
    decodes wins even at a higher p-value; one that does not decode does not replace a lower
    p-value. Each pays its share of the error budget: factors 2, 4 and 4 x hypotheses."""
    calls: list[str] = []
    tests = 2  # one window: the whole clip, and the one run
    outcome: dict[str, tuple[float, float, str | None]] = {}

    def fake_scan(
        vecs: object, windows: object, acc: object, factor: float, refine: bool
    ) -> tuple[tuple[float, float, str | None], list[object]]:
        name = {2.0 * tests: "plain", 4.0 * tests: "sharp"}.get(factor, "sync")
        if name == "sync":
            assert factor == 4.0 * tests * hypothesis_count((128, 72)) and not refine
        calls.append(name)
        return outcome[name], []

    monkeypatch.setattr(detect_module, "_scan", fake_scan)
    payload = "a5c3f00d12345678"
    outcome.update(plain=(1e-12, 4.0, None), sharp=(1e-11, 4.0, None), sync=(1e-9, 3.0, payload))
    r = detect_module.detect(_frames(4), key)
    assert calls == ["plain", "sharp", "sync"]
    assert r.detected and r.payload == payload and r.p_value == 1e-9
    calls.clear()
    outcome["sharp"] = (1e-10, 3.5, payload)  # the sharp residual decodes: no search
    r = detect_module.detect(_frames(4), key)
    assert calls == ["plain", "sharp"]
    assert r.payload == payload and r.p_value == 1e-10
    calls.clear()
    outcome.update(sharp=(1e-11, 4.0, None), sync=(1e-9, 3.0, None))  # nothing decodes
    r = detect_module.detect(_frames(4), key)
    assert calls == ["plain", "sharp", "sync"]
    assert r.detected and r.payload is None and r.p_value == 1e-12


@pytest.mark.parametrize(
    ("after", "end"),  # the five windows after the segment (z by the code word), where it ends
    [
        ([5.0] * 5, 4.0),
        ([5.0] * 3 + [0.0] * 2, 3.0),
        ([0.0] * 5, 1.5),
        ([0.0] * 2 + [5.0] * 3, 1.5),
    ],
)
def test_a_segment_grows_over_windows_that_carry_its_code_word(
    key: bytes, after: list[float], end: float
) -> None:
    """Eight 0.5 s windows: three strongly marked, then five marked weakly (a re-encode
    weakened the mark: z about 5 each by the code word) or not at all. The segment found on
    the first three grows over the weak ones next to it only, not across unmarked ones (a
    spliced insert) to weak ones beyond."""
    from types import SimpleNamespace

    from vidprov.watermark.coding import encode
    from vidprov.watermark.results import WatermarkSegment

    cfg = WatermarkConfig()
    pattern = keyed_pattern(key, cfg.grid, cfg.pilot_fraction)
    payload = "a5c3f00d12345678"
    coded = encode(bytes.fromhex(payload)).astype(float) * 2 - 1
    template = pattern.signs * np.append(coded, 1.0)[pattern.owner]
    n = len(template)
    rng = np.random.default_rng(1)
    levels = [30.0] * 3 + after
    vecs = [z / math.sqrt(n) * template + rng.standard_normal(n) for z in levels]
    times = [i / 10 for i in range(40)]  # 10 fps, five frames a window
    windows = [
        detect_module._Window(w / 2, w / 2 + 0.4, 5, v, np.zeros(1), np.zeros(1))
        for w, v in enumerate(vecs)
    ]
    acc = SimpleNamespace(pattern=pattern, config=cfg, times=times)
    factor = 2.0 * (8 * 9 // 2 + 1)
    p, z, own = detect_module._test(vecs, 0, 2, pattern, factor, cfg)
    assert own == payload and p < 1e-9
    found = [WatermarkSegment(0.0, 1.5, payload, p, z)]
    (seg,) = detect_module._extended(found, vecs, windows, acc, factor, payload)
    assert (seg.start, seg.end, seg.payload) == (0.0, pytest.approx(end), payload)
