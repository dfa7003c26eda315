"""Watermark results: frozen dataclasses whose ``to_dict()`` the CLI and API print unchanged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: marked spans cover a clip when they leave at most this share of it unmarked ...
COVER_SHARE = 0.9
#: ... or at most this many seconds (segments start and end up to about a second inside a
#: marked stretch, since the detector needs a window to accumulate)
COVER_SLACK = 1.0


def union(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """``spans`` merged where they overlap or touch, in order (so that no time counts twice)."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def covers_clip(
    spans: Iterable[tuple[float, float]], duration: float, slack: float | None = None
) -> bool:
    """Whether marked ``(start, end)`` spans cover a clip of ``duration`` s: all but ``slack``
    seconds of it, by default all but a share or a second of it (a mark a re-encode weakened
    in places). Spans that overlap count their shared time once. No span covers nothing: until
    this version a clip of a second or less counted as covered without one, so a trim of its
    unmarked second was declared generated."""
    spans = union(spans)
    unmarked = duration - sum(b - a for a, b in spans)
    allowed = max((1 - COVER_SHARE) * duration, COVER_SLACK) if slack is None else slack
    return duration <= 0 or (bool(spans) and unmarked <= allowed)


@dataclass(frozen=True)
class WatermarkSegment:
    """A stretch of the clip where the mark is present (seconds), and its payload if it decoded."""

    start: float
    end: float
    payload: str | None
    p_value: float
    z: float

    def to_dict(self) -> dict[str, object]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "payload": self.payload,
            "p_value": self.p_value,
            "z": round(self.z, 3),
        }


@dataclass(frozen=True)
class WatermarkReading:
    """What ``detect`` found.

    ``p_value`` bounds the probability that an unmarked clip scores this high (Chernoff bound on
    the squared pilot and coded-bit correlations over random keys, times ``list_size`` / 2^16 when
    the CRC checks, times the number of segments and geometric hypotheses tested: see
    :mod:`vidprov.watermark.detect`); ``detected`` is ``p_value <= threshold``. ``z`` is the
    pilot correlation alone, for information.
    """

    detected: bool
    payload: str | None
    p_value: float
    z: float
    segments: tuple[WatermarkSegment, ...]
    frames: int
    duration: float

    def to_dict(self) -> dict[str, object]:
        return {
            "detected": self.detected,
            "payload": self.payload,
            "p_value": self.p_value,
            "z": round(self.z, 3),
            "segments": [s.to_dict() for s in self.segments],
            "frames": self.frames,
            "duration": round(self.duration, 3),
        }


@dataclass(frozen=True)
class ReuploadCheck:
    """A marked clip read back after a re-encode as an upload would make (``crf``), by
    :func:`vidprov.watermark.durable.reupload_check`.

    ``payload``: the payload read then (None: none); ``p_value``: its reading's; ``covered``:
    whether the segments carrying the expected payload cover the clip; ``survives``: the
    expected payload read, with the margin of
    :data:`vidprov.watermark.durable.REUPLOAD_MARGIN`, over the whole clip.
    """

    crf: int
    payload: str | None
    p_value: float
    covered: bool
    survives: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "crf": self.crf,
            "payload": self.payload,
            "p_value": self.p_value,
            "covered": self.covered,
            "survives": self.survives,
        }


@dataclass(frozen=True)
class EmbedResult:
    """What ``embed_file`` wrote; ``reupload``: its re-upload check, when one was asked for."""

    input: str
    output: str
    payload: str
    frames: int
    psnr_mean: float
    psnr_min: float
    reupload: ReuploadCheck | None = None

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "input": self.input,
            "output": self.output,
            "payload": self.payload,
            "frames": self.frames,
            "psnr_y_mean": round(self.psnr_mean, 2),
            "psnr_y_min": round(self.psnr_min, 2),
        }
        if self.reupload is not None:
            d["reupload"] = self.reupload.to_dict()
        return d
