"""Streaming video reader: frames flow through iterators, never the whole clip in memory."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Literal

import av
import av.error
import numpy as np

from vidprov.errors import MediaError
from vidprov.media._open import ffmpeg_reason, main_video, open_input
from vidprov.media.frames import Frame, FrameChunk, YUVFrame, to_yuv_planes
from vidprov.media.info import (
    MAX_FRAME_GAP_S,
    RESTART_S,
    IndexCheck,
    VideoInfo,
    corrupt_gap,
    frame_step,
    header_info,
    one_timestamp,
)

log = logging.getLogger(__name__)

PixelFormat = Literal["rgb24", "yuv420p"]


class VideoReader:
    """An open video for streaming reads. Use as a context manager.

    ``info`` holds header metadata (``frames`` may be an estimate for containers without an
    index; :func:`vidprov.media.probe` counts exactly).

    Raises:
        MediaError: on open (see :func:`vidprov.media.probe`) and while iterating, when the data
            turns out truncated or corrupt.
    """

    def __init__(self, path: str | Path) -> None:
        self.path, self._container = open_input(path)
        self._stream = main_video(self._container)
        self._stream.thread_type = "AUTO"
        self.info: VideoInfo = header_info(self.path, self._container)
        self._used = False
        self._last_t: float | None = None
        self._shift = 0.0  # seconds added after timestamps restart (:class:`Restarts`)
        self._size: tuple[int, int] | None = None  # every frame's size, where one is required

    @property
    def time_base(self) -> Fraction | None:
        return self._stream.time_base

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def expect_size(self, width: int, height: int) -> None:
        """Refuse, naming this file, a frame of another size (a writer takes one size: joined
        clips whose picture size changes failed there, naming the output)."""
        self._size = (width, height)

    def av_frames(self) -> Iterator[av.VideoFrame]:
        """Decoded PyAV frames in presentation order (one pass per reader).

        Raises:
            MediaError: the reader was already consumed, the data is corrupt, or a frame's size
                is not the one :meth:`expect_size` asked for.
        """
        if self._used:
            raise MediaError("reader already consumed; open the file again", self.path)
        self._used = True
        index = 0
        stamps: set[int] = set()  # up to two distinct timestamps: enough to see time advance
        whole = IndexCheck(self.path, self._stream, self._container.format.name)
        try:
            for packet in self._container.demux(self._stream):
                whole.add(packet)
                for frame in packet.decode():
                    if len(stamps) < 2 and frame.pts is not None:
                        stamps.add(frame.pts)
                    if self._size is not None and (frame.width, frame.height) != self._size:
                        raise MediaError(self._resized(frame, index), self.path)
                    yield frame
                    index += 1
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(
                f"truncated or corrupt video data after frame {index} ({ffmpeg_reason(exc)})",
                self.path,
            ) from exc
        if index == 0:
            raise MediaError("video stream holds no decodable frames", self.path)
        if index > 1 and len(stamps) == 1:
            raise MediaError(one_timestamp(index), self.path)
        whole.check()

    def _resized(self, frame: av.VideoFrame, index: int) -> str:
        assert self._size is not None
        return (
            f"the picture size changes at frame {index}, from {self._size[0]}x{self._size[1]} "
            f"to {frame.width}x{frame.height} (joined clips?); re-encode it to one size first"
        )

    def timed_av_frames(self) -> Iterator[tuple[float, av.VideoFrame]]:
        """``(seconds, PyAV frame)`` pairs, undecoded to arrays (for samplers that convert only
        the frames they keep).

        Raises:
            MediaError: as :meth:`av_frames`.
        """
        for i, frame in enumerate(self.av_frames()):
            yield self._time(frame, i), frame

    def _time(self, frame: av.VideoFrame, index: int) -> float:
        if frame.pts is None or frame.time_base is None:
            return index / float(self.info.fps)
        t = float((frame.pts - (self._stream.start_time or 0)) * frame.time_base) + self._shift
        if self._last_t is not None and t <= self._last_t - RESTART_S:  # a restart: run on
            step = float(frame_step(self.info.fps, frame.time_base) * frame.time_base)
            if not self._shift:
                log.info("%s: timestamps restart at frame %d; times run on", self.path, index)
            self._shift += self._last_t + step - t
            t = self._last_t + step
        elif self._last_t is not None and t < self._last_t:  # out of order: held, not reversed
            t = self._last_t
        if self._last_t is not None and t - self._last_t >= MAX_FRAME_GAP_S:
            raise MediaError(corrupt_gap(index, t - self._last_t), self.path)
        self._last_t = t
        return t

    def frames(self, fmt: PixelFormat = "rgb24") -> Iterator[Frame] | Iterator[YUVFrame]:
        """Iterate frames as RGB arrays (``fmt="rgb24"``) or Y/U/V planes (``"yuv420p"``).

        Raises:
            MediaError: truncated or corrupt data; an unknown ``fmt``.
        """
        if fmt not in ("rgb24", "yuv420p"):
            raise MediaError(f"unknown pixel format {fmt!r} (rgb24 or yuv420p)", self.path)
        return self._iter(fmt)

    def _iter(self, fmt: PixelFormat) -> Iterator[Frame] | Iterator[YUVFrame]:
        for i, frame in enumerate(self.av_frames()):
            t = self._time(frame, i)
            if fmt == "rgb24":
                yield Frame(i, t, frame.pts, frame.time_base, _rgb(frame))
            else:
                y, u, v = to_yuv_planes(frame)
                yield YUVFrame(i, t, frame.pts, frame.time_base, y, u, v)

    def chunks(self, size: int = 32, fmt: PixelFormat = "rgb24") -> Iterator[FrameChunk]:
        """Iterate runs of up to ``size`` consecutive frames.

        Raises:
            MediaError: as :meth:`frames`; ``size`` not an integer >= 1.
        """
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise MediaError(f"chunk size must be an integer >= 1, got {size!r}", self.path)
        buf: list = []
        for f in self.frames(fmt):
            buf.append(f)
            if len(buf) == size:
                yield FrameChunk(tuple(buf))
                buf = []
        if buf:
            yield FrameChunk(tuple(buf))


def _rgb(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24")


def open_video(path: str | Path) -> VideoReader:
    """Open a video for streaming reads (a context manager).

    Raises:
        MediaError: missing, empty, not a video, no video stream, or absurd dimensions.
    """
    return VideoReader(path)


def iter_frames(
    path: str | Path, fmt: PixelFormat = "rgb24"
) -> Iterator[Frame] | Iterator[YUVFrame]:
    """Open ``path`` and iterate its frames; the file is closed when the iterator ends.

    Raises:
        MediaError: as :func:`open_video` and :meth:`VideoReader.frames`.
    """
    reader = VideoReader(path)

    def gen():
        with reader:
            yield from reader.frames(fmt)

    return gen()
