"""Streaming video reader: frames flow through iterators, never the whole clip in memory."""

from __future__ import annotations

import heapq
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
from vidprov.media._clock import FileClock, clocked
from vidprov.media._open import ffmpeg_reason, main_video, open_input
from vidprov.media.frames import Frame, FrameChunk, YUVFrame, to_yuv_planes
from vidprov.media.info import (
    MAX_FRAME_GAP_S,
    IndexCheck,
    Restarts,
    VideoInfo,
    WholePackets,
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
        self._origin: int | None = None  # the stream time of time 0
        self._restarts = Restarts(frame_step(self.info.fps, self._stream.time_base))
        # AVI times are slots in decoding order: out of order from the start with B-frames
        avi = self._container.format.name.split(",")[0] == "avi"
        reorders = avi and bool(self._stream.codec_context.has_b_frames)
        self._slots = _Slots(self.path, reorders, self._stream.start_time or 0)
        self._size: tuple[int, int] | None = None  # every frame's size, where one is required
        self._clock: FileClock | None = None  # the file's, where its format lets time jump
        self._jump_told = False

    @property
    def time_base(self) -> Fraction | None:
        return self._stream.time_base

    @classmethod
    def first_time(cls, path: str | Path) -> float:
        """Where time 0 of the frame times lies on the file's own clock, in seconds (the first
        shown frame's time: the clock of an MPEG-TS recording starts anywhere, and that of a
        MOV whose video starts late at 2 s, say), the clock its audio is timed by.

        Raises:
            MediaError: as :meth:`av_frames`.
        """
        with cls(path) as reader:
            for _ in reader.timed_av_frames():
                break
            tb = reader.time_base
            return float(reader._origin * tb) if reader._origin is not None and tb else 0.0

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
            demuxed, self._clock = clocked(self._container, self._stream)
            packets = WholePackets(demuxed, self.path)
            for packet in packets:
                whole.add(packet)
                self._run_on(packet, index)
                for frame in packet.decode():
                    self._slots.fix(frame)
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
        packets.report()

    def _run_on(self, packet: av.Packet, index: int) -> None:
        """Shift ``packet`` past a restart of the clock before it is decoded
        (:class:`~vidprov.media.info.Restarts`), and note its time slot."""
        if not packet.size:  # the end-of-stream marker
            return
        count = self._restarts.count
        ts = self._restarts.apply(packet)
        if self._restarts.count > count == 0:
            log.info("%s: timestamps restart at frame %d; times run on", self.path, index)
        if self._clock is not None and self._clock.jumps and not self._jump_told:
            self._jump_told = True
            log.info("%s: the clock jumps on at frame %d; times run on", self.path, index)
        if ts is not None:
            self._slots.feed(ts)

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
        if self._origin is None:
            # the first frame shown, not the stream's start when that is a frame never shown
            # (a stream cut mid-GOP: its times ran from 1.6 s, past the probed 4 s length)
            self._origin = max(self._stream.start_time or 0, frame.pts)
        t = float((frame.pts - self._origin) * frame.time_base)
        if self._last_t is not None and t <= self._last_t:
            # out of order (where :class:`_Slots` took over, the frames before it were late):
            # one nominal frame on, never back nor twice the same time
            t = self._last_t + float(frame_step(self.info.fps, frame.time_base) * frame.time_base)
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


_MAX_SLOTS = 1024  # slots held for frames to come (a decoder dropping frames: memory flat)


class _Slots:
    """Presentation times for frames whose own go back as they leave the decoder.

    A decoder puts frames in presentation order, so the n-th frame out belongs in the n-th
    smallest time slot fed in. A file whose times are right never needs that: its frames' times
    only go forward. Where they go back, the times were stamped in decoding order (a muxer that
    wrote decoding times as presentation times; AVI, which stores no presentation times at all,
    always), and with B-frames they came out repeated and going back (an AVI at 24 fps read
    0.042, 0.083, 0.167, 0.167, ..., and a trim took the wrong frames). From the first frame
    that goes back on (an AVI with B-frames: from the start, counted from its first slot, as
    the demuxer starts them at slot 1), each frame takes its slot instead. An AVI without
    B-frames keeps its own times: its placeholder packets for dropped frames (N-VOPs) decode
    to nothing, and would leave their slots to the frames after them.
    """

    def __init__(self, path: Path, avi_reordered: bool, start: int) -> None:
        self.path, self.avi, self.start = path, avi_reordered, start
        self.on = avi_reordered  # on from the start (an AVI with B-frames), else once needed
        self.heap: list[int] = []
        self.last: int | None = None  # the decoder's last time
        self.origin: int | None = None  # ticks taken off a slot (AVI: to start at the start)

    def feed(self, ts: int) -> None:
        """Note a packet's time as it goes into the decoder."""
        heapq.heappush(self.heap, ts)
        if len(self.heap) > _MAX_SLOTS:
            heapq.heappop(self.heap)

    def fix(self, frame: av.VideoFrame) -> None:
        """Give ``frame`` its slot's time, once the decoder's times are found going back."""
        slot = heapq.heappop(self.heap) if self.heap else None
        pts = frame.pts
        if not self.on and pts is not None and self.last is not None and pts < self.last:
            self.on = True
            log.info("%s: frame times go back; frames take their time slots in order", self.path)
        if pts is not None:
            self.last = pts
        if self.on and slot is not None:
            if self.origin is None:
                self.origin = slot - self.start if self.avi else 0
            frame.pts = slot - self.origin
