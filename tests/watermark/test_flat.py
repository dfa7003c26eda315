"""Featureless content: a still flat area carries a cheap block mark, a changing one none."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidprov.media import EncodeOptions, VideoReader, VideoWriter, YUVFrame
from vidprov.watermark import detect, embed
from vidprov.watermark.embed import block_classes
from vidprov.watermark.signal import MOVING_FLAT, NORMAL, STILL_FLAT

PAYLOAD = "a5c3f00d12345678"


def _frames(n: int, w: int, h: int, ramp: float = 0.0, texture: int = 0) -> list[YUVFrame]:
    """A dark smooth gradient (14..34 in RGB terms), brightening by ``ramp`` levels per frame;
    the left ``texture`` columns carry static noise."""
    yy, xx = np.mgrid[0:h, 0:w]
    noise = np.random.default_rng(0).normal(0, 20, (h, w))
    chroma = np.full((h // 2, w // 2), 128, np.uint8)
    out = []
    for k in range(n):
        y = 27 + 18 * (yy / h) * (xx / w) + ramp * k
        y[:, :texture] += noise[:, :texture]
        y8 = np.clip(np.round(y), 0, 255).astype(np.uint8)
        out.append(YUVFrame(k, k / 30, None, None, y8, chroma, chroma))
    return out


def _crf23_bytes(frames: list[YUVFrame], path: Path) -> int:
    h, w = frames[0].y.shape
    with VideoWriter(path, w, h, 30, EncodeOptions(crf=23)) as out:
        for f in frames:
            out.write(f)
    return path.stat().st_size


def test_block_classes() -> None:
    still = _frames(20, 320, 96, texture=48)
    moving = _frames(20, 320, 96, ramp=0.3, texture=48)
    for frames, flat_class in ((still, STILL_FLAT), (moving, MOVING_FLAT)):
        classes = [c for _, c in block_classes(iter(frames), (128, 72))]
        assert len(classes) == 20 and classes[0].shape == (12, 40)
        for c in classes:
            assert (c[:, :9] == NORMAL).all()  # textured, and the flat blocks next to it
            assert (c[:, 9:] == flat_class).all()


def test_still_flat_clip_gets_a_cheap_block_mark(tmp_path: Path, key: bytes) -> None:
    """The dense mark is expensive here (x264 has to code an irregular +-1 pattern; see
    benchmarks/watermark_flat.py); the block mark costs a few percent and reads after CRF 23."""
    frames = _frames(30, 640, 360)
    marked = list(embed(iter(frames), PAYLOAD, key))
    diff = np.stack([m.y.astype(int) - f.y for m, f in zip(marked, frames, strict=True)])
    assert set(np.unique(diff)) == {-1, 0, 1}
    assert (diff == diff[:1]).all()  # the same every frame: P-frames skip it
    blocks = diff[0].reshape(45, 8, 80, 8)
    assert (blocks == blocks[:, :1, :, :1]).all()  # constant over aligned 8x8 blocks
    assert detect(iter(marked), key).payload == PAYLOAD
    plain = _crf23_bytes(frames, tmp_path / "plain.mp4")
    coded = _crf23_bytes(marked, tmp_path / "marked.mp4")
    assert coded < 1.15 * plain
    with VideoReader(tmp_path / "marked.mp4") as r:
        reading = detect(r.frames("yuv420p"), key)
    assert reading.detected and reading.payload == PAYLOAD


def test_changing_flat_clip_stays_unmarked(key: bytes) -> None:
    """A fixed pattern on a brightening gradient defeats x264's prediction (4.5x the bytes at
    CRF 23): such blocks are left alone, so a clip made only of them carries no mark."""
    frames = _frames(30, 640, 360, ramp=0.3)
    marked = list(embed(iter(frames), PAYLOAD, key))
    assert all(np.array_equal(m.y, f.y) for m, f in zip(marked, frames, strict=True))
    assert not detect(iter(marked), key).detected
