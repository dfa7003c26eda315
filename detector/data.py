"""Datasets for the detector: the clip index, splits by source and generator, normalised and
augmented training windows, and synthesised mixed clips with ground-truth intervals.

Normalisation removes what the shared clips give away besides generation (README of the data:
AI clips are mostly 8 fps, 16 frames, square): every window is resampled to a frame rate,
length, aspect and size drawn *independently of its label*, after a random pre-scale and crop,
and re-encoded with H.264 at a random average bitrate (0.02-0.3 bits per pixel, so the bitrate
follows the drawn size and rate, not the content), so that neither the container metadata nor
the codec tells the classes apart. At a fixed CRF smooth AI clips come out smaller and the
bitrate alone gives them away: with half the windows at a CRF 18..35 (``abr_share=0.5``, the
earlier default) a metadata-only forest reached a leave-one-generator-out AUC of 0.667 on the
benchmark's test draw, 0.550 with every window at an average bitrate.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vidprov.detector.sampling import check_classifiable
from vidprov.errors import DetectorError, MediaError
from vidprov.media import EncodeOptions, VideoReader, VideoWriter, iter_frames

log = logging.getLogger(__name__)
_WARNED: set[tuple[Path, int | str]] = set()  # index lines and gaps already reported

DATA_ENV = "VIDPROV_DATA"


@dataclass(frozen=True)
class ClipEntry:
    """One row of ``index.csv``. ``group``: clips that may be near-duplicates share it."""

    file: Path
    label: str  # "ai" | "real"
    generator: str
    source: str
    group: str

    @property
    def y(self) -> int:
        return int(self.label == "ai")


@dataclass(frozen=True)
class NormaliseConfig:
    """How a training window is drawn from a clip (every choice independent of the label)."""

    seconds: float = 2.0
    fps_choices: tuple[float, ...] = (8.0, 15.0, 24.0)
    sizes: tuple[tuple[int, int], ...] = ((320, 240), (240, 240), (426, 240), (360, 270))
    crf: tuple[int, int] = (18, 35)  # windows not at an average bitrate (see ``abr_share``)
    bpp: tuple[float, float] = (0.02, 0.3)  # bitrate = bpp x width x height x fps (log-uniform)
    abr_share: float = 1.0  # windows at an average bitrate; the rest at a CRF (in ``crf``)
    prescale: tuple[float, float] = (0.5, 1.0)
    keep_scale_share: float = 0.3  # windows with no pre-scale (uploads are not all degraded)
    max_crop: float = 0.1
    gif_share: float = 0.0  # windows palette-quantised like a GIF before anything else
    # windows whose content first passes through a short side of ``bottleneck_lines`` (when the
    # crop is larger): every source, large or small, then carries the same resize history.
    # Off by default: on the benchmark it moved the LOGO AUC by less than the spread between
    # window draws (benchmarks/detector_windows.py, docs/detector.md)
    bottleneck_share: float = 0.0
    bottleneck_lines: tuple[int, int] = (120, 240)


def data_dir(path: str | Path | None) -> Path:
    """The dataset folder: ``path``, else ``$VIDPROV_DATA``.

    Raises:
        DetectorError: neither given, no such folder, or the folder has no ``index.csv``.
    """
    p = path if path is not None else os.environ.get(DATA_ENV, "").strip()
    if not p:
        raise DetectorError(f"no dataset: pass --data DIR or set {DATA_ENV}")
    d = Path(p)
    try:
        found = (d / "index.csv").is_file()
        is_file = not found and d.is_file()
        missing = not found and not is_file and not d.exists()
    except OSError as exc:  # a name too long, a folder that cannot be searched
        raise DetectorError(f"cannot read the dataset folder ({exc.strerror})", d) from exc
    if missing:
        raise DetectorError("no such dataset folder", d)
    if is_file:
        raise DetectorError("is a file: give the folder that holds index.csv", d)
    if not found:
        raise DetectorError("no index.csv in the dataset folder", d)
    return d


def read_index(path: str | Path | None = None) -> list[ClipEntry]:
    """Read ``index.csv`` (columns file, label, generator, source_repo[, source_path]).

    Real clips are grouped by source repository and folder (pieces of one recording, or one
    recording session, stay together); AI clips by generator and repository, or alone when
    their row names no repository. Labels are read regardless of case.

    Raises:
        DetectorError: missing folder/index, bad labels, listed files that do not exist, a clip
            listed twice with two labels (listed twice with one, it is counted once, with a
            warning).
    """
    root = data_dir(path)
    index = root / "index.csv"
    out: list[ClipEntry] = []
    reader: csv.DictReader[str] | None = None
    try:  # utf-8-sig: spreadsheets often start the file with a byte-order mark
        with open(index, newline="", encoding="utf-8-sig") as fh:
            # strict: a quote left open is an error, not the rest of the file read as one field
            reader = csv.DictReader(fh, strict=True)
            # blank lines before the header are skipped, as they are between rows
            while reader.fieldnames is not None and not any(f.strip() for f in reader.fieldnames):
                reader.fieldnames = next(reader.reader, None)  # type: ignore[assignment]
            if not reader.fieldnames:
                raise DetectorError("index.csv is empty", root)
            # "Generator" or " source_repo" (a space after the comma) name the same column: read
            # as is, they were silently left out, and every clip became a group of its own
            reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
            _warn_ungrouped(index, reader.fieldnames)
            twice = sorted({f for f in reader.fieldnames if reader.fieldnames.count(f) > 1})
            if twice:
                raise DetectorError(f"index.csv has two {twice[0]!r} columns", root)
            missing = {"file", "label"} - set(reader.fieldnames)
            if missing:
                cols = ", ".join(reader.fieldnames) or "none"
                need = " and ".join(sorted(missing))
                raise DetectorError(f"index.csv needs a {need} column (it has: {cols})", root)
            seen: dict[Path, tuple[int, int]] = {}  # clip: (line, entry index)
            for row in reader:
                line = reader.line_num  # the row's last physical line (blank lines counted)
                cells = [c for v in row.values() for c in (v if isinstance(v, list) else [v])]
                if not any((c or "").strip() for c in cells):
                    continue  # a row of empty cells (",,,,": a spreadsheet's), as a blank line
                entry = _entry(root, row, line)
                key = entry.file.resolve()
                if key in seen and out[seen[key][1]].label != entry.label:
                    raise DetectorError(
                        f"index.csv line {line}: {row.get('file')} is listed as "
                        f"{out[seen[key][1]].label} on line {seen[key][0]}, here as {entry.label}",
                        root,
                    )
                if key in seen:  # the shared data lists one SEINE clip twice
                    if (index, line) in _WARNED:  # once per process, however often it is read
                        continue
                    _WARNED.add((index, line))
                    log.warning(
                        "%s: index.csv line %d: %s is already listed on line %d; counted once",
                        root,
                        line,
                        row.get("file"),
                        seen[key][0],
                    )
                    continue
                seen[key] = (line, len(out))
                out.append(entry)
    except UnicodeDecodeError as exc:
        raise DetectorError("index.csv is not UTF-8 text", root) from exc
    except csv.Error as exc:
        # the row that fails starts on the line after those read whole
        where = f" line {reader.line_num + 1}" if reader is not None else ""
        raise DetectorError(f"index.csv{where}: not valid CSV ({exc})", root) from exc
    except OSError as exc:
        raise DetectorError(f"cannot read index.csv ({exc.strerror})", root) from exc
    if not out:
        raise DetectorError("index.csv lists no clips", root)
    return out


def _warn_ungrouped(index: Path, columns: list[str]) -> None:
    """Say, once per process, what an index without generator or source columns loses."""
    lacks = []
    if "generator" not in columns:
        lacks.append(
            "no generator column: every AI clip is generator '?', one leave-one-generator-out fold"
        )
    if not {"source_repo", "source"} & set(columns):
        lacks.append(
            "no source_repo (or source) column: each clip is a group of its own, so pieces of "
            "one recording can sit on both sides of a split"
        )
    for what in lacks:
        if (index, what) not in _WARNED:
            _WARNED.add((index, what))
            log.warning("%s: %s", index, what)


def _entry(root: Path, row: dict[str, str | None], line: int) -> ClipEntry:
    """One index row as a :class:`ClipEntry` (``line``: its line number, for errors)."""
    label = (row.get("label") or "").strip().lower()
    if label not in ("ai", "real"):
        found = (row.get("label") or "").strip()
        raise DetectorError(
            f"index.csv line {line}: label must be ai or real, not {found!r}"[:200], root
        )
    name = (row.get("file") or "").strip()
    if not name:
        raise DetectorError(f"index.csv line {line}: no file named", root)
    f = root / name
    try:
        found, is_folder = f.is_file(), f.is_dir()
    except OSError:
        found = is_folder = False
    if is_folder:
        raise DetectorError(f"index.csv line {line}: {name} is a folder, not a clip", root)
    if not found:
        raise DetectorError(f"index.csv line {line}: missing clip {name}", root)
    repo = (row.get("source_repo") or row.get("source") or "").strip()
    gen = (row.get("generator") or "").strip() or ("camera" if label == "real" else "?")
    folder = os.path.dirname(row.get("source_path") or "") or name
    # with no source named, a clip is a group of its own (as a real one with no source_path)
    group = f"real:{repo or 'unknown'}:{folder}" if label == "real" else f"ai:{gen}:{repo or name}"
    return ClipEntry(f, label, gen, repo or "unknown", group)


def logo_folds(entries: list[ClipEntry]) -> list[tuple[str, list[int], list[int]]]:
    """Leave-one-generator-out folds: ``(generator, train, test)``.

    Each fold tests one AI generator against a share of the real groups (real groups dealt
    round-robin over the folds, largest first), and trains on everything else; no group is
    ever on both sides.
    """
    gens = sorted({e.generator for e in entries if e.label == "ai"})
    real_groups: dict[str, int] = {}
    for e in entries:
        if e.label == "real":
            real_groups[e.group] = real_groups.get(e.group, 0) + 1
    order = sorted(real_groups, key=lambda g: (-real_groups[g], g))
    fold_of = {g: i % len(gens) for i, g in enumerate(order)}
    folds = []
    for k, gen in enumerate(gens):
        test = [
            i
            for i, e in enumerate(entries)
            if (e.label == "ai" and e.generator == gen)
            or (e.label == "real" and fold_of[e.group] == k)
        ]
        held = set(test)
        test_groups = {entries[i].group for i in test}
        train = [
            i for i in range(len(entries)) if i not in held and entries[i].group not in test_groups
        ]
        folds.append((gen, train, test))
    return folds


@dataclass(frozen=True)
class CrossFit:
    """One model of an every-camera comparison: fitted on ``train``, it scores the AI clips of
    ``generator`` and the camera clips ``camera`` (one fold's share of them)."""

    generator: str
    ai: list[int]
    camera: list[int]
    train: list[int]


def every_camera_fits(entries: list[ClipEntry]) -> list[list[CrossFit]]:
    """For each generator (in :func:`logo_folds` order), one :class:`CrossFit` per fold's share
    of the camera clips, so that the generator's clips can be ranked against every camera clip:
    each camera clip is scored by a model that saw neither it, any clip of its group, nor the
    generator; the generator's clips by the mean of the generator's models.
    """
    folds = logo_folds(entries)
    share = {i: k for k, (_, _, t) in enumerate(folds) for i in t if entries[i].label == "real"}
    out = []
    for gen, _, test in folds:
        ai = [i for i in test if entries[i].label == "ai"]
        fits = []
        for k in range(len(folds)):
            cam = [i for i in share if share[i] == k]
            held = set(ai) | set(cam)
            groups = {entries[i].group for i in held}
            train = [
                i for i in range(len(entries)) if i not in held and entries[i].group not in groups
            ]
            fits.append(CrossFit(gen, ai, cam, train))
        out.append(fits)
    return out


def group_split(
    entries: list[ClipEntry], test_share: float, seed: int
) -> tuple[list[int], list[int]]:
    """A random split by group with about ``test_share`` of each class's groups in test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in ("ai", "real"):
        groups = sorted({e.group for e in entries if e.label == label})
        rng.shuffle(groups)
        n_test = max(1, round(len(groups) * test_share)) if len(groups) > 1 else 0
        held = set(groups[:n_test])
        for i, e in enumerate(entries):
            if e.label == label:
                (test if e.group in held else train).append(i)
    return sorted(train), sorted(test)


def _timeline(path: Path) -> tuple[np.ndarray, float]:
    """Frame times and duration of ``path``: a first pass that decodes but keeps no pixels,
    so that only the frames a window uses are kept in the second (:func:`_frames_at`).

    Raises:
        MediaError: unreadable, too small to classify, or fewer than two frames.
    """
    with VideoReader(path) as r:
        check_classifiable(r.info.width, r.info.height, path)  # as scan does, before decoding
        t = np.asarray([time for time, _ in r.timed_av_frames()], dtype=np.float64)
        dur = r.info.duration
    if len(t) > 1:
        dur = max(dur, float(t[-1] + np.median(np.diff(t))))
    if len(t) < 2:
        raise MediaError(f"only {len(t)} frame(s): nothing to classify", path)
    return t, dur or float(len(t))


def _frames_at(path: Path, wanted: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, RGB frame)`` for the frames of ``path`` at ``wanted``, in order; decoding
    stops after the last of them.

    Raises:
        MediaError: unreadable, or it ran out of frames before the last wanted one (a file
            that changed since :func:`_timeline` read it).
    """
    keep = set(wanted)
    last = max(keep, default=-1)
    i = -1
    with VideoReader(path) as r:
        for i, (_, frame) in enumerate(r.timed_av_frames()):
            if i in keep:
                yield i, frame.to_ndarray(format="rgb24")
            if i >= last:
                return
    raise MediaError(f"frame {last} is gone (the clip ends at frame {i}): changed while read", path)


def _resample(times: np.ndarray, start: float, seconds: float, fps: float) -> list[int]:
    """Source frame indices for ``start + k/fps``; past the end the clip ping-pongs."""
    n = max(1, round(seconds * fps))
    span = float(times[-1]) if len(times) > 1 else 0.0
    out = []
    for k in range(n):
        t = start + k / fps
        if span > 0:
            period = 2 * span
            t = t % period
            t = period - t if t > span else t
        out.append(int(np.argmin(np.abs(times - t))))
    return out


def _fit(
    rgb: np.ndarray,
    size: tuple[int, int],
    scale: float,
    crop: tuple[float, float, float],
    lines: int = 0,
) -> np.ndarray:
    """Crop to the target aspect (with a random extra crop/offset), pre-scale (to at most
    ``lines`` on the short side, when given), resize."""
    w, h = size
    ih, iw = rgb.shape[:2]
    extra, ox, oy = crop
    ch, cw = ih * (1 - extra), iw * (1 - extra)
    if cw / ch > w / h:
        cw = ch * w / h
    else:
        ch = cw * h / w
    x0 = int((iw - cw) * ox)
    y0 = int((ih - ch) * oy)
    out = rgb[y0 : y0 + int(ch), x0 : x0 + int(cw)]
    if lines:
        scale = min(scale, lines / min(out.shape[:2]))
    if scale < 0.999:
        small = (max(16, int(out.shape[1] * scale)), max(16, int(out.shape[0] * scale)))
        out = cv2.resize(out, small, interpolation=cv2.INTER_AREA)
    interp = cv2.INTER_AREA if out.shape[1] > w else cv2.INTER_CUBIC
    return cv2.resize(out, (w, h), interpolation=interp)


@dataclass
class _Draw:
    fps: float
    size: tuple[int, int]
    crf: int
    bpp: float
    scale: float
    crop: tuple[float, float, float]
    gif: int = 0  # 0: none, 1: palette, 2: palette with Floyd-Steinberg dither
    lines: int = 0  # 0: no bottleneck
    extras: dict[str, float] = field(default_factory=dict)


def _draw(rng: np.random.Generator, cfg: NormaliseConfig) -> _Draw:
    lines = 0
    if cfg.bottleneck_share > 0 and rng.random() < cfg.bottleneck_share:
        lines = int(rng.integers(cfg.bottleneck_lines[0], cfg.bottleneck_lines[1] + 1))
    return _Draw(
        fps=float(rng.choice(cfg.fps_choices)),
        size=cfg.sizes[int(rng.integers(len(cfg.sizes)))],
        crf=int(rng.integers(cfg.crf[0], cfg.crf[1] + 1)),
        bpp=float(np.exp(rng.uniform(np.log(cfg.bpp[0]), np.log(cfg.bpp[1])))),
        scale=1.0 if rng.random() < cfg.keep_scale_share else float(rng.uniform(*cfg.prescale)),
        crop=(float(rng.uniform(0, cfg.max_crop)), float(rng.uniform()), float(rng.uniform())),
        gif=int(rng.integers(1, 3)) if rng.random() < cfg.gif_share else 0,
        lines=lines,
    )


def gif_roundtrip(rgb: np.ndarray, dither: bool) -> np.ndarray:
    """What saving a frame as a GIF does to it: an adaptive 256-colour palette (median cut),
    optionally with Floyd-Steinberg dithering onto that palette."""
    from PIL import Image

    img = Image.fromarray(rgb)
    pal = img.quantize(256, Image.Quantize.MEDIANCUT)  # Pillow never dithers this step
    if dither:
        pal = img.quantize(palette=pal, dither=Image.Dither.FLOYDSTEINBERG)
    return np.asarray(pal.convert("RGB"))


def _write(path: Path, frames: Iterable[np.ndarray], fps: float, options: EncodeOptions) -> None:
    """Encode ``frames`` (consumed as they come) to ``path``, sized by the first."""
    with contextlib.ExitStack() as stack:
        out = None
        for f in frames:
            if out is None:
                h, w = f.shape[:2]
                out = stack.enter_context(VideoWriter(path, w, h, fps, options))
            out.write(f)


def _options(crf: int, bitrate: int | None = None) -> EncodeOptions:
    return EncodeOptions(crf=crf, preset="veryfast", bitrate=bitrate)


def normalised_windows(
    entry: ClipEntry,
    outs: list[Path],
    rng: np.random.Generator,
    cfg: NormaliseConfig | None = None,
) -> list[Path]:
    """Write one normalised, augmented window of ``entry`` to each path in ``outs`` (MP4s),
    each with its own random start, size, frame rate, pre-scale, crop and CRF.

    Raises:
        MediaError: the source clip cannot be read.
    """
    cfg = cfg or NormaliseConfig()
    times, dur = _timeline(entry.file)
    plans = []
    for _ in outs:
        d = _draw(rng, cfg)
        start = float(rng.uniform(0, max(0.0, dur - cfg.seconds)))
        idx = _resample(times, start, cfg.seconds, d.fps)
        # average bitrate: the file's bitrate follows the drawn size and rate, not the content
        # (at a fixed CRF smooth AI clips come out smaller, which would tell them apart)
        abr = rng.random() < cfg.abr_share
        plans.append((d, idx, abr))
    fitted = _fitted(entry.file, [(idx, _window_frame(d)) for d, idx, _ in plans])
    for out, (d, _, abr), frames in zip(outs, plans, fitted, strict=True):
        w, h = d.size
        bps = int(d.bpp * w * h * d.fps) if abr else None
        _write(out, frames, d.fps, _options(d.crf, bps))
    return outs


def _window_frame(d: _Draw) -> Callable[[np.ndarray], np.ndarray]:
    """A source frame as window ``d`` shows it: through its GIF palette, if any, and fitted."""
    return lambda rgb: _fit(
        gif_roundtrip(rgb, d.gif == 2) if d.gif else rgb, d.size, d.scale, d.crop, d.lines
    )


def _fitted(
    path: Path, layouts: list[tuple[list[int], Callable[[np.ndarray], np.ndarray]]]
) -> list[list[np.ndarray]]:
    """For each ``(indices, fit)``: ``fit`` of the frames of ``path`` at those indices, in one
    pass that keeps only fitted frames, whatever the clip's length (each distinct frame is
    fitted once per layout).

    Raises:
        MediaError: as :func:`_frames_at`.
    """
    uses: dict[int, list[tuple[int, int]]] = {}  # frame: (layout, position) pairs
    for n, (idx, _) in enumerate(layouts):
        for k, i in enumerate(idx):
            uses.setdefault(i, []).append((n, k))
    out: list[list[np.ndarray]] = [[np.empty(0)] * len(idx) for idx, _ in layouts]
    for i, rgb in _frames_at(path, uses):
        done: dict[int, np.ndarray] = {}  # layout: this frame fitted
        for n, k in uses[i]:
            if n not in done:
                done[n] = layouts[n][1](rgb)
            out[n][k] = done[n]
    return out


def attack(src: Path, out: Path, crf: int, scale: float = 1.0, gif: bool = False) -> Path:
    """Re-encode ``src`` at ``crf`` after resizing by ``scale`` and, with ``gif``, a GIF's
    256-colour palette, undithered (an upload's transforms)."""
    times, _ = _timeline(src)
    fps = 1.0 / float(np.median(np.diff(times)))

    def attacked() -> Iterator[np.ndarray]:
        size = None  # the first frame's, scaled: every frame goes to it
        for frame in iter_frames(src):
            f = frame.rgb
            if gif:
                f = gif_roundtrip(f, dither=False)
            if scale != 1.0:
                if size is None:
                    h, w = f.shape[:2]
                    size = (max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2))
                f = cv2.resize(f, size, interpolation=cv2.INTER_AREA)
            yield f

    _write(out, attacked(), fps, _options(crf))
    return out


@dataclass(frozen=True)
class MixedClip:
    """A synthesised mixed clip and the ground-truth AI interval (seconds)."""

    path: Path
    host: str
    insert: str
    interval: tuple[float, float]


def make_mixed(
    host: ClipEntry,
    insert: ClipEntry,
    out: Path,
    rng: np.random.Generator,
    seconds: float = 8.0,
    insert_seconds: tuple[float, float] = (1.0, 4.0),
    gif: tuple[bool, bool] = (False, False),
) -> MixedClip:
    """Splice a 1–4 s piece of ``insert`` (an AI clip, or a camera clip for a control) into a
    real host at a random time: both resampled to one size and frame rate and re-encoded
    together (one H.264 stream, random CRF 23..35).
    ``gif``: put the (host, insert) frames through a GIF palette first (:func:`gif_roundtrip`).

    Raises:
        MediaError: a clip cannot be read, or the host is too short.
    """
    ht, hdur = _timeline(host.file)
    at, _adur = _timeline(insert.file)
    seconds = min(seconds, max(hdur, 4.0))
    fps = float(rng.choice((15.0, 24.0, 25.0)))
    size = ((426, 240), (480, 270), (320, 240))[int(rng.integers(3))]
    crf = int(rng.integers(23, 36))
    length = float(rng.uniform(*insert_seconds))
    length = min(length, seconds - 1.0)
    if length < 0.9:
        raise MediaError("host clip too short to splice into", host.file)
    t0 = float(rng.uniform(0.5, seconds - length - 0.25)) if seconds - length > 0.75 else 0.0
    t0 = round(t0 * fps) / fps
    n_host = round(seconds * fps)
    n0, n1 = round(t0 * fps), round((t0 + length) * fps)
    host_idx = _resample(ht, 0.0, seconds, fps)
    ins_idx = _resample(at, 0.0, (n1 - n0) / fps, fps)
    crop = (0.0, 0.5, 0.5)

    def fit(palette: bool) -> Callable[[np.ndarray], np.ndarray]:
        return lambda rgb: _fit(gif_roundtrip(rgb, False) if palette else rgb, size, 1.0, crop)

    outside = [k for k in range(n_host) if not n0 <= k < n1]
    [host_part] = _fitted(host.file, [([host_idx[k] for k in outside], fit(gif[0]))])
    [ins_part] = _fitted(insert.file, [(ins_idx, fit(gif[1]))])
    frames = dict(zip(outside, host_part, strict=True))
    frames.update(zip(range(n0, n1), ins_part, strict=True))
    _write(out, (frames[k] for k in range(n_host)), fps, _options(crf))
    return MixedClip(out, host.file.name, insert.file.name, (n0 / fps, n1 / fps))
