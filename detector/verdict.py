"""Scan results: frozen dataclasses whose ``to_dict()`` the CLI's ``--json`` and the API print."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

LABELS = ("ai", "mixed", "real")


@dataclass(frozen=True)
class Segment:
    """A stretch of the clip (seconds) with one label: ``ai`` or ``real``.

    ``source`` says what decided it: ``watermark``, ``c2pa``, ``classifier`` (the frame
    classifier's score) or ``splice`` (a shot judged against the rest of its clip).
    """

    start: float
    end: float
    label: str
    score: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "label": self.label,
            "score": None if self.score is None else round(self.score, 4),
            "source": self.source,
        }


@dataclass(frozen=True)
class ClassifierResult:
    """What a detector model said about a clip: per sampled frame, per segment, per clip."""

    model: str
    clip_score: float
    threshold: float
    times: tuple[float, ...]
    frame_scores: tuple[float, ...]
    segments: tuple[Segment, ...]
    duration: float
    sha256: str | None = None  # the model file's, when loaded from one

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "sha256": self.sha256,
            "score": round(self.clip_score, 4),
            "threshold": self.threshold,  # as given: 1e-5 rounded read 0.0, outside (0, 1)
            "segments": [s.to_dict() for s in self.segments],
            "frames": [
                {"t": round(t, 3), "score": round(s, 4)}
                for t, s in zip(self.times, self.frame_scores, strict=True)
            ],
        }


@dataclass(frozen=True)
class ClassifierSkipped:
    """Why the classifier was asked for but not run on a clip (frames it cannot work on):
    ``evidence["classifier"]`` then says so instead of holding its scores, and the other
    evidence decides (see :func:`vidprov.detector.scan.scan_file`)."""

    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"skipped": True, "reason": self.reason}


@dataclass(frozen=True)
class Verdict:
    """One file's verdict: ``label`` (ai / mixed / real), ``score`` = P(ai), the timeline of
    segments, and the evidence each source gave (``c2pa``, ``watermark``, ``classifier``: its
    scores, or ``{"skipped": true, "reason"}`` when it could not run on the clip), with any
    conflicts between them listed in ``conflicts``. Without the classifier and with
    neither a trusted manifest nor our watermark to go on, nothing can tell: ``label`` is
    ``unknown`` and ``score`` is ``None``."""

    file: str
    label: str
    score: float | None
    segments: tuple[Segment, ...]
    duration: float
    evidence: dict[str, Any] = field(default_factory=dict)
    decided_by: str = "classifier"
    conflicts: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "label": self.label,
            "score": None if self.score is None else round(self.score, 4),
            "decided_by": self.decided_by,
            "duration": round(self.duration, 3),
            "segments": [s.to_dict() for s in self.segments],
            "evidence": self.evidence,
            "conflicts": list(self.conflicts),
        }

    @property
    def score_text(self) -> str:
        """``P(ai)`` for a text line: two decimals, or ``-`` when nothing could tell."""
        return "-" if self.score is None else f"{self.score:.2f}"


@dataclass(frozen=True)
class ScanFailure:
    """A file a batch scan could not read (see :func:`vidprov.detector.scan.scan_many`): the
    batch goes on, and this record says which file and why, in the shape of
    :meth:`vidprov.errors.VidprovError.to_dict` (``error`` is the error's code; ``path`` the
    file, as in the API's 4xx bodies) with ``file`` beside it, as a verdict's."""

    file: str
    error: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "error": self.error, "message": self.message, "path": self.file}


@dataclass(frozen=True)
class BatchSummary:
    """How a batch scan went: how many files read ``ai``, ``mixed`` and ``real``, and how many
    could not be scanned."""

    ai: int = 0
    mixed: int = 0
    real: int = 0
    unknown: int = 0  # nothing to go on: no classifier asked for, no manifest or mark
    failed: int = 0

    @classmethod
    def of(cls, results: Iterable[Verdict | ScanFailure]) -> BatchSummary:
        counts = dict.fromkeys((*LABELS, "unknown", "failed"), 0)
        for r in results:
            label = "failed" if isinstance(r, ScanFailure) else r.label
            counts[label if label in counts else "unknown"] += 1
        return cls(**counts)

    @property
    def files(self) -> int:
        return self.ai + self.mixed + self.real + self.unknown + self.failed

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "ai": self.ai, "mixed": self.mixed, "real": self.real,
                "unknown": self.unknown, "failed": self.failed}  # fmt: skip

    def text(self) -> str:
        """``"12 files: 3 ai, 2 mixed, 6 real, 1 failed"`` (``unknown`` and ``failed`` only
        when some are)."""
        parts = [f"{self.ai} ai", f"{self.mixed} mixed", f"{self.real} real"]
        if self.unknown:
            parts.append(f"{self.unknown} unknown")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return f"{self.files} file{'s' if self.files != 1 else ''}: {', '.join(parts)}"
