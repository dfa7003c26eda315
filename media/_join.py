"""Sound for a concatenation: each source's first audio track, decoded and re-encoded to one AAC
track at that source's place in the output, with silence where a source has none."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from vidprov.media._audio import GAP_S, _aac_track, open_audio
from vidprov.media._clock import clocked
from vidprov.media._open import ffmpeg_reason

log = logging.getLogger(__name__)

RATE = 48000
BLOCK = 4096  # samples per encoded frame of silence or cut sound


class _Part:
    """One source's sound, as float stereo blocks at :data:`RATE`, each with its time in the
    source's frame times (0: its first shown frame)."""

    def __init__(self, path: Path, origin: float) -> None:
        self.path, self.origin = path, origin
        self._in = open_audio(path)
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
        tracks = len(self._in.streams.audio)
        if tracks > 1:
            log.warning("%s: %d audio tracks; only the first is joined", path, tracks)
        self._frames: Iterator[av.AudioFrame] = iter(())
        if tracks:
            self._frames = self._decoded(self._in.streams.audio[0])

    def _decoded(self, stream: av.audio.stream.AudioStream) -> Iterator[av.AudioFrame]:
        """The track's sound, resampled; a packet that does not decode is a gap (it silenced
        the rest of the source), a file that cannot be read on the end of it."""
        packets, _ = clocked(self._in, stream)  # on the file's clock, as its frames
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.error.FFmpegError, OSError) as exc:
                log.warning("%s: audio ends early (%s)", self.path, ffmpeg_reason(exc))
                break
            try:
                frames = packet.decode()
            except (av.error.FFmpegError, ValueError) as exc:
                reason = ffmpeg_reason(exc)
                log.warning("%s: an audio packet does not decode (%s)", self.path, reason)
                continue
            for frame in frames:
                yield from self._resampler.resample(frame)
        yield from self._resampler.resample(None)

    def blocks(self) -> Iterator[tuple[float | None, np.ndarray]]:
        """``(seconds or None, samples (2, n))``; None: right after the previous block."""
        for f in self._frames:
            t = float(f.pts * f.time_base) - self.origin if f.pts is not None else None
            yield t, f.to_ndarray().reshape(2, -1)

    def close(self) -> None:
        self._in.close()


class AudioJoin:
    """One AAC track (48 kHz stereo) into ``out``: :meth:`add` each source as its frames
    begin, :meth:`cut` where they end; the writer :meth:`pump`\\ s the sound along with the
    video. A gap, a source without sound, or sound that ends early is silence; sound before a
    source's first frame or past its end is left out."""

    mode = "aac"

    def __init__(self, out: av.container.OutputContainer) -> None:
        self._stream, _, _ = _aac_track(out, RATE, 2)
        self._out = out
        self._pos = 0  # next output sample
        self._start = 0  # the current part's first output sample
        self._end: int | None = None  # where the current part stops (None: not yet known)
        self._part: _Part | None = None
        self._blocks: Iterator[tuple[float | None, np.ndarray]] = iter(())
        self._next = 0  # the output sample the next block starts at, when it gives no time

    def add(self, path: Path, at: float, origin: float) -> None:
        """Start ``path``'s sound at ``at`` seconds of the output; ``origin``: where its frame
        time 0 lies on its own clock (:meth:`VideoReader.first_time`)."""
        self.cut(at)
        self._start = self._next = round(at * RATE)
        self._end = None
        self._part = _Part(path, origin)
        self._blocks = self._part.blocks()

    def cut(self, at: float) -> None:
        """End the current source's sound at ``at`` seconds, silence up to there."""
        self._end = round(at * RATE)
        self.pump(None)
        self._silence(self._end)
        self._close_part()

    def pump(self, until: float | None) -> None:
        """Encode the sound up to ``until`` seconds (to the current source's end when None)."""
        stop = self._end if until is None else round(until * RATE)
        if self._end is not None and stop is not None:
            stop = min(stop, self._end)
        while self._part is not None and (stop is None or self._pos < stop):
            block = next(self._blocks, None)
            if block is None:
                self._close_part()  # its sound ended: silence from here
                break
            t, x = block
            first = self._start + round(t * RATE) if t is not None else self._next
            fresh, self._next = self._next == self._start, first + x.shape[1]
            # the source's sound starting after its first frame, or a gap in it: kept
            if first > self._pos and (fresh or first - self._pos >= round(GAP_S * RATE)):
                self._silence(first if self._end is None else min(first, self._end))
            elif first < self._pos:  # before its first frame, or overlapping: left out
                x = x[:, min(self._pos - first, x.shape[1]) :]
            if self._end is not None:
                x = x[:, : max(self._end - self._pos, 0)]
            self._emit(x)
        if self._part is None and stop is not None:
            self._silence(stop)

    def _silence(self, until: int) -> None:
        while self._pos < until:
            self._emit(np.zeros((2, min(BLOCK, until - self._pos)), np.float32))

    def _emit(self, x: np.ndarray) -> None:
        if not x.shape[1]:
            return
        af = av.AudioFrame.from_ndarray(np.ascontiguousarray(x, np.float32), "fltp", "stereo")
        af.sample_rate, af.pts, af.time_base = RATE, self._pos, Fraction(1, RATE)
        self._pos += x.shape[1]
        for packet in self._stream.encode(af):
            self._out.mux(packet)

    def _close_part(self) -> None:
        if self._part is not None:
            self._part.close()
            self._part = None
            self._blocks = iter(())

    def finish(self) -> None:
        """Flush the encoder (the last source ends at its :meth:`cut`)."""
        if self._end is None:
            self.pump(None)
        self._close_part()
        for packet in self._stream.encode(None):
            self._out.mux(packet)

    def close(self) -> None:
        self._close_part()
