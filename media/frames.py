"""Decoded frames as numpy arrays: RGB, or Y/U/V planes (the watermark works on luma)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidprov.errors import MediaError


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame as ``uint8`` RGB, shape ``(height, width, 3)``.

    ``time`` is the presentation time in seconds from the stream start; ``pts`` and
    ``time_base`` are the source timestamps, kept so that re-encoding keeps the timing.
    """

    index: int
    time: float
    pts: int | None
    time_base: Fraction | None
    rgb: np.ndarray


@dataclass(frozen=True, eq=False)
class YUVFrame:
    """One decoded frame as 4:2:0 planes: ``y`` is ``(h, w)``, ``u``/``v`` are
    ``(ceil(h/2), ceil(w/2))``, all ``uint8`` (limited range, as stored by the codec)."""

    index: int
    time: float
    pts: int | None
    time_base: Fraction | None
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray


@dataclass(frozen=True, eq=False)
class FrameChunk:
    """A run of consecutive frames; ``stack()`` gives one array (RGB) or three (YUV)."""

    frames: tuple[Frame, ...] | tuple[YUVFrame, ...]

    @property
    def start(self) -> int:
        return self.frames[0].index

    @property
    def times(self) -> np.ndarray:
        return np.array([f.time for f in self.frames], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.frames)

    def stack(self) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
        first = self.frames[0]
        if isinstance(first, Frame):
            return np.stack([f.rgb for f in self.frames])  # type: ignore[union-attr]
        return tuple(np.stack([getattr(f, c) for f in self.frames]) for c in "yuv")  # type: ignore[return-value]


def _shown(a: object) -> str:
    """A plane as an error message shows it."""
    return f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__


def check_yuv(frame: object, path: str | Path | None = None) -> YUVFrame:
    """``frame`` if it is a :class:`YUVFrame` with a finite time and ``uint8`` 4:2:0 planes.

    Raises:
        MediaError: another object, planes of another type or shape (a float or 16-bit plane
            would be cast, silently, to a black or saturated picture), or a NaN/infinite time.
    """
    if not isinstance(frame, YUVFrame):
        raise MediaError(f"expected a YUVFrame, got {type(frame).__name__}", path)
    y = frame.y
    if not isinstance(y, np.ndarray) or y.ndim != 2 or y.dtype != np.uint8:
        message = f"frame {frame.index}: luma must be a 2-D uint8 array, got {_shown(y)}"
        raise MediaError(message, path)
    want = ((y.shape[0] + 1) // 2, (y.shape[1] + 1) // 2)
    for name in "uv":
        c = getattr(frame, name)
        if not isinstance(c, np.ndarray) or c.dtype != np.uint8 or c.shape != want:
            raise MediaError(
                f"frame {frame.index}: {name} plane must be uint8 {want} for a {y.shape} "
                f"luma, got {_shown(c)}",
                path,
            )
    try:
        finite = math.isfinite(frame.time)
    except TypeError:
        finite = False
    if not finite:
        raise MediaError(f"frame {frame.index}: time must be a finite number, got {frame.time!r}")
    return frame


def plane_array(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """A copy of one image plane without the line padding."""
    buf = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return buf[:, : plane.width].copy()


def to_yuv_planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V planes of a decoded frame, converted to yuv420p first when needed."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    return plane_array(frame.planes[0]), plane_array(frame.planes[1]), plane_array(frame.planes[2])


def from_yuv_planes(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> av.VideoFrame:
    """Build a yuv420p frame from planes (any size, odd sizes included)."""
    h, w = y.shape
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, arr in zip(frame.planes, (y, u, v), strict=True):
        arr = np.ascontiguousarray(arr, dtype=np.uint8)
        if arr.shape != (plane.height, plane.width):
            raise ValueError(f"plane shape {arr.shape} != {(plane.height, plane.width)}")
        if plane.line_size != plane.width:
            arr = np.pad(arr, ((0, 0), (0, plane.line_size - plane.width)))
        plane.update(arr.tobytes())
    return frame
