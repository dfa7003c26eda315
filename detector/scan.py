"""Scan files: C2PA + watermark evidence from :func:`verify_file`, the classifier's timeline,
fused into one :class:`Verdict` per file."""

from __future__ import annotations

import copy
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from vidprov.detector.fusion import fuse
from vidprov.detector.sampling import SAMPLE_FPS, check_classifiable
from vidprov.detector.verdict import ClassifierSkipped, ScanFailure, Verdict
from vidprov.errors import DetectorError, MediaError, VidprovError
from vidprov.media import VIDEO_SUFFIXES, probe

if TYPE_CHECKING:
    from vidprov.detector.models import Detector

log = logging.getLogger(__name__)


def scan_file(
    path: str | Path,
    *,
    detector: Detector | None = None,
    classifier: bool = True,
    trust_anchors: str | Path | None = None,
    key: bytes | None = None,
    progress: Callable[[float], None] | None = None,
    threshold: float | None = None,
) -> Verdict:
    """Scan one clip and return its fused :class:`Verdict`.

    Frames the classifier cannot work on (a short side under 16 px, a long side over 8x the
    short one: :func:`~vidprov.detector.sampling.check_classifiable`) skip it: the manifest and
    the watermark decide as with ``classifier=False``, and ``evidence["classifier"]`` says it
    was skipped and why. If they cannot decide either, the clip is an error, not ``unknown``.

    Args:
        path: the clip.
        detector: classifier to use (default: the model shipped with vidprov).
        classifier: run the classifier at all (``False``: manifest + watermark only).
        trust_anchors: PEM roots for the C2PA check (default: the home anchors).
        key: watermark key (default: the home key; without one the watermark is skipped).
        progress: called as the work goes on with the share done since the last call: the
            watermark pass and the classifier's each add up to 1 (2 in all). Whatever it
            raises stops the scan (both passes, at their next frame).
        threshold: the classifier's P(ai) from which a clip or segment reads ``ai``, in place
            of the model's own (the shipped one keeps out-of-fold camera false alarms at 2%):
            lower finds more generated footage and flags more camera footage.

    Raises:
        MediaError: the file is missing, empty or not a video; or it has one frame, or frames
            that cannot be classified, and neither a trusted manifest nor our watermark
            decides (without the classifier, such a clip reads ``unknown``, as any other).
        DetectorError: the classifier model cannot be loaded; a ``threshold`` that is not
            strictly between 0 and 1.
        ProvenanceError: unreadable or malformed trust anchors.
        WatermarkError: a ``key`` that is not 256 bits.
        KeyError_: no ``key`` and a home key file that is there but corrupt (a missing one
            only skips the watermark: a broken one skipped would turn a marked clip ``real``).
    """
    from vidprov.keys import optional_watermark_key
    from vidprov.provenance.verify import verify_file

    key = optional_watermark_key(key)
    info = probe(path)
    if classifier and detector is None:
        from vidprov.detector.models import load_default

        detector = load_default()
    detector = at_threshold(detector if classifier else None, threshold)
    unclassifiable: MediaError | None = None
    if classifier:
        try:
            if info.frames is not None and info.frames < 2:  # `generate --frames 1` makes one
                raise MediaError(f"only {info.frames} frame: nothing to classify", path)
            check_classifiable(info.width, info.height, path)
        except MediaError as exc:  # the manifest or the watermark may still decide
            log.info("%s: classifier skipped (%s)", path, exc.message)
            unclassifiable = exc
    run_classifier = classifier and detector is not None and unclassifiable is None
    # manifest + watermark and the classifier decode the clip independently; FFmpeg, OpenCV
    # and numpy release the GIL, so on two cores the two passes overlap
    marks = _Shares(progress, info.frames or 1)
    samples = _Shares(
        progress, min(info.frames or 1, math.ceil((info.duration or 0.0) * SAMPLE_FPS) + 1)
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = pool.submit(verify_file, path, trust_anchors, key=key, progress=marks)
        try:
            result = None
            if run_classifier:
                result = detector.score_file(path, info.duration, progress=samples)
            samples.finish()
        except BaseException:  # the other pass stops at its next frame too (a stopped job)
            marks.stopped = True
            raise
        report = pending.result()
    marks.finish()
    rep = report.to_dict()
    duration = info.duration or (result.duration if result else 0.0)
    cls = ClassifierSkipped(unclassifiable.message) if unclassifiable else result
    verdict = fuse(
        str(path),
        duration,
        rep["c2pa"],
        rep["recovered"],
        rep["watermark"],
        cls,
        report.conflicts,  # verify's own: a manifest that does not name the one our mark links
    )
    if unclassifiable is not None and verdict.decided_by == "none":
        raise unclassifiable  # nothing else decides: no verdict is invented
    return verdict


def at_threshold(detector: Detector | None, threshold: float | None) -> Detector | None:
    """``detector`` deciding at ``threshold`` instead of its own (a copy; None: itself).

    Raises:
        DetectorError: ``threshold`` is not a number strictly between 0 and 1.
    """
    if threshold is None:
        return detector
    if detector is None:  # classifier=False: a threshold would be silently ignored
        raise DetectorError("a threshold applies to the classifier, which is not run")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise DetectorError(f"threshold must be a number, got {threshold!r}")
    if not 0.0 < threshold < 1.0:  # NaN fails this too
        raise DetectorError(f"threshold {threshold} is not a probability strictly between 0 and 1")
    if threshold == detector.threshold:
        return detector
    moved = copy.copy(detector)  # the loaded model is shared: its own threshold stays
    moved.threshold = float(threshold)
    return moved


class _Shares:
    """A per-frame ``progress(n)`` for one pass of ``total`` frames, passed on to ``scan_file``'s
    callback as shares adding up to 1."""

    def __init__(self, progress: Callable[[float], None] | None, total: int) -> None:
        self.progress, self.share, self.left = progress, 1.0 / max(total, 1), 1.0
        self.stopped = False

    def __call__(self, n: int) -> None:
        if self.stopped:
            raise _ScanStopped("the other pass failed")
        if self.progress is not None:
            done = min(n * self.share, self.left)
            self.left -= done
            self.progress(done)

    def finish(self) -> None:
        if self.progress is not None and self.left > 0:
            self.progress(self.left)
        self.left = 0.0


class _ScanStopped(Exception):
    """Internal: a pass stopped because the other one failed."""


def iter_inputs(paths: Iterable[str | Path | MediaError]) -> Iterator[Path | MediaError]:
    """Expand folders into the video files inside them (sorted, recursive; symlinked folders,
    hidden files and hidden folders are left out); files pass as-is (a missing one is
    :func:`scan_file`'s to report).
    One ``str`` or ``Path`` is taken as one path.

    A folder that holds no videos, or a folder that cannot be listed, comes as the
    :class:`MediaError` saying so, in its place: the caller reports it and goes on (such
    errors given back to it pass as they are, so its output can be fed to :func:`scan_many`).
    """
    if isinstance(paths, str | os.PathLike):  # one path, not a list of its characters
        paths = [paths]
    for item in paths:
        if isinstance(item, MediaError):  # already expanded: passes as it is
            yield item
            continue
        if isinstance(item, str) and not item:  # Path("") is the current folder
            yield MediaError('empty path "" (the current folder?): name a file or folder')
            continue
        p = Path(item)
        try:
            is_dir = p.is_dir()
        except OSError:  # a name too long, a folder on the way that cannot be searched
            is_dir = False  # scan_file reports it
        if not is_dir:
            yield p
            continue
        found: list[Path] = []
        unlisted: list[OSError] = []
        for root, dirs, names in os.walk(p, onerror=unlisted.append):
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # hidden: .git, .Trash, ...
            found += [
                Path(root, n)
                for n in names
                if not n.startswith(".") and Path(n).suffix.lower() in VIDEO_SUFFIXES
            ]  # macOS writes ._clip.mp4 metadata files beside clips on foreign disks
        for exc in unlisted:
            where = exc.filename or p
            yield MediaError(f"cannot list folder ({exc.strerror or exc})", where)
        if not found and not unlisted:
            yield MediaError("folder holds no video files", p)
        yield from sorted(found)


def scan_many(
    paths: Iterable[str | Path | MediaError],
    *,
    detector: Detector | None = None,
    classifier: bool = True,
    trust_anchors: str | Path | None = None,
    key: bytes | None = None,
    threshold: float | None = None,
) -> Iterator[Verdict | ScanFailure]:
    """Scan each file in turn (folders expanded by :func:`iter_inputs`), yielding its
    :class:`Verdict` as soon as it is done. A file that cannot be scanned (missing, empty, not a
    video, frames the classifier cannot take that nothing else decides: see :func:`scan_file`)
    yields a :class:`ScanFailure` instead and the batch goes on: one
    bad upload must not stop a queue (nor does a folder that holds no videos or cannot be
    listed: it yields a failure too). ``threshold``: as :func:`scan_file`'s.

    Raises:
        DetectorError: the classifier model cannot be loaded; a bad ``threshold``.
        ProvenanceError: unreadable or malformed trust anchors, an unusable manifest store.
        KeyError_: a home watermark key that is there but corrupt.
        WatermarkError: a ``key`` that is not 256 bits.
    """
    if classifier and detector is None:  # a broken model stops the batch before any file
        from vidprov.detector.models import load_default

        detector = load_default()
    detector = at_threshold(detector if classifier else None, threshold)
    # so do broken trust anchors or a corrupt watermark key: they are the setup's fault, not
    # each clip's (a missing key only skips the watermark)
    from vidprov.keys import optional_watermark_key
    from vidprov.provenance.verify import load_trust_anchors

    load_trust_anchors(Path(trust_anchors) if trust_anchors is not None else None)
    key = optional_watermark_key(key)
    if key is not None:  # a found mark is looked up there: an unusable store stops us now
        from vidprov.provenance.store import ManifestStore

        ManifestStore.lookup()
    for path in iter_inputs(paths):
        if isinstance(path, MediaError):
            log.info("skipped: %s", path)
            yield ScanFailure(path.path or "", path.code, str(path))
            continue
        try:
            yield scan_file(
                path,
                detector=detector,
                classifier=classifier,
                trust_anchors=trust_anchors,
                key=key,
            )
        except MediaError as exc:
            log.info("skipped: %s", exc)
            yield ScanFailure(str(path), exc.code, str(exc))
        except DetectorError:
            raise
        except VidprovError as exc:
            if exc.path is not None and Path(exc.path) != Path(path):
                raise  # about another file (the manifest store, ...): the batch cannot go on
            log.info("skipped: %s", exc)
            yield ScanFailure(str(path), exc.code, str(exc))
        except Exception as exc:
            # a file that breaks something deeper (a decoder, an allocation, a header our code
            # did not expect) must not end the batch either; the traceback goes to the debug
            # log (-vv), the record says what
            log.debug("%s: could not be scanned", path, exc_info=True)
            why = f"{type(exc).__name__}: {exc}"
            yield ScanFailure(
                str(path), "scan_failed", f"{path}: could not be scanned ({why})"[:500]
            )
