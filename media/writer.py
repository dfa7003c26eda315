"""H.264 MP4 writer: exact frame count, rate, size and timing; source audio copied or raw audio
encoded to AAC; atomic."""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.error
import numpy as np
from av.video.reformatter import ColorRange, VideoReformatter

from vidprov.atomic import AtomicFile, shown_as
from vidprov.errors import MediaError
from vidprov.fields import check_field_types
from vidprov.media._audio import AudioEncoder, AudioTracks, PCMAudio
from vidprov.media._join import AudioJoin
from vidprov.media._open import ffmpeg_reason
from vidprov.media.frames import Frame, YUVFrame, check_yuv, from_yuv_planes, to_yuv_planes
from vidprov.media.info import Display, read_display
from vidprov.media.reader import VideoReader

log = logging.getLogger(__name__)
_RANGE = VideoReformatter()  # RGB to full-range YUV (a frame's own reformat cannot set it)

PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


@dataclass(frozen=True)
class EncodeOptions:
    """Video encoding settings. ``crf`` 0 is lossless (in 4:2:0); 18 is visually lossless.
    ``bitrate`` (bits per second) switches to average-bitrate rate control instead of CRF."""

    crf: int = 18
    preset: str = "medium"
    codec: str = "libx264"
    faststart: bool = True
    bitrate: int | None = None

    def __post_init__(self) -> None:
        check_field_types(self, MediaError)
        if not 0 <= self.crf <= 51:
            raise MediaError(f"crf must be in 0..51, got {self.crf}")
        if self.bitrate is not None and self.bitrate <= 0:
            raise MediaError(f"bitrate must be positive, got {self.bitrate}")
        if self.codec in ("libx264", "libx265") and self.preset not in PRESETS:
            raise MediaError(f"unknown preset {self.preset!r} (one of {', '.join(PRESETS)})")


class VideoWriter:
    """Write frames to a video file, atomically. Use as a context manager.

    Frames are written with their own timestamps when they carry them (``Frame.pts`` with
    ``time_base``), so variable-frame-rate timing survives; bare arrays get ``index / fps``.
    Odd sizes cannot be stored as 4:2:0: they are encoded as yuv444p (logged).
    The output appears at ``path`` only when the block exits without error.

    Args:
        path: output file; the container follows its suffix (``.mp4``, ``.mov``, ``.mkv``).
        width, height, fps: the stream's size and nominal rate.
        options: encoder settings.
        audio_from: copy the audio tracks of this file (up to 16, with their language and
            title) into the output (each unchanged when the container accepts its codec, else
            re-encoded to AAC).
        time_base: timestamp unit of the frames' ``pts`` (the source stream's), if any. AVI
            stores one frame per slot of ``1 / fps``: there frames are timed by their index.
        audio_window: copy only ``(start, end)`` seconds of the audio, moved to time 0; the
            seconds of ``audio_from``'s frame times (:class:`VideoReader`: 0 is its first
            shown frame, wherever its clock starts).
        audio: raw samples to encode as the audio track (AAC), interleaved with the video;
            not together with ``audio_from``.
        joined_audio: one AAC track that :attr:`audio_join` fills with several sources' sound
            in turn (a concatenation's); not together with ``audio`` or ``audio_from``.
        display: rotation, pixel aspect ratio, sample range and colour description to give
            the output (the source's, for a re-encode). With ``full_range``, YUV frames are
            taken as full range and RGB frames are converted to it; RGB frames are converted
            to YUV by the colour description's matrix.

    Raises:
        MediaError: bad size or rate, an encoder failure, a frame of the wrong size, the
            output cannot be written, or more than one of ``audio``, ``audio_from`` and
            ``joined_audio`` given.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: Fraction | float | int,
        options: EncodeOptions | None = None,
        audio_from: str | Path | None = None,
        time_base: Fraction | None = None,
        audio_window: tuple[float, float] | None = None,
        audio: PCMAudio | None = None,
        display: Display | None = None,
        joined_audio: bool = False,
    ) -> None:
        self.path = Path(path)
        self.display = display or Display()
        try:
            self.width, self.height = int(width), int(height)
            rate = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001)
        except (TypeError, ValueError, OverflowError) as exc:  # None, NaN, inf
            raise MediaError(f"bad output size or rate {width}x{height} at {fps!r}", path) from exc
        self.fps = rate
        self.options = options or EncodeOptions()
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.time_base = time_base
        self._unit = _finer_unit(time_base, rate)
        self.audio_window = audio_window
        self.audio = audio
        self.frames_written = 0
        self._last: tuple[int, float] | None = None  # last pts written, and its frame's time
        # AVI: one frame per 1/fps slot, so timed frames are put in the slot of their time
        self._slots: _Slots | None = None
        self.audio_mode: str | None = None
        if not (0 < self.width <= 16384 and 0 < self.height <= 16384):
            raise MediaError(f"bad output size {self.width}x{self.height}", self.path)
        if self.fps <= 0:
            raise MediaError(f"bad frame rate {fps}", self.path)
        self.joined_audio = joined_audio
        if sum((audio is not None, audio_from is not None, joined_audio)) > 1:
            raise MediaError("give one of audio, audio_from and joined_audio", self.path)
        if audio_window is not None and not 0 <= audio_window[0] <= audio_window[1]:
            raise MediaError(f"bad audio window {audio_window} (want 0 <= start <= end)", path)
        self._file: AtomicFile | None = None
        self._out: av.container.OutputContainer | None = None
        self._audio: AudioTracks | AudioEncoder | AudioJoin | None = None

    @property
    def audio_join(self) -> AudioJoin:
        """The joined track (``joined_audio``), once the writer is open."""
        if not isinstance(self._audio, AudioJoin):
            raise MediaError("the writer has no joined audio track open", self.path)
        return self._audio

    @classmethod
    def like(
        cls, reader: VideoReader, path: str | Path, options: EncodeOptions | None = None
    ) -> VideoWriter:
        """A writer for ``path`` with the reader's size, rate, timestamps, rotation, pixel
        aspect ratio and sample range, copying its audio; the reader then refuses a frame of
        another size, naming its file.

        Raises:
            MediaError: as the constructor; the reader's file no longer decodes.
        """
        info = reader.info
        reader.expect_size(info.width, info.height)
        return cls(
            path,
            info.width,
            info.height,
            info.fps,
            options,
            audio_from=reader.path,
            time_base=reader.time_base,
            display=read_display(reader.path),
        )

    def __enter__(self) -> VideoWriter:
        self.open()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is None:
            self.close()
        else:
            self.abort()

    def open(self) -> None:
        self._file = AtomicFile(self.path)
        try:
            self._open_container()
        except BaseException:
            self.abort()
            raise

    def _open_container(self) -> None:
        opts = {}
        if self.options.faststart and self.path.suffix.lower() in (".mp4", ".mov", ".m4v"):
            opts["movflags"] = "+faststart"
        fmt = "mp4" if self.path.suffix.lower() in (".mp4", ".m4v") else None
        try:
            out = av.open(str(self._file.tmp), mode="w", format=fmt, options=opts)
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(
                f"cannot write this container ({ffmpeg_reason(exc)})", self.path
            ) from exc
        self._out = out
        pix_fmt = "yuv420p"
        if self.width % 2 or self.height % 2:
            pix_fmt = "yuv444p"
            log.warning(
                "%s: odd size %dx%d cannot be 4:2:0; encoding yuv444p",
                shown_as(self.path),
                self.width,
                self.height,
            )
        try:
            vs = out.add_stream(self.options.codec, rate=self.fps)
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(
                f"encoder {self.options.codec!r} unavailable ({exc})", self.path
            ) from exc
        vs.width, vs.height, vs.pix_fmt = self.width, self.height, pix_fmt
        if out.format.name == "avi":  # one frame per 1/fps slot: a finer unit leaves gaps
            self.time_base, self._unit = None, None
            self._slots = _Slots()
        self._show(vs)
        vs.codec_context.time_base = self._unit or self.time_base or 1 / self.fps
        vs.time_base = vs.codec_context.time_base
        codec_opts = {} if self.options.bitrate else {"crf": str(self.options.crf)}
        if self.options.bitrate:
            vs.bit_rate = int(self.options.bitrate)
        if self.options.codec in ("libx264", "libx265"):
            codec_opts["preset"] = self.options.preset
        if self.options.codec == "libx264":
            # H.264 timing info: the nominal rate, not the time base x264 writes otherwise (a
            # source's 1/14336 s read "14336 fps" in other tools once copied into another
            # container); the frames' own timestamps, variable or not, are kept as they are
            codec_opts["x264-params"] = "force-cfr=1"
        if self.options.codec == "libx265":
            codec_opts["x265-params"] = "log-level=error"
        vs.options = codec_opts
        vs.thread_type = "AUTO"
        self._stream = vs
        self._pix_fmt = pix_fmt
        if self.audio_from is not None:
            window = self.audio_window
            if window is not None:  # on the file's clock: a recording's starts at 1.4 s, say
                t0 = VideoReader.first_time(self.audio_from)
                window = (window[0] + t0, window[1] + t0)
            self._audio = AudioTracks.open(self.audio_from, out, window)
            self.audio_mode = self._audio.mode if self._audio else None
        elif self.audio is not None:
            self._audio = AudioEncoder(self.audio, out)
            self.audio_mode = self._audio.mode
        elif self.joined_audio:
            self._audio = AudioJoin(out)
            self.audio_mode = self._audio.mode

    def _show(self, vs: av.video.stream.VideoStream) -> None:
        d = self.display
        if d.rotation:
            vs.set_display_rotation(d.rotation)
            muxer = self._out.format.name if self._out is not None else ""
            if muxer in ("mpegts", "avi"):  # they carry no display rotation: it is lost
                log.warning(
                    "%s: %s keeps no rotation tag, so the clip will show turned %d degrees "
                    "from its source (.mp4, .mov or .mkv keep it)",
                    shown_as(self.path),
                    "MPEG-TS" if muxer == "mpegts" else "AVI",
                    d.rotation,
                )
        if d.sample_aspect_ratio is not None:
            vs.codec_context.sample_aspect_ratio = d.sample_aspect_ratio
        if d.full_range:
            vs.codec_context.color_range = ColorRange.JPEG
        cc = vs.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace = d.colour

    def write(self, frame: Frame | YUVFrame | np.ndarray | av.VideoFrame) -> None:
        """Encode one frame (RGB ``Frame``/array, ``YUVFrame``, or a PyAV frame).

        Raises:
            MediaError: the frame size does not match, planes that are not ``uint8`` 4:2:0
                (:func:`check_yuv`), or the encoder fails.
        """
        if self._out is None:
            raise MediaError("writer is not open", self.path)
        pts: int | None = None
        if isinstance(frame, av.VideoFrame):
            vf = frame
            pts = frame.pts if self.time_base is not None else None
        elif isinstance(frame, YUVFrame):
            check_yuv(frame, self.path)
            vf = from_yuv_planes(frame.y, frame.u, frame.v)
            pts = frame.pts if self.time_base is not None else None
        else:
            rgb = frame.rgb if isinstance(frame, Frame) else frame
            if isinstance(frame, Frame) and self.time_base is not None:
                pts = frame.pts
            rgb = np.ascontiguousarray(rgb)
            if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
                raise MediaError(
                    f"frame must be uint8 HxWx3, got {rgb.dtype} {rgb.shape}", self.path
                )
            vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        if (vf.width, vf.height) != (self.width, self.height):
            raise MediaError(
                f"frame size {vf.width}x{vf.height} does not match the stream's "
                f"{self.width}x{self.height}",
                self.path,
            )
        vf = self._converted(vf, self._pix_fmt)
        tb = self._stream.codec_context.time_base
        time = frame.time if isinstance(frame, Frame | YUVFrame) else None  # run-on times
        if self._slots is not None and time is not None:
            slot = self._slots.slot(time, self.fps)
            if slot < self.frames_written:  # in the slot of the frame before it: left out
                self._slots.dropped += 1
                return
            while self.frames_written < slot:  # the frame before it held: repeated
                held = self._slots.held
                assert held is not None
                held.pts = round(self.frames_written / self.fps / tb)
                self._encode(held)
                self.frames_written += 1
                self._slots.repeated += 1
            self._slots.held = vf
        if pts is not None and self._unit is not None:
            pts = self._on_grid(pts)
        if pts is None:
            pts = round(self.frames_written / self.fps / tb)
        elif self._last is not None and pts <= self._last[0]:  # the source's clock restarted
            # go on by the reader's run-on times (a PyAV frame's own time restarted too: one
            # nominal frame then)
            last_pts, last_time = self._last
            if time is not None and time > last_time:
                pts = last_pts + max(1, round((time - last_time) / tb))
            else:
                pts = last_pts + max(1, round(1 / (self.fps * tb)))
        self._last = (pts, time if time is not None else 0.0)
        vf.pts = pts
        vf.time_base = self._stream.codec_context.time_base
        vf.pict_type = av.video.frame.PictureType.NONE
        self._encode(vf)
        self.frames_written += 1

    def _converted(self, vf: av.VideoFrame, pix_fmt: str) -> av.VideoFrame:
        """``vf`` in ``pix_fmt``: YUV stays in its range and matrix; RGB goes to YUV by the
        matrix the output is tagged with (BT.601 when it names none), full range if the output
        is."""
        rgb_in = vf.format.name.startswith(("rgb", "bgr", "gbr"))
        matrix = self.display.colour[2] if rgb_in and self.display.colour[2] != 2 else None
        if self.display.full_range and rgb_in:
            return _RANGE.reformat(
                vf, format=pix_fmt, dst_colorspace=matrix, dst_color_range=ColorRange.JPEG
            )
        if vf.format.name != pix_fmt:
            return vf.reformat(format=pix_fmt, dst_colorspace=matrix)
        return vf

    def to_yuv(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The 4:2:0 planes of an RGB frame, converted as :meth:`write` converts it (by the
        matrix and range the output is tagged with): for work on the planes (marking) before
        they are written as a :class:`YUVFrame`."""
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        return to_yuv_planes(self._converted(vf, "yuv420p"))

    def _on_grid(self, pts: int) -> int:
        """``pts`` (in ``time_base``) in the finer unit; a time within one tick of a multiple
        of ``1 / fps`` is put on it (the rounding of a constant rate in a coarse unit)."""
        assert self.time_base is not None and self._unit is not None
        t = pts * self.time_base
        on = Fraction(round(t * self.fps)) / self.fps
        return int((on if abs(t - on) <= self.time_base else t) / self._unit)

    def _encode(self, vf: av.VideoFrame | None) -> None:
        assert self._out is not None
        try:
            for packet in self._stream.encode(vf):
                self._out.mux(packet)
                if self._audio is not None and packet.pts is not None:
                    self._audio.pump(float(packet.pts * packet.time_base))
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(f"encoding failed ({ffmpeg_reason(exc)})", self.path) from exc

    def close(self) -> None:
        """Flush, finish the file and move it into place.

        Raises:
            MediaError: nothing was written, or the encoder/muxer fails (the output is removed).
        """
        if self._out is None:
            return
        try:
            if self.frames_written == 0:
                raise MediaError("no frames were written", self.path)
            self._encode(None)
            if self._slots is not None and (self._slots.repeated or self._slots.dropped):
                log.info(
                    "%s: AVI holds one frame per 1/%s s: %d frame(s) repeated and %d left out "
                    "to keep the frames' timing",
                    self.path, self.fps, self._slots.repeated, self._slots.dropped,
                )  # fmt: skip
            if self._audio is not None:
                self._audio.finish()
            self._out.close()
            self._out = None
            if self._audio is not None:
                self._audio.close()
            assert self._file is not None
            self._file.commit()
            self._file = None
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Close everything and delete the temporary output."""
        if self._audio is not None:
            self._audio.close()
            self._audio = None
        if self._out is not None:
            with contextlib.suppress(Exception):
                self._out.close()
            self._out = None
        if self._file is not None:
            self._file.discard()
            self._file = None


@dataclass
class _Slots:
    """Frame placement for AVI, which stores one frame per ``1 / fps`` and no times: each
    timed frame goes to the slot nearest its time (from the first frame's), a frame held over
    several slots is repeated, and one that lands in the slot of the frame before is left out.
    Until this version frames were written one per slot whatever their times, so a concat of a
    30 fps and a 25 fps source ran 0.65 s short of its sound, and a variable-rate trim came out
    evenly spaced."""

    t0: float | None = None
    held: av.VideoFrame | None = None
    repeated: int = 0
    dropped: int = 0

    def slot(self, time: float, fps: Fraction) -> int:
        if self.t0 is None:
            self.t0 = time
        return math.floor((time - self.t0) * float(fps) + 0.5)


def _finer_unit(time_base: Fraction | None, fps: Fraction) -> Fraction | None:
    """The largest unit that holds both a tick of ``time_base`` and ``1 / fps`` exactly, where
    ``time_base`` alone cannot hold ``1 / fps`` (MKV's 1 ms at 30 fps: 1/3000 s); else None.
    A constant rate in the coarse unit came out in steps of 33/33/34 ms, which MP4 stores
    as a variable 29.99 fps."""
    if time_base is None or (1 / (fps * time_base)).denominator == 1:
        return None
    step = 1 / fps
    unit = Fraction(
        math.gcd(time_base.numerator, step.numerator),
        math.lcm(time_base.denominator, step.denominator),
    )
    return unit if unit.denominator <= 1_000_000 else None  # MP4 stores 32-bit timescales
