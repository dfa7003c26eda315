"""Forensic features measure what their names say; the GIF transform does what a GIF does."""

from __future__ import annotations

import numpy as np
import pytest

from vidprov.detector.data import gif_roundtrip
from vidprov.detector.features import FEATURE_NAMES, frame_features


def _feature(rgb: np.ndarray, name: str) -> float:
    vec, _ = frame_features(rgb, None)
    assert len(vec) == len(FEATURE_NAMES)
    return float(vec[FEATURE_NAMES.index(name)])


def _noisy(rng: np.random.Generator, shared: bool) -> np.ndarray:
    base = np.full((240, 320, 3), 128.0)
    n = rng.normal(0, 6, (240, 320, 1 if shared else 3))
    return np.clip(base + n, 0, 255).astype(np.uint8)


def test_channel_correlation_tells_shared_noise_from_independent() -> None:
    rng = np.random.default_rng(0)
    shared = _feature(_noisy(rng, shared=True), "c_corr_rg")
    independent = _feature(_noisy(rng, shared=False), "c_corr_rg")
    assert shared > 0.95
    assert abs(independent) < 0.1


def test_white_noise_fades_over_scales_faster_than_texture() -> None:
    rng = np.random.default_rng(1)
    white = _noisy(rng, shared=True)
    blobs = np.kron(rng.normal(0, 30, (30, 40)), np.ones((8, 8)))
    texture = np.clip(128 + blobs, 0, 255).astype(np.uint8)[..., None].repeat(3, axis=2)
    assert _feature(white, "ms_falloff0") < _feature(texture, "ms_falloff0")


def test_gif_roundtrip_leaves_a_palette() -> None:
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    for dither in (False, True):
        out = gif_roundtrip(rgb, dither)
        assert out.shape == rgb.shape and out.dtype == np.uint8
        assert len(np.unique(out.reshape(-1, 3), axis=0)) <= 256
    assert not np.array_equal(gif_roundtrip(rgb, False), gif_roundtrip(rgb, True))


def test_chroma_cooccurrences_see_colour_noise_that_grey_noise_lacks() -> None:
    rng = np.random.default_rng(3)
    names = [n for n in FEATURE_NAMES if n.startswith("cc_cr_h")]
    centre = "cc_cr_h12"  # both neighbouring Cr differences zero
    grey, colour = _noisy(rng, shared=True), _noisy(rng, shared=False)
    assert sum(_feature(grey, n) for n in names) == pytest.approx(1.0)
    assert sum(_feature(colour, n) for n in names) == pytest.approx(1.0)
    # equal noise on R, G and B leaves chroma flat; independent noise does not
    assert _feature(grey, centre) > 0.99
    assert _feature(colour, centre) < 0.5
