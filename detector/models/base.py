"""The detector model contract: encode sampled frames, predict calibrated per-frame P(ai),
segment the timeline, save/load with a checksum."""

from __future__ import annotations

import hashlib
import io
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

from vidprov.atomic import AtomicFile
from vidprov.detector.features import luma_hist
from vidprov.detector.models._pickle import RefusedGlobal, load_model_pickle
from vidprov.detector.sampling import SAMPLE_FPS, sample_frames
from vidprov.detector.segments import segment
from vidprov.detector.splice import SpliceModel
from vidprov.detector.verdict import ClassifierResult, Segment
from vidprov.errors import DetectorError, MediaError

log = logging.getLogger(__name__)

FORMAT = "vidprov-detector/1"
CHUNK = 32
MIN_SLOPE = 1e-3  # calibration slope used where the fitted one is not positive


@dataclass(frozen=True)
class Encoded:
    """A clip's sampled frames in the model's input form: ``x[i]`` for the frame at ``times[i]``,
    and a colour histogram per frame for shot cuts."""

    times: np.ndarray
    x: np.ndarray
    hists: np.ndarray
    duration: float


class Detector(ABC):
    """A frame-level AI-video classifier with a Platt calibration on clip-mean logits.

    Subclasses define :meth:`encode_frames` (frames → model inputs), :meth:`raw_logits`
    (inputs → uncalibrated logits) and :meth:`fit_frames` (train on inputs). Calibration,
    thresholding, segmentation, persistence are shared.
    """

    kind: ClassVar[str]

    def __init__(self, name: str, config: dict[str, Any] | None = None) -> None:
        self.name = name
        self.config = dict(config or {})
        self.calib = (1.0, 0.0)  # calibrated logit = a * raw + b
        self.threshold = 0.5
        self.meta: dict[str, Any] = {}
        self.splice: SpliceModel | None = None  # see vidprov.detector.splice
        self.sha256: str | None = None  # the file's it was loaded from (None: built here)

    # --- subclass hooks -------------------------------------------------------------
    @abstractmethod
    def encode_frames(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """Model inputs for consecutive sampled frames (prepared RGB, working size)."""

    @abstractmethod
    def raw_logits(self, enc: Encoded) -> np.ndarray:
        """Uncalibrated per-frame logits for an encoded clip."""

    @abstractmethod
    def fit_frames(self, clips: list[Encoded], y: np.ndarray, seed: int) -> None:
        """Train the frame model on encoded clips with clip labels ``y``."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """Picklable learned state (no live objects tied to a device)."""

    @abstractmethod
    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`."""

    def splice_vectors(self, enc: Encoded) -> np.ndarray | None:
        """Per-frame vectors (one row per sampled frame) whose shot-against-rest contrasts the
        splice model reads (:mod:`vidprov.detector.splice`); ``None``: logits only."""
        return None

    # --- shared ---------------------------------------------------------------------
    def encode(self, samples: Iterable[tuple[float, np.ndarray]], duration: float = 0.0) -> Encoded:
        """Encode a stream of ``(t, rgb)`` in chunks (memory flat in clip length); each chunk
        is encoded after the previous chunk's last frame, for temporal context."""
        times: list[float] = []
        xs: list[np.ndarray] = []
        hists: list[np.ndarray] = []
        buf: list[np.ndarray] = []
        prev: list[np.ndarray] = []

        def flush() -> None:
            xs.append(self.encode_frames(prev + buf)[len(prev) :])
            prev[:] = buf[-1:]
            buf.clear()

        for t, rgb in samples:
            times.append(t)
            hists.append(luma_hist(rgb))
            buf.append(rgb)
            if len(buf) == CHUNK:
                flush()
        if buf:
            flush()
        if not times:
            raise DetectorError("no frames to score")
        t = np.asarray(times)
        # the probed duration when it covers the samples (the timeline then ends where the
        # clip does); else, with none or a header that says less, a sample's span past the last
        last = float(t[-1])
        dur = duration if duration and duration > last else last + 1.0 / SAMPLE_FPS
        return Encoded(t, np.concatenate(xs), np.stack(hists), dur)

    def encode_file(
        self,
        path: str | Path,
        duration: float | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Encoded:
        """Sample and encode a clip file (``duration`` in seconds, probed when not given);
        ``progress`` is called with 1 for each frame sampled (whatever it raises stops the
        work).

        Raises:
            MediaError: unreadable video.
        """
        if duration is None:
            from vidprov.media import probe

            duration = probe(path).duration
        samples = sample_frames(path)
        if progress is not None:
            samples = _counted(samples, progress)
        return self.encode(samples, duration)

    def frame_probs(self, enc: Encoded, raw: np.ndarray | None = None) -> np.ndarray:
        a, b = self.calib
        z = a * (self.raw_logits(enc) if raw is None else raw) + b
        return 1.0 / (1.0 + np.exp(-z))

    def clip_raw(self, enc: Encoded) -> float:
        return float(np.mean(self.raw_logits(enc)))

    def result(self, enc: Encoded) -> ClassifierResult:
        """Per-frame, per-segment and per-clip scores for an encoded clip.

        A clip scored below the threshold and cut into two or more shots gets its segments
        from the splice model when there is one (source ``splice``): each shot judged against
        the rest of the clip."""
        raw = self.raw_logits(enc)
        probs = self.frame_probs(enc, raw)
        segs, clip = segment(enc.times, probs, enc.hists, self.threshold, enc.duration)
        if self.splice is not None and clip < self.threshold:
            vectors = self.splice_vectors(enc) if self.splice.contrast else None
            scored = self.splice.score(raw, enc, vectors)
            if len(scored) > 1:
                thr = self.splice.threshold
                segs = tuple(
                    Segment(s.start, s.end, "ai" if p >= thr else "real", p, "splice")
                    for s, p in scored
                )
        return ClassifierResult(
            self.name,
            clip,
            self.threshold,
            tuple(float(t) for t in enc.times),
            tuple(float(p) for p in probs),
            segs,
            enc.duration,
            self.sha256,
        )

    def score_file(
        self,
        path: str | Path,
        duration: float | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ClassifierResult:
        """Score a clip file (``duration`` and ``progress`` as :meth:`encode_file`).

        Raises:
            MediaError: unreadable video.
        """
        return self.result(self.encode_file(path, duration, progress))

    def calibrate(self, raw: np.ndarray, y: np.ndarray, real_fpr: float = 0.02) -> None:
        """Fit the Platt map on out-of-fold clip-mean raw logits and pick the default threshold:
        the calibrated score that keeps the real false-alarm rate at ``real_fpr`` (clipped to
        0.3..0.9).

        With ``config["calibration"] == "votes"`` the map stays the identity (a forest's raw
        logit is that of its vote share) and only the threshold is chosen: out-of-fold models
        see fewer generators than the final one and rank new clips worse, so a map fitted to
        their scores is too flat for it (``benchmarks/detector_calibration.py``).

        A map may only rise with the raw score. Where the fitted slope is not positive (the
        out-of-fold scores rank the classes no better than chance, or worse), the slope is
        set to :data:`MIN_SLOPE` and the intercept to the base rate's log-odds at the mean
        raw score: probabilities stay near the base rate, and the classifier's order is kept
        instead of being turned upside down (logged).

        Raises:
            DetectorError: a calibration other than ``platt`` or ``votes`` in the config."""
        method = self.config.get("calibration", "platt")
        if method not in ("platt", "votes"):
            raise DetectorError(f"model {self.name!r}: unknown calibration {method!r}")
        if method == "votes":
            a, b = 1.0, 0.0
        else:
            lr = LogisticRegression(C=10.0).fit(raw.reshape(-1, 1), y)
            a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        if a <= 0:
            prior = float(np.clip(np.mean(y), 0.01, 0.99))
            log.warning(
                "%s: out-of-fold scores do not rise with the label (Platt slope %.3f); "
                "calibrated to the base rate %.2f, order kept",
                self.name,
                a,
                prior,
            )
            a = MIN_SLOPE
            b = float(np.log(prior / (1 - prior)) - a * np.mean(raw))
        self.calib = (a, b)
        p = 1.0 / (1.0 + np.exp(-(a * raw + b)))
        real = np.sort(p[y == 0])
        if len(real):
            q = real[min(len(real) - 1, int(np.ceil((1 - real_fpr) * len(real))) - 1)]
            self.threshold = float(np.clip(q + 1e-3, 0.3, 0.9))

    # --- persistence -----------------------------------------------------------------
    def save(self, path: str | Path) -> str:
        """Write the model atomically; returns its SHA-256 (also written to ``<path>.sha256``)."""
        blob = {
            "format": FORMAT,
            "kind": self.kind,
            "name": self.name,
            "config": self.config,
            "calib": self.calib,
            "threshold": self.threshold,
            "meta": self.meta,
            "state": self.state(),
            "splice": self.splice,
        }
        buf = io.BytesIO()
        joblib.dump(blob, buf, compress=3)
        data = buf.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        self.sha256 = digest  # what a verdict of it names from now on
        # both files are written to temp files first and renamed together, so a failed write
        # never leaves a new model beside an old checksum (which would fail every load)
        model = AtomicFile(path, durable=True)
        try:
            side = AtomicFile(f"{path}.sha256", durable=True)
        except BaseException:
            model.discard()
            raise
        try:
            model.tmp.write_bytes(data)
            side.tmp.write_text(f"{digest}  {Path(path).name}\n")
            model.commit()
            side.commit()
        except OSError as exc:
            raise MediaError(f"cannot write the model ({exc.strerror})", path) from exc
        finally:
            model.discard()
            side.discard()
        return digest


def _counted(
    samples: Iterator[tuple[float, np.ndarray]], progress: Callable[[int], None]
) -> Iterator[tuple[float, np.ndarray]]:
    for item in samples:
        yield item
        progress(1)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_blob(path: str | Path, expect_sha256: str | None = None) -> dict[str, Any]:
    """Read a saved model, checking its checksum (given, or from ``<path>.sha256``). The file
    is unpickled with only the classes a model holds (:mod:`._pickle`): a file that names any
    other function is refused before it runs.

    Raises:
        DetectorError: missing file, checksum mismatch, or not a vidprov detector file.
    """
    p = Path(path)
    if p.is_dir():
        raise DetectorError("is a folder, not a model file", p)
    if not p.is_file():
        raise DetectorError("no such model file", p)
    side = Path(f"{p}.sha256")
    if expect_sha256 is None and side.is_file():
        expect_sha256 = _read_sidecar(side)
    try:
        actual = sha256_file(p)
    except OSError as exc:
        raise DetectorError(f"cannot read the model file ({exc.strerror or exc})", p) from exc
    if expect_sha256 is not None and actual != expect_sha256.lower():
        raise DetectorError("model file checksum mismatch (corrupt or modified)", p)
    try:
        blob = load_model_pickle(p)
    except RefusedGlobal as exc:
        raise DetectorError(f"not a vidprov detector model: it asks for {exc.what}", p) from exc
    except Exception as exc:
        raise DetectorError(f"not a readable model file ({type(exc).__name__})", p) from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise DetectorError("not a vidprov detector model", p)
    return {**blob, "file_sha256": actual}


def _read_sidecar(side: Path) -> str:
    """The SHA-256 in a ``<model>.sha256`` file.

    Raises:
        DetectorError: the file is unreadable, empty or holds no SHA-256.
    """
    try:
        words = side.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise DetectorError("checksum file is unreadable", side) from exc
    digest = words[0].lower() if words else ""  # PowerShell's Get-FileHash writes upper case
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise DetectorError("checksum file holds no SHA-256", side)
    return digest


def restore(cls_for: Callable[[str], type[Detector]], blob: dict[str, Any]) -> Detector:
    """Rebuild a detector from a loaded model file's contents.

    Raises:
        DetectorError: an unknown kind, or a file that lacks part of a model.
    """
    try:
        det = cls_for(blob["kind"])(blob["name"], blob["config"])
        calib = tuple(float(v) for v in blob["calib"])
        threshold = float(blob["threshold"])
        meta, splice = blob.get("meta", {}), blob.get("splice")
        if len(calib) != 2 or not np.all(np.isfinite(calib)) or calib[0] <= 0:
            raise ValueError(f"calibration {blob['calib']!r} is not a slope > 0 and an offset")
        if not 0.0 <= threshold <= 1.0:  # NaN fails this too
            raise ValueError(f"threshold {threshold!r} is not a probability")
        if not isinstance(meta, dict) or not (splice is None or isinstance(splice, SpliceModel)):
            raise TypeError("its meta or splice part is of the wrong kind")
        det.calib = calib  # type: ignore[assignment]
        det.threshold, det.meta, det.splice = threshold, meta, splice
        det.load_state(blob["state"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DetectorError(f"not a complete vidprov detector model ({exc})") from exc
    return det
