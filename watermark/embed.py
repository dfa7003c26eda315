"""Streaming embedding over frames, and the file-level entry point."""

from __future__ import annotations

import logging
import os
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from vidprov.atomic import AtomicFile
from vidprov.errors import WatermarkError
from vidprov.keys import check_watermark_key
from vidprov.media import EncodeOptions, VideoReader, VideoWriter, YUVFrame
from vidprov.media._open import check_file
from vidprov.media.frames import check_yuv
from vidprov.watermark.coding import encode, parse_payload
from vidprov.watermark.config import WatermarkConfig, keyed_pattern
from vidprov.watermark.durable import STRENGTHS, reupload_check
from vidprov.watermark.results import EmbedResult, ReuploadCheck, WatermarkReading
from vidprov.watermark.signal import (
    MOVING_FLAT,
    NORMAL,
    STILL_FLAT,
    block_size,
    block_stats,
    embed_luma,
)

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


#: Preset used by :func:`embed_file` when no options are given: the watermark is made to survive
#: far worse than a fast preset's extra bits, and "medium" would make the encoder, not the mark,
#: the slowest part (about 18 fps at 1280x720 on two cores, against about 80 for "veryfast").
DEFAULT_OPTIONS = EncodeOptions(crf=18, preset="veryfast")
_LOOKAHEAD = 8  # frames in flight in the worker threads (memory stays flat)


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


#: frames either side that decide a block's class (0.27 s at 30 fps)
_CLASS_HALF_WINDOW = 8
#: luma levels: a block becomes featureless when its standard deviation stays below the first
#: over the window, and stops being so when it exceeds the second (hysteresis: camera noise
#: hovering near one threshold must not make the mark flicker block by block)
_FLAT_STD = (0.75, 1.0)
#: luma levels: a featureless block becomes still when its mean spans less than the first over
#: the window (a fade of 0.05 level per frame does not), moving when it spans more than the second
_STILL_RANGE = (0.75, 1.5)
#: blocks: a featureless block is special only when 90% of its neighbours this far are
#: featureless too (camera footage has many small quiet patches; treating those as special cost
#: bytes and read-back margin, while large flat areas are where the special marks pay; a few
#: noisy blocks must not punch holes in a flat area)
_FLAT_MARGIN = 3


_Stats = tuple[np.ndarray, np.ndarray]  # per block: mean, standard deviation


def block_classes(
    frames: Iterable[YUVFrame], grid: tuple[int, int], pool: Executor | None = None
) -> Iterator[tuple[YUVFrame, np.ndarray]]:
    """Each frame with its block classes for :func:`embed_luma` (``NORMAL``, ``STILL_FLAT``,
    ``MOVING_FLAT``; blocks of :func:`block_size` for the pattern's ``grid``).

    The statistics span the ``_CLASS_HALF_WINDOW`` frames either side (fewer at the ends of the
    stream) and the classes have hysteresis, so that blocks do not flip class with every
    frame's noise; only blocks inside large featureless areas (``_FLAT_MARGIN``) are special.
    Frames come out ``_CLASS_HALF_WINDOW`` frames late; only block statistics are kept for the
    past. With ``pool``, the statistics are computed there (they are a tenth of the marking
    work)."""
    past: deque[_Stats] = deque(maxlen=_CLASS_HALF_WINDOW)
    ahead: deque[tuple[YUVFrame, Future[_Stats]]] = deque()
    state: list[np.ndarray] = []  # featureless, still (bool per block), once a frame is out

    def emit() -> tuple[YUVFrame, np.ndarray]:
        f, fut = ahead.popleft()
        mean, std = fut.result()
        lo, hi, top = mean.copy(), mean.copy(), std.copy()
        for m, sd in (*past, *(st.result() for _, st in ahead)):
            if m.shape == mean.shape:  # a size change mid-stream: compare like with like
                np.minimum(lo, m, out=lo)
                np.maximum(hi, m, out=hi)
                np.maximum(top, sd, out=top)
        past.append((mean, std))
        span = hi - lo
        if state and state[0].shape == mean.shape:
            flat = np.where(state[0], top <= _FLAT_STD[1], top < _FLAT_STD[0])
            still = np.where(state[1], span <= _STILL_RANGE[1], span < _STILL_RANGE[0])
        else:
            flat, still = top < _FLAT_STD[0], span < _STILL_RANGE[0]
        state[:] = [flat, still]
        side = 2 * _FLAT_MARGIN + 1
        around = cv2.blur(flat.astype(np.float32), (side, side), borderType=cv2.BORDER_REPLICATE)
        core = flat & (around >= 0.9)
        classes = np.where(still, STILL_FLAT, MOVING_FLAT).astype(np.int8)
        classes[~core] = NORMAL
        return f, classes

    for f in frames:
        size = block_size(f.y.shape, grid)
        fut: Future[_Stats]
        if pool is not None:
            fut = pool.submit(block_stats, f.y, size)
        else:
            fut = Future()
            fut.set_result(block_stats(f.y, size))
        ahead.append((f, fut))
        if len(ahead) > _CLASS_HALF_WINDOW:
            yield emit()
    while ahead:
        yield emit()


def _marked(
    frames: Iterable[YUVFrame], payload: str | bytes, key: bytes, config: WatermarkConfig
) -> Iterator[tuple[YUVFrame, YUVFrame]]:
    """(original, marked) pairs in order; frames are marked in worker threads (OpenCV and
    numpy release the GIL), at most ``_LOOKAHEAD`` at a time, once :func:`block_classes` has seen
    the frames around them."""
    coded = encode(parse_payload(payload)).astype(np.float32) * 2 - 1
    pattern = keyed_pattern(key, config.grid, config.pilot_fraction)

    def one(f: YUVFrame, blocks: np.ndarray) -> YUVFrame:
        return replace(f, y=embed_luma(f.y, pattern, coded, config, blocks))

    def checked(frames: Iterable[YUVFrame]) -> Iterator[YUVFrame]:
        for f in frames:
            check_yuv(f)
            check_size(f.y.shape[1], f.y.shape[0], config)
            yield f

    with ThreadPoolExecutor(_workers(), thread_name_prefix="vidprov-embed") as pool:
        pending: deque[tuple[YUVFrame, Future[YUVFrame]]] = deque()
        for f, blocks in block_classes(checked(frames), config.grid, pool):
            pending.append((f, pool.submit(one, f, blocks)))
            if len(pending) >= _LOOKAHEAD:
                f0, fut = pending.popleft()
                yield f0, fut.result()
        while pending:
            f0, fut = pending.popleft()
            yield f0, fut.result()


def embed(
    frames: Iterable[YUVFrame],
    payload: str | bytes,
    key: bytes,
    config: WatermarkConfig | None = None,
) -> Iterator[YUVFrame]:
    """Mark each frame's luma with ``payload``; chroma and timestamps pass through.

    Frames are marked a few at a time in worker threads; they come out in order, about
    ``_CLASS_HALF_WINDOW + _LOOKAHEAD`` frames behind the input (:func:`block_classes` looks at
    the frames around each one).

    Args:
        frames: Y/U/V frames (e.g. ``VideoReader.frames("yuv420p")``), consumed lazily.
        payload: 64 bits as 16 hex characters or 8 bytes.
        key: the 256-bit watermark key.

    Raises:
        WatermarkError: bad payload or key, or frames smaller than ``config.min_side``.
        MediaError: an item that is not a ``uint8`` 4:2:0 :class:`YUVFrame` with a finite time
            (:func:`vidprov.media.frames.check_yuv`).
    """
    config = config or WatermarkConfig()
    for _, marked in _marked(frames, payload, key, config):
        yield marked


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = cv2.norm(a, b, cv2.NORM_L2SQR) / a.size
    return 99.0 if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def embed_file(
    src: str | Path,
    dst: str | Path,
    key: bytes,
    payload: str | bytes | None = None,
    config: WatermarkConfig | None = None,
    options: EncodeOptions | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    read_back: bool = True,
    check_reupload: bool = False,
) -> EmbedResult:
    """Watermark a video file: decode, mark luma, encode H.264 (atomic), copy audio and timing.

    ``options`` defaults to :data:`DEFAULT_OPTIONS` (CRF 18, x264 "veryfast"). With
    ``read_back`` (the default) the encoded file is detected before it replaces ``dst``, and a
    mark that does not read back with its payload leaves nothing written. With
    ``check_reupload``, so does one that does not survive a re-encode as an upload would make
    (H.264 CRF 28), read with margin over the whole clip: the check the generator makes before
    it releases a clip (:func:`vidprov.watermark.durable.reupload_check`; ``progress`` then
    counts each frame three times: marked, re-encoded, read back).

    A ``src`` that carries a C2PA manifest (whatever its state) is refused before anything is
    written: the re-encoded output would carry none, dropping the clip's provenance (and, once
    signed again, relabelling it). Watermark before signing; an edit that keeps the manifest
    as an ingredient is ``vidprov edit``. With ``read_back``, so is a ``src`` that already
    carries a mark under ``key``: a second payload would replace the first (cutting the clip's
    link to the manifest stored for it), or leave neither readable.

    Raises:
        MediaError: unreadable input or unwritable output.
        ProvenanceError: ``src`` carries a C2PA manifest.
        WatermarkError: bad payload or key, frames too small, or (``read_back``) ``src``
            already carries a mark under ``key``, or the payload does not read back: the clip
            is too short or too small for this strength and CRF; (``check_reupload``) the
            mark does not survive the re-encode.
    """
    config = config or WatermarkConfig()
    payload_hex = parse_payload(payload if payload is not None else random_payload()).hex()
    key = check_watermark_key(key)  # a bad key: before any work
    from vidprov.provenance.sign import refuse_manifest

    with VideoReader(check_file(src)) as reader:  # not a video: said so, not "a broken manifest"
        check_size(reader.info.width, reader.info.height, config, src)
    refuse_manifest(
        Path(src),
        "watermarking re-encodes the clip and would drop that manifest and its history",
        "watermark the unsigned clip before signing it, or derive a signed copy with "
        "`vidprov edit trim`, which keeps this manifest as an ingredient",
        "its manifest is broken (tampered?), so nothing can carry it over: watermark the "
        "original, unsigned clip",
    )
    from vidprov.watermark.detect import FrameDetector

    # with read_back, the source is checked for an earlier mark in the same pass (no second
    # decode): its reading is ready once the output is encoded, and refusing leaves nothing
    before = FrameDetector(key, config) if read_back else None
    psnrs: list[float] = []
    out = AtomicFile(dst)
    try:
        with (
            VideoReader(src) as reader,
            VideoWriter.like(reader, out.tmp, options or DEFAULT_OPTIONS) as writer,
        ):
            marked_frames = _marked(reader.frames("yuv420p"), payload_hex, key, config)
            for original, marked in marked_frames:
                if before is not None:
                    before.add(original)
                psnrs.append(_psnr(original.y, marked.y))
                writer.write(marked)
                if progress is not None:
                    progress(1)
            frame = 1 / float(reader.info.fps) if reader.info.fps else None
        psnr_mean = float(np.mean(psnrs))  # the reader raised before a clip with no frames
        if before is not None:
            _refuse_marked(src, before.reading(frame))
            _check_read_back(src, out.tmp, key, payload_hex, config, psnr_mean)
        reupload = None
        if check_reupload:
            reupload = reupload_check(out.tmp, key, payload_hex, config, progress)
            _refuse_fragile(src, reupload, config)
        out.commit()
    finally:
        out.discard()
    log.info("%s: embedded payload %s in %d frames", dst, payload_hex, len(psnrs))
    return EmbedResult(
        input=str(src),
        output=str(dst),
        payload=payload_hex,
        frames=len(psnrs),
        psnr_mean=psnr_mean,
        psnr_min=float(np.min(psnrs)),
        reupload=reupload,
    )


def _refuse_fragile(src: str | Path, check: ReuploadCheck, config: WatermarkConfig) -> None:
    """Refuse a mark the re-upload ``check`` lost.

    Raises:
        WatermarkError: it did not survive (what was read instead named).
    """
    if check.survives:
        return
    read = (
        f"payload {check.payload}, p = {check.p_value:.2g}"
        + ("" if check.covered else ", not over the whole clip")
        if check.payload
        else f"no payload, p = {check.p_value:.2g}"
    )
    higher = [s for s in STRENGTHS if s > config.strength]
    step = f"try --strength {higher[0]:g}" if higher else "raise --strength"
    raise WatermarkError(
        f"the mark does not survive a CRF {check.crf} re-encode with margin ({read}); {step} "
        f"(now {config.strength:g}; the generator tries "
        f"{', '.join(f'{s:g}' for s in STRENGTHS)} in turn) or mark a longer or larger clip",
        src,
    )


#: a mark this faint (mean Y-PSNR, dB) means the frames had almost nothing to hide it in
FAINT_PSNR = 60.0


def _refuse_marked(src: str | Path, before: WatermarkReading) -> None:
    """Refuse a clip whose own frames (``before``: their reading) already carry our mark.

    Raises:
        WatermarkError: they do (its payload named).
    """
    if before.detected:
        raise WatermarkError(
            f"already carries a watermark under this key (payload "
            f"{before.payload or 'not decoded'}); a second mark would replace it, cutting the "
            "clip's link to the manifest stored for it, or leave neither readable: mark the "
            "unmarked original instead",
            src,
        )


def _check_read_back(
    src: str | Path,
    marked: Path,
    key: bytes,
    payload: str,
    config: WatermarkConfig,
    psnr: float,
) -> None:
    from vidprov.watermark.detect import detect_file

    reading = detect_file(marked, key, config)
    if reading.payload == payload:
        return
    if psnr >= FAINT_PSNR and config.strength >= 1.0:  # weak: not flat
        raise WatermarkError(
            f"the mark does not read back from the encoded clip (p = {reading.p_value:.2g}): "
            f"the frames are nearly featureless (flat colour: the mark came out at {psnr:.0f} "
            "dB Y-PSNR, against about 45 on a textured clip), so there is no texture to carry "
            "it and a stronger mark would show; a clip with some detail can be marked",
            src,
        )
    raise WatermarkError(
        f"the mark does not read back from the encoded clip (p = {reading.p_value:.2g}): "
        f"the clip ({reading.frames} frames) is too short or too small for strength "
        f"{config.strength} at "
        "this CRF; raise --strength, lower --crf, or mark a longer clip",
        src,
    )
