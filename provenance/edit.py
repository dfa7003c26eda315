"""Edits that keep lineage: trim and concatenate, re-encoded and signed with the sources as
ingredients, and the sources' soft-binding blocks re-mapped onto the new timeline."""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidprov.atomic import AtomicFile
from vidprov.errors import ConfigError, ProvenanceError, WatermarkError, printable
from vidprov.keys import check_watermark_key, optional_watermark_key
from vidprov.media.frames import Frame, YUVFrame
from vidprov.media.info import Display, probe, read_display
from vidprov.media.reader import VideoReader
from vidprov.media.writer import EncodeOptions, VideoWriter
from vidprov.provenance.composition import Piece, composition_of, declared_by, remap_pieces
from vidprov.provenance.manifest import (
    COMPOSITE,
    COMPOSITE_TRAINED,
    TRAINED,
    SignOptions,
    container_of,
    lineage_source_type,
    mime_for,
    mime_of,
)
from vidprov.provenance.sign import Ingredient, SignResult, read_back_blocks, sign_file
from vidprov.provenance.signer import CallbackSigner, load_signer
from vidprov.provenance.softbinding import (
    SoftBindingBlock,
    blocks_from_reading,
    from_manifest,
    remap,
)
from vidprov.provenance.store import ManifestStore
from vidprov.provenance.verify import C2paReport, load_trust_anchors, mark_evidence, read_c2pa
from vidprov.watermark.config import WatermarkConfig
from vidprov.watermark.embed import check_size, embed
from vidprov.watermark.results import WatermarkReading, covers_clip

log = logging.getLogger(__name__)

EDIT_QUALITY = EncodeOptions(crf=18, preset="fast")
_EXACT_S = 0.05  # declared blocks are exact: a source they cover but for this is marked whole
_TB = Fraction(1, 90000)


def _source(
    path: Path, key: bytes | None, duration: float, reading: WatermarkReading | None = None
) -> tuple[tuple[SoftBindingBlock, ...], bool, str | None, tuple[Piece, ...]]:
    """A source's soft-binding blocks (from its manifest, else from its watermark: ``reading``
    when :func:`_check_source` already read it, else read back now), whether it is AI content
    (its manifest's lineage says so, or it carries our mark), the generated-content type
    its manifest's lineage declares (``TRAINED``, ``COMPOSITE_TRAINED`` or None) and the
    composition its manifest records (an edit's; none for other clips)."""
    import c2pa

    container = container_of(path)
    store: dict[str, Any] = {}
    if container is not None and container.mime is not None:
        try:
            with open(path, "rb") as f:
                store = json.loads(c2pa.Reader(container.mime, f).json())
        except c2pa.C2paError:
            store = {}
    label = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(label) or {}
    blocks = from_manifest(manifest) or (
        blocks_from_reading(reading, duration)
        if reading is not None
        else read_back_blocks(path, key, duration)
    )
    # soft-binding blocks are our watermark, which only generated clips carry; a trim's own
    # manifest declares no source type (its action is c2pa.opened): its lineage does
    kind = lineage_source_type(store, label)
    declared = kind if kind in (TRAINED, COMPOSITE_TRAINED) else None
    # pieces refine a composite's claim, never another one's: a clip declared generated whose
    # manifest also listed an unclaimed piece made a trim declared not generated at all
    pieces = composition_of(manifest) if kind in (COMPOSITE_TRAINED, COMPOSITE) else ()
    return blocks, declared is not None or bool(blocks), declared, pieces


def _opened(
    ai: bool,
    declared: bool,
    blocks: tuple[SoftBindingBlock, ...],
    length: float,
    pieces: tuple[Piece, ...] = (),
) -> dict[str, Any]:
    """The trim's ``c2pa.opened`` action; it declares generated content itself only when the
    source's manifest does not already (none: a re-upload that kept our watermark; or one
    whose claim our mark contradicts, signed where our manifest store is not): by where our
    mark lies in the trim (``blocks``, over ``length`` seconds), generated from end to end, in
    part (a composite), or not at all (until this version a trim of a clip marked in part
    declared it generated from end to end, so a scan read its camera footage ``ai``).
    A trim of a composite that recorded its composition (``pieces``: the trim's part of it;
    :func:`_source` reads pieces from composites only) declares what that part is: a trim of
    a concatenation's camera piece inherited its composite claim, and a scan read it
    ``mixed``; one holding unclaimed pieces only declares a plain ``composite``."""
    action: dict[str, Any] = {
        "action": "c2pa.opened",
        "parameters": {"ingredientIds": ["ingredient0"]},
    }
    kind = declared_by(pieces)
    if kind is not None:
        action["digitalSourceType"] = {
            "generated": TRAINED,
            "composite": COMPOSITE_TRAINED,
            "unclaimed": COMPOSITE,
        }[kind]
    elif ai and not declared:
        spans = [(b.start_ms / 1000, b.end_ms / 1000) for b in blocks]
        if covers_clip(spans, length):
            action["digitalSourceType"] = TRAINED
        elif spans:
            action["digitalSourceType"] = COMPOSITE_TRAINED
    return action


def _check_source(
    path: Path, anchors: str | None, key: bytes | None, store: ManifestStore | None
) -> tuple[C2paReport, WatermarkReading | None]:
    """The source's manifest report, refusing a broken one: signing an edit of it would make a
    valid manifest over content whose own provenance failed; and, for a source whose manifest
    reads, its watermark reading (:func:`verify_file`'s conflict rule needs it). ``anchors``:
    the home trust anchors, loaded once for all the sources.

    Raises:
        MediaError: the source is missing, not a file or not a readable video.
        ProvenanceError: the source's manifest is tampered with or unreadable (an untrusted or
            since-expired signer is the reader's call: the ingredient records it, checked
            against the home trust anchors), or contradicts the manifest our watermark links
            it to (a camera claim signed over our generated clip: an edit would launder it);
            its bytes are not a container C2PA takes as an ingredient (a WebM named ``.mp4``
            too); the home trust anchors are malformed.
    """
    from vidprov.media._open import open_input

    path, container = open_input(path)  # not a video at all: say that, not "tampered"
    container.close()
    try:  # refused here, before the re-encode, rather than when it is added
        mime_of(path)
    except ProvenanceError as exc:
        raise ProvenanceError(
            f"{exc.message}; an edit embeds each source as a C2PA ingredient, which this one "
            "cannot be (only MP4, MOV and AVI sources)",
            path,
        ) from exc
    report, reading = read_c2pa(path, anchors), None
    if report.state in ("valid", "trusted"):  # only a readable manifest can conflict
        verified = mark_evidence(path, report, anchors, optional_watermark_key(key), store)
        if verified.conflicts:
            raise ProvenanceError(
                f"{verified.conflicts[0]}; a signed edit of it would carry that claim on",
                path,
            )
        reading = verified.watermark
    if report.state == "valid":
        log.warning(
            "%s: its manifest's signer is not vouched for by your trust anchors (%s); the "
            "edit's manifest records that in the ingredient",
            printable(str(path)),
            ", ".join(report.failures),
        )
    if report.state == "invalid" and report.tampered:
        raise ProvenanceError(
            f"its C2PA manifest is invalid ({', '.join(report.tampered)}); a tampered source "
            "cannot go into a signed edit",
            path,
        )
    return report, reading


def trim_file(
    src: str | Path,
    dst: str | Path,
    start: float,
    end: float,
    signer: CallbackSigner | None = None,
    *,
    key: bytes | None = None,
    store: ManifestStore | None = None,
    encode: EncodeOptions = EDIT_QUALITY,
) -> SignResult:
    """Write ``dst``: ``[start, end)`` seconds of ``src`` (audio included), signed, with ``src``
    as its ``parentOf`` ingredient.

    Raises:
        ConfigError: an empty or negative range, or one that holds no frame.
        MediaError: unreadable input.
        ProvenanceError: ``src``'s manifest is invalid, or ``src`` is not MP4, MOV or AVI
            (it goes in as a C2PA ingredient); as :func:`sign_file`.
    """
    src, dst = Path(src), Path(dst)
    key = check_watermark_key(key) if key is not None else None  # before the re-encode
    mime_for(dst)
    if not (0 <= start < end):
        raise ConfigError(f"bad trim range {start}..{end} s (need 0 <= start < end)", src)
    _, reading = _check_source(src, load_trust_anchors(None), key, store)
    signer = signer or load_signer()  # the home signer: refused before the re-encode
    tmp = AtomicFile(dst)
    try:
        with VideoReader(src) as r:
            info = r.info
            if start >= info.duration:
                raise ConfigError(
                    f"trim start {start} s is past the end ({info.duration:.2f} s)", src
                )
            end = min(end, info.duration)
            with VideoWriter(
                tmp.tmp,
                info.width,
                info.height,
                info.fps,
                encode,
                audio_from=src,
                time_base=_TB,
                audio_window=(start, end),
                display=read_display(src),
            ) as w:
                first: float | None = None
                last = start
                for f in r.frames("rgb24"):
                    if start - 1e-6 <= f.time < end - 1e-6:
                        w.write(_retime(f, f.time - start))
                        first = f.time if first is None else first
                        last = f.time
                if first is None:
                    raise ConfigError(f"trim range {start}..{end} s holds no frame", src)
        src_blocks, src_ai, declared, src_pieces = _source(src, key, info.duration, reading)
        # on the trim's clock, which runs from its first frame to its last frame's end (a
        # reader's does): from a start between frames, pieces taken from the range were a
        # fraction of a frame early, and a trim of a trim could declare the last frame of a
        # generated piece camera footage
        stop = max(end, last + 1 / float(info.fps))
        blocks = remap(src_blocks, first, stop)
        pieces = remap_pieces(src_pieces, first, stop)
        options = SignOptions(title=dst.name, soft_binding=blocks, composition=pieces)
        actions = [
            _opened(src_ai, declared is not None, blocks, stop - first, pieces),
            {"action": "c2pa.edited", "description": f"trimmed to {start:.3f}-{end:.3f} s"},
        ]
        signed = sign_file(
            tmp.tmp,
            dst,
            options,
            signer,
            actions=actions,
            ingredients=(Ingredient(src, "parentOf"),),
            key=key,
            store=store,
        )
        return replace(signed, input=str(src))  # the clip trimmed, not the temp re-encode
    finally:
        tmp.discard()


def _retime(f: Frame, t: float) -> Frame:
    return replace(f, time=t, pts=round(t / _TB), time_base=_TB)


def concat_files(
    sources: Sequence[str | Path],
    dst: str | Path,
    signer: CallbackSigner | None = None,
    *,
    key: bytes | None = None,
    store: ManifestStore | None = None,
    encode: EncodeOptions = EDIT_QUALITY,
) -> SignResult:
    """Write ``dst``: the sources one after another, each keeping its own timing, signed, with
    every source as a ``componentOf`` ingredient. Each source is fitted into the first's
    picture, keeping its shape (black bars where it differs). When the sources are not all
    shown the same way (rotation, pixel shape), each is turned upright with square pixels
    first, and the output carries no rotation. The sources' sound (each one's first audio
    track) is joined into one AAC track, each at its source's place; a source without sound,
    or whose sound ends early, is silence there (when none has sound, there is no track).

    Raises:
        ConfigError: fewer than two sources.
        MediaError: an unreadable source.
        ProvenanceError: a source's manifest is invalid, or a source is not MP4, MOV or AVI
            (each goes in as a C2PA ingredient); as :func:`sign_file`.
    """
    if isinstance(sources, str | os.PathLike):  # one path, not a list of its characters
        raise ConfigError(f"concat needs a list of at least two sources, got one path: {sources}")
    paths = [Path(s) for s in sources]
    dst = Path(dst)
    key = check_watermark_key(key) if key is not None else None  # before the re-encode
    mime_for(dst)
    if len(paths) < 2:
        raise ConfigError("concat needs at least two sources")
    anchors = load_trust_anchors(None)
    readings = [_check_source(p, anchors, key, store)[1] for p in paths]
    signer = signer or load_signer()  # the home signer: refused before the re-encode
    shows = [read_display(p) for p in paths]
    with VideoReader(paths[0]) as r0:
        w0, h0, fps0 = r0.info.width, r0.info.height, r0.info.fps
    # sources shown alike keep the first's tags; otherwise each is turned upright
    upright = any(_shape(d) != _shape(shows[0]) for d in shows)
    shown = shows[0]
    if upright:
        shown = replace(shown, rotation=0, sample_aspect_ratio=None)
        w0, h0 = _upright_size(w0, h0, shows[0])
    infos = [probe(p) for p in paths]  # the frames' own lengths: a header's can hold unshown
    sound = any(i.has_audio for i in infos)
    # a source given bars is marked again with its own payload: the home key is the one our
    # marks are read with (as :func:`_source` reads them)
    mark_key, why_not = optional_watermark_key(key), "no watermark key"
    if mark_key is not None:
        try:
            check_size(w0, h0, WatermarkConfig())
        except WatermarkError as exc:
            mark_key, why_not = None, str(exc)
    tmp = AtomicFile(dst)
    try:
        blocks: list[SoftBindingBlock] = []
        pieces: list[Piece] = []  # the timeline, by what each source was
        ai, whole = False, True  # any source generated; every source generated end to end
        offset = 0.0
        with VideoWriter(
            tmp.tmp, w0, h0, fps0, encode, time_base=_TB, display=shown, joined_audio=sound
        ) as w:
            for p, reading, d, info in zip(paths, readings, shows, infos, strict=True):
                if sound:
                    w.audio_join.add(p, offset, VideoReader.first_time(p))
                dur, fps = info.duration, info.fps
                src_blocks, src_ai, declared, src_pieces = _source(p, key, dur, reading)
                spans = [(b.start_ms / 1000, b.end_ms / 1000) for b in src_blocks]
                # exactly: the default slack would take a 1 s camera stretch for a lost mark; a
                # composite our mark covers from end to end (a concat of generated clips made
                # before concats declared them generated) is generated too
                generated = declared == TRAINED or (
                    declared in (None, COMPOSITE_TRAINED)
                    and not src_pieces
                    and covers_clip(spans, dur, slack=_EXACT_S)
                )
                whole = whole and generated
                shape = d if upright else None
                boxed = _fit(info.width, info.height, w0, h0, shape) != (w0, h0)
                mark = mark_key if boxed and src_blocks else None
                with VideoReader(p) as r:
                    last = -1.0
                    fitted = _fitted(r.frames("rgb24"), w0, h0, shape)
                    for f in _remarked(fitted, src_blocks, mark, w) if mark else fitted:
                        w.write(_retime(f, offset + f.time))
                        last = f.time
                if boxed and src_blocks and mark is None:
                    log.warning(
                        "%s: fitted into %dx%d with black bars, its watermark no longer reads "
                        "and cannot be marked again (%s): a copy of %s stripped of its manifest "
                        "cannot be traced back to it through that part",
                        printable(str(p)), w0, h0, why_not, printable(str(dst)),
                    )  # fmt: skip
                    src_blocks = ()
                blocks += remap(src_blocks, 0.0, dur, offset)
                ai = ai or src_ai
                length = max(dur, last + 1 / float(fps))  # its own last frame's length
                kind = "generated" if generated else "composite" if src_ai else "unclaimed"
                inner = remap_pieces(src_pieces, 0.0, length, offset)
                pieces += _spanning(inner, offset, length, 1 / float(fps)) or [
                    Piece(offset, offset + length, kind)
                ]
                offset += length
                if sound:
                    w.audio_join.cut(offset)
        # generated clips joined are still generated from end to end (until this version they
        # were declared a composite with generated media, which a scan read as `mixed`)
        kind = TRAINED if ai and whole else COMPOSITE_TRAINED if ai else COMPOSITE
        action: dict[str, Any] = {
            "action": "c2pa.created",
            "description": "concatenation",
            "digitalSourceType": kind,
        }
        placed = [
            {"action": "c2pa.placed", "parameters": {"ingredientIds": [f"ingredient{i}"]}}
            for i in range(len(paths))
        ]
        signed = sign_file(
            tmp.tmp,
            dst,
            SignOptions(
                title=dst.name, ai=ai, soft_binding=tuple(blocks), composition=tuple(pieces)
            ),
            signer,
            actions=[action, *placed],
            ingredients=tuple(Ingredient(p, "componentOf") for p in paths),
            key=key,
            store=store,
        )
        return replace(signed, input=" + ".join(map(str, paths)))  # each one: `ingredients`
    finally:
        tmp.discard()


def _spanning(
    pieces: tuple[Piece, ...], offset: float, length: float, frame: float
) -> tuple[Piece, ...]:
    """A source's own pieces, placed at ``offset``, stretched over its ``length`` where they
    fall short of its ends by less than a ``frame`` (an edit's pieces end at its length as
    measured when it was made, which its average frame rate can put a few milliseconds off:
    a gap a scan then labelled by itself)."""
    if not pieces:
        return pieces
    first, last = pieces[0], pieces[-1]
    if 0 < first.start - offset < frame:
        pieces = (replace(first, start=offset), *pieces[1:])
    if 0 < offset + length - last.end < frame:
        pieces = (*pieces[:-1], replace(pieces[-1], end=offset + length))
    return pieces


def _shape(d: Display) -> tuple[int, Fraction]:
    """How a source's stored frames are turned and stretched for showing."""
    return d.rotation, d.sample_aspect_ratio or Fraction(1)


def _shown(w: int, h: int, d: Display | None) -> tuple[float, float]:
    """The size ``w`` x ``h`` stored frames are shown at with ``d``: upright, square pixels
    (``None``: as stored)."""
    if d is None:
        return float(w), float(h)
    dw, dh = w * float(_shape(d)[1]), float(h)
    return (dh, dw) if d.rotation % 180 else (dw, dh)


def _upright_size(w: int, h: int, d: Display) -> tuple[int, int]:
    """:func:`_shown`, in even whole pixels (the encoder's 4:2:0)."""
    dw, dh = _shown(w, h, d)
    return max(2, round(dw / 2) * 2), max(2, round(dh / 2) * 2)


def _fitted(frames: Iterator[Frame], w: int, h: int, d: Display | None) -> Iterator[Frame]:
    """Frames fitted into ``w`` x ``h`` keeping their shape, centred on black; with ``d``,
    first turned upright with square pixels as ``d`` shows them."""
    for f in frames:
        rgb = f.rgb
        nw, nh = _fit(rgb.shape[1], rgb.shape[0], w, h, d)
        if d is not None and d.rotation % 360:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=(d.rotation // 90) % 4))
        if (nw, nh) != (rgb.shape[1], rgb.shape[0]):
            rgb = cv2.resize(rgb, (max(1, nw), max(1, nh)), interpolation=cv2.INTER_AREA)
        if (nw, nh) != (w, h):
            canvas = np.zeros((h, w, 3), np.uint8)
            y, x = (h - nh) // 2, (w - nw) // 2
            canvas[y : y + nh, x : x + nw] = rgb
            rgb = canvas
        if rgb is not f.rgb:
            f = replace(f, rgb=rgb)
        yield f


def _fit(sw: int, sh: int, w: int, h: int, d: Display | None) -> tuple[int, int]:
    """The size stored frames of ``sw`` x ``sh`` take inside ``w`` x ``h`` keeping their
    shown shape (``d``, as in :func:`_fitted`); smaller than ``w`` x ``h`` means black bars."""
    fw, fh = _shown(sw, sh, d)
    scale = min(w / fw, h / fh)
    nw, nh = round(fw * scale), round(fh * scale)
    if abs(nw - w) <= 1 and abs(nh - h) <= 1:  # the same shape: no one-pixel bar
        nw, nh = w, h
    return nw, nh


def _remarked(
    frames: Iterator[Frame], blocks: Sequence[SoftBindingBlock], key: bytes, w: VideoWriter
) -> Iterator[YUVFrame]:
    """``frames`` as Y/U/V, marked again with the payload of the block each falls in (frames
    outside every block pass unmarked): for a source fitted into the output with black bars,
    which move its picture off the mark's grid, so that its mark would not read (p = 1 after a
    concat put a 320x180 camera clip first and a marked 320x240 clip after it). The planes are
    converted as the writer ``w`` converts RGB frames, by the output's matrix and range."""

    def payload_at(f: YUVFrame) -> str | None:
        ms = f.time * 1000
        return next((b.payload for b in blocks if b.start_ms <= ms < b.end_ms), None)

    def yuv(fs: Iterator[Frame]) -> Iterator[YUVFrame]:
        for f in fs:
            y, u, v = w.to_yuv(f.rgb)
            yield YUVFrame(f.index, f.time, f.pts, f.time_base, y, u, v)

    for payload, run in itertools.groupby(yuv(frames), key=payload_at):
        if payload is None:
            yield from run
        else:
            yield from embed(run, payload, key)
