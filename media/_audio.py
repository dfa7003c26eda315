"""Copy a source file's audio into an output container, interleaved with the video."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import av
import av.error

from vidprov.errors import MediaError
from vidprov.media._open import ffmpeg_reason

log = logging.getLogger(__name__)

# Audio codecs the MP4/MOV muxer stores as they are.
MP4_AUDIO = {"aac", "mp3", "opus", "alac", "ac3", "eac3", "flac"}


class AudioCopier:
    """Feeds the source's audio packets to ``out`` up to a given time (``pump``).

    ``mode`` is ``"copy"`` (packets unchanged) or ``"aac"`` (re-encoded: the container
    does not accept the source codec).
    """

    def __init__(
        self,
        src: Path,
        inp: av.container.InputContainer,
        out: av.container.OutputContainer,
        window: tuple[float, float] | None = None,
    ) -> None:
        self.src = src
        self.window = window
        self._in = inp
        self._in_stream = inp.streams.audio[0]
        name = self._in_stream.codec_context.name
        fmt = out.format.name
        self.mode = "copy" if (name in MP4_AUDIO or "mp4" not in fmt) else "aac"
        if self.mode == "copy":
            self._out_stream = out.add_stream_from_template(self._in_stream)
        else:
            log.info("%s: audio codec %s is not storable in MP4; re-encoding to AAC", src, name)
            cc = self._in_stream.codec_context
            self._out_stream = out.add_stream("aac", rate=cc.sample_rate)
            self._out_stream.layout = cc.layout.name if cc.layout else "stereo"
            self._resampler = av.AudioResampler(
                format="fltp", layout=self._out_stream.layout, rate=cc.sample_rate
            )
        self._out = out
        self._packets: Iterator[av.Packet] = iter(inp.demux(self._in_stream))
        self._pending: av.Packet | None = None
        self._done = False

    @classmethod
    def open(
        cls,
        src: Path,
        out: av.container.OutputContainer,
        window: tuple[float, float] | None = None,
    ) -> AudioCopier | None:
        """An audio copier for ``src``, or None when it has no audio.

        ``window`` = ``(start, end)`` seconds copies only that stretch, moved to time 0.

        Raises:
            MediaError: the source cannot be opened.
        """
        try:
            inp = av.open(str(src), metadata_errors="ignore")
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"cannot read audio ({ffmpeg_reason(exc)})", src) from exc
        if not inp.streams.audio:
            inp.close()
            return None
        return cls(src, inp, out, window)

    def _next(self) -> av.Packet | None:
        while True:
            try:
                p = next(self._packets)
            except StopIteration:
                return None
            except (av.error.FFmpegError, OSError) as exc:
                log.warning("%s: audio ends early (%s)", self.src, ffmpeg_reason(exc))
                return None
            if p.dts is None or p.size <= 0:
                continue
            if self.window is None:
                return p
            start, end = self.window
            t = float(p.pts * p.time_base) if p.pts is not None else 0.0
            if t >= end:
                return None
            if t < start:
                continue
            shift = round(start / p.time_base)
            p.pts -= shift
            p.dts -= shift
            return p

    def pump(self, until: float | None) -> None:
        """Mux audio packets whose time is at most ``until`` seconds (all when None)."""
        while not self._done:
            p = self._pending or self._next()
            self._pending = None
            if p is None:
                self._done = True
                break
            t = float(p.pts * p.time_base) if p.pts is not None else 0.0
            if until is not None and t > until:
                self._pending = p
                break
            self._mux(p)

    def _mux(self, p: av.Packet) -> None:
        if self.mode == "copy":
            p.stream = self._out_stream
            self._out.mux(p)
            return
        for frame in p.decode():
            frame.pts = None
            for rf in self._resampler.resample(frame):
                for op in self._out_stream.encode(rf):
                    self._out.mux(op)

    def finish(self) -> None:
        """Mux all remaining audio (and flush the AAC encoder when re-encoding)."""
        self.pump(None)
        if self.mode == "aac":
            for op in self._out_stream.encode(None):
                self._out.mux(op)

    def close(self) -> None:
        self._in.close()
