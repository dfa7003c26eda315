"""Streaming embedding over frames, and the file-level entry point."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from vidprov.errors import WatermarkError
from vidprov.media import EncodeOptions, VideoReader, VideoWriter, YUVFrame
from vidprov.watermark.coding import encode, parse_payload
from vidprov.watermark.config import WatermarkConfig, keyed_pattern
from vidprov.watermark.results import EmbedResult
from vidprov.watermark.signal import embed_luma

log = logging.getLogger(__name__)


def random_payload() -> str:
    """A fresh random 64-bit payload (hex)."""
    return secrets.token_hex(8)


def check_size(width: int, height: int, config: WatermarkConfig, path: object = None) -> None:
    """Raises WatermarkError when frames are too small to carry the mark."""
    if min(width, height) < config.min_side:
        raise WatermarkError(
            f"frames of {width}x{height} are too small to carry a watermark "
            f"(need at least {config.min_side} px per side)",
            path,
        )  # type: ignore[arg-type]


def embed(
    frames: Iterable[YUVFrame],
    payload: str | bytes,
    key: bytes,
    config: WatermarkConfig | None = None,
) -> Iterator[YUVFrame]:
    """Mark each frame's luma with ``payload``; chroma and timestamps pass through.

    Args:
        frames: Y/U/V frames (e.g. ``VideoReader.frames("yuv420p")``), consumed lazily.
        payload: 64 bits as 16 hex characters or 8 bytes.
        key: the 256-bit watermark key.

    Raises:
        WatermarkError: bad payload or key, or frames smaller than ``config.min_side``.
    """
    config = config or WatermarkConfig()
    coded = encode(parse_payload(payload)).astype(np.float32) * 2 - 1
    pattern = keyed_pattern(key, config.grid, config.pilot_fraction)
    for f in frames:
        check_size(f.y.shape[1], f.y.shape[0], config)
        yield replace(f, y=embed_luma(f.y, pattern, coded, config))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def embed_file(
    src: str | Path,
    dst: str | Path,
    key: bytes,
    payload: str | bytes | None = None,
    config: WatermarkConfig | None = None,
    options: EncodeOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> EmbedResult:
    """Watermark a video file: decode, mark luma, encode H.264 (atomic), copy audio and timing.

    Raises:
        MediaError: unreadable input or unwritable output.
        WatermarkError: bad payload or key, or frames too small.
    """
    config = config or WatermarkConfig()
    payload_hex = parse_payload(payload if payload is not None else random_payload()).hex()
    psnrs: list[float] = []
    with VideoReader(src) as reader:
        check_size(reader.info.width, reader.info.height, config, src)
        originals: list[np.ndarray] = []

        def tap(it: Iterable[YUVFrame]) -> Iterator[YUVFrame]:
            for f in it:
                originals.append(f.y)
                yield f

        with VideoWriter.like(reader, dst, options) as writer:
            for marked in embed(tap(reader.frames("yuv420p")), payload_hex, key, config):
                psnrs.append(_psnr(originals.pop(), marked.y))
                writer.write(marked)
                if progress is not None:
                    progress(1)
    log.info("%s: embedded payload %s in %d frames", dst, payload_hex, len(psnrs))
    return EmbedResult(
        input=str(src),
        output=str(dst),
        payload=payload_hex,
        frames=len(psnrs),
        psnr_mean=float(np.mean(psnrs)),
        psnr_min=float(np.min(psnrs)),
    )
