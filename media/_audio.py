"""Audio into an output container, interleaved with the video: copied from a source file, or
encoded to AAC from raw samples (e.g. the waveform a generator returns)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from vidprov.errors import MediaError
from vidprov.media._clock import clocked
from vidprov.media._open import ffmpeg_reason

log = logging.getLogger(__name__)

_PCM = {"pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_s32le", "pcm_f32le"}
# What each output container we write stores as it is (QuickTime MOV takes no Opus or FLAC);
# any other audio is re-encoded to AAC. Matroska stores anything.
_STORED = {
    "mp4": {"aac", "mp3", "opus", "alac", "ac3", "eac3", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3", "eac3", *_PCM},
    "avi": {"aac", "mp3", "ac3", "pcm_s16le", "pcm_u8"},
    # PCM and FLAC went in as an unreadable data stream: the sound was lost, with no warning
    "mpegts": {"aac", "mp3", "mp2", "ac3", "eac3", "opus"},
}


def _copies(codec: str, fmt: str) -> bool:
    """Whether the muxer ``fmt`` stores ``codec`` as it is."""
    stored = _STORED.get(fmt)
    return stored is None or codec in stored


# Sample rates AAC stores; audio at any other rate is resampled to 48 kHz.
AAC_RATES = {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000}
AAC_BITRATE = 128_000
#: a gap in a source's sound this long or longer is kept (shorter: its timestamps' rounding,
#: a millisecond in Matroska)
GAP_S = 0.005


def aac_rate(rate: int) -> int:
    """The rate an AAC track gets for audio at ``rate`` Hz: that one, or 48 kHz where AAC
    cannot store it."""
    return rate if rate in AAC_RATES else 48000


#: the channel layouts an AAC track keeps as they are (MP4 readers get them back); others of
#: up to six channels go by their channel count, as do eight with no layout named (PCM in
#: Matroska); other layouts of eight (7.1(wide), octagonal) would be remixed: stereo
_AAC_LAYOUTS = {"mono", "stereo", "2.1", "3.0", "4.0", "quad", "5.0", "5.1"}
_AAC_LAYOUTS |= {"5.0(side)", "5.1(side)", "7.1"}
_BY_COUNT = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1"}


def _aac_track(
    out: av.container.OutputContainer, rate: int, channels: int, layout: str | None = None
) -> tuple[av.audio.stream.AudioStream, av.AudioResampler, int]:
    """An AAC track in ``out`` for audio at ``rate`` Hz with ``channels`` (in ``layout``,
    when it has one AAC takes; else by the count, up to 5.1, and 7.1: others are mixed down to
    stereo, as every re-encode was until this version), the resampler that feeds it, and the
    track's rate."""
    stored = aac_rate(rate)
    if layout in _AAC_LAYOUTS:
        name = str(layout)
    elif channels == 8 and (layout is None or layout.endswith(" channels")):  # no order named
        name = "7.1"
    else:
        name = _BY_COUNT.get(channels, "stereo")
    if channels > 2 and name == "stereo":
        log.info("%d audio channels are mixed down to stereo for AAC", channels)
    stream = out.add_stream("aac", rate=stored)
    stream.layout = name
    stream.bit_rate = max(AAC_BITRATE, 64_000 * av.AudioLayout(name).nb_channels)
    return stream, av.AudioResampler(format="fltp", layout=name, rate=stored), stored


@dataclass(frozen=True, eq=False)
class PCMAudio:
    """Raw audio to encode: float samples in [-1, 1] (clipped), ``(channels, samples)`` or
    ``(samples,)``, mono or stereo, at ``sample_rate`` Hz. Integer PCM (``int16``, ``int32``,
    ``uint8``...) is scaled from its full range, as WAV files store it.

    Raises:
        MediaError: not 1 or 2 channels, no samples, non-finite samples, or a bad rate.
    """

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        raw = np.asarray(self.samples)
        if not (np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)):
            raise MediaError(f"audio samples must be real numbers, got {raw.dtype}")
        x = raw.astype(np.float32)
        if np.issubdtype(raw.dtype, np.integer) and raw.dtype.itemsize <= 4:  # integer PCM
            # (int64 is what a plain Python list of ints becomes: taken as sample values)
            info = np.iinfo(raw.dtype)
            mid = (int(info.max) + int(info.min) + 1) / 2  # 128 for uint8, 0 for signed
            x = ((raw.astype(np.float64) - mid) / (int(info.max) + 1 - mid)).astype(np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[0] not in (1, 2):
            raise MediaError(
                f"audio must be (channels, samples) with 1 or 2 channels, got shape "
                f"{np.shape(self.samples)}"
            )
        if x.shape[1] == 0:
            raise MediaError("audio has no samples")
        if not np.isfinite(x).all():
            raise MediaError("audio has non-finite samples (NaN or inf)")
        rate = self.sample_rate
        try:
            finite = math.isfinite(float(rate))
        except (TypeError, ValueError):
            finite = False
        if not finite:  # NaN: int() raised ValueError, inf OverflowError
            raise MediaError(f"bad audio sample rate {rate!r}")
        if not 1000 <= int(rate) <= 384000:
            raise MediaError(f"bad audio sample rate {rate}")
        object.__setattr__(self, "samples", np.ascontiguousarray(np.clip(x, -1.0, 1.0)))
        object.__setattr__(self, "sample_rate", int(rate))

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.samples.shape[1] / self.sample_rate

    @property
    def stored_rate(self) -> int:
        """The rate the AAC track gets: this one, or 48 kHz where AAC cannot store it."""
        return aac_rate(self.sample_rate)


class AudioEncoder:
    """Encodes :class:`PCMAudio` to AAC into ``out`` up to a given time (``pump``), like
    :class:`AudioCopier`. Rates AAC cannot store are resampled to 48 kHz."""

    mode = "aac"
    BLOCK = 1024

    def __init__(self, audio: PCMAudio, out: av.container.OutputContainer) -> None:
        self.audio = audio
        if audio.stored_rate != audio.sample_rate:
            log.info("audio at %d Hz is not AAC-storable; resampling to 48 kHz", audio.sample_rate)
        self._stream, self._resampler, _ = _aac_track(out, audio.sample_rate, audio.channels)
        self.layout = self._stream.layout.name  # the samples' layout too (mono or stereo)
        self._out = out
        self._pos = 0  # next sample to encode

    def pump(self, until: float | None) -> None:
        """Encode the samples that start at most ``until`` seconds in (all when None)."""
        x, rate = self.audio.samples, self.audio.sample_rate
        end = x.shape[1]
        if until is not None:
            end = min(end, int(until * rate) + 1)
        while self._pos < end:
            block = x[:, self._pos : self._pos + self.BLOCK]
            af = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block), format="fltp", layout=self.layout
            )
            af.sample_rate, af.pts = rate, self._pos
            af.time_base = Fraction(1, rate)
            self._encode(self._resampler.resample(af))
            self._pos += block.shape[1]

    def _encode(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            for packet in self._stream.encode(frame):
                self._out.mux(packet)

    def finish(self) -> None:
        """Encode the rest and flush the resampler and the encoder."""
        self.pump(None)
        self._encode(self._resampler.resample(None))
        for packet in self._stream.encode(None):
            self._out.mux(packet)

    def close(self) -> None:
        pass


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
        track: int = 0,
    ) -> None:
        self.src = src
        self.window = window
        self.track = track
        self._in = inp
        self._in_stream = inp.streams.audio[track]
        cc = self._in_stream.codec_context
        name = cc.codec.canonical_name if cc.codec else cc.name  # "mp3", not its decoder
        self.mode = "copy" if _copies(name, out.format.name) else "aac"
        if self.mode == "copy":
            try:
                self._out_stream = out.add_stream_from_template(self._in_stream)
            except ValueError:  # a muxer that does not take this codec after all
                self.mode = "aac"
        if self.mode == "aac":
            log.info("%s: audio codec %s is not storable here; re-encoding to AAC", src, name)
            # PCM in MKV/AVI has no layout (a channel count), which the AAC encoder refused
            layout = cc.layout.name if cc.layout and cc.layout.nb_channels == cc.channels else None
            self._out_stream, self._resampler, self._rate = _aac_track(
                out, cc.sample_rate, cc.channels, layout
            )
            self._next_pts: int | None = None  # the next encoded sample, in 1/rate ticks
        _label(self._out_stream, self._in_stream)
        self._out = out
        self._fed = 0  # packets passed on
        self._packets: Iterator[av.Packet] = iter(clocked(inp, self._in_stream)[0])
        self._pending: av.Packet | None = None
        self._done = False
        self._shift = 0  # ticks added after the source's clock restarts
        self._last_dts: int | None = None  # as demuxed, unshifted
        self._end: int | None = None  # where the latest packet so far ends (shifted)

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
            self._run_on(p)
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

    def _run_on(self, p: av.Packet) -> None:
        """Shift ``p`` past a restart of the source's clock (joined MPEG-TS files), on from where
        the sound so far ends: the muxer refuses time going back. A sound packet's decoding time
        goes back only there (unlike video's, which can glitch by a tick:
        :class:`~vidprov.media.info.Restarts`), so any step back counts."""
        if self._last_dts is not None and self._end is not None and p.dts < self._last_dts:
            self._shift = self._end - p.dts  # on from where the sound so far ends
        self._last_dts = p.dts
        p.pts, p.dts = (p.pts + self._shift if p.pts is not None else None), p.dts + self._shift
        end = p.dts + max(int(p.duration or 0), 1)
        self._end = end if self._end is None else max(self._end, end)

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
            self._fed += 1

    def _mux(self, p: av.Packet) -> None:
        if self.mode == "copy":
            p.stream = self._out_stream
            self._out.mux(p)
            return
        try:
            frames = p.decode()
        except (av.error.FFmpegError, ValueError) as exc:
            log.warning("%s: an audio packet does not decode (%s)", self.src, ffmpeg_reason(exc))
            return
        for frame in frames:
            for rf in self._resampler.resample(frame):
                self._encode(rf, frame)

    def _encode(self, rf: av.AudioFrame, source: av.AudioFrame | None) -> None:
        """Encode ``rf`` at the source's time (kept across the re-encode: a source that starts
        at 2 s kept its video there while its audio, numbered from 0 by the encoder, ran 2 s
        early), counting samples on from there; a gap of :data:`GAP_S` or more in the source is
        kept too (until this version a gap under a tenth of a second was closed, so the sound
        after it ran early by the gap's length). The encoder's priming then comes out before
        that time, where the muxer's edit list hides it (it used to delay the audio by 1024
        samples)."""
        if source is not None and source.pts is not None and source.time_base is not None:
            t = round(float(source.pts * source.time_base) * self._rate)
            if self._next_pts is None or t - self._next_pts >= round(GAP_S * self._rate):
                self._next_pts = t
        if self._next_pts is None:
            self._next_pts = 0
        rf.pts, rf.time_base = self._next_pts, Fraction(1, self._rate)
        self._next_pts += rf.samples
        for op in self._out_stream.encode(rf):
            self._out.mux(op)

    def finish(self) -> None:
        """Mux all remaining audio (and flush the AAC encoder when re-encoding)."""
        self.pump(None)
        if self.mode == "aac":
            for rf in self._resampler.resample(None):
                self._encode(rf, None)
            for op in self._out_stream.encode(None):
                self._out.mux(op)
        # the MP4 and MOV muxers leave out an empty track: say so, as track numbers shift
        if not self._fed and self._out.format.name in ("mp4", "mov"):
            w = self.window
            span = "" if w is None else f" between {w[0]:.3g} and {w[1]:.3g} s"
            log.warning("%s: audio track %d has no sound%s: left out", self.src, self.track, span)

    def close(self) -> None:
        self._in.close()


#: most audio tracks copied from one source (each is read through a demuxer of its own)
MAX_TRACKS = 16
_LABELS = ("language", "handler_name")  # with the title: what tells tracks apart
# ISO 639-2 languages with two codes (B/T): QuickTime's table takes one of each, and FFmpeg's
# MOV muxer wrote "und" for the other (German as "deu", French as "fre"); MP4 takes any code
_MOV_LANGUAGE = {"sqi": "alb", "hye": "arm", "eus": "baq", "mya": "bur", "zho": "chi"}
_MOV_LANGUAGE |= {"cze": "ces", "nld": "dut", "fre": "fra", "kat": "geo", "deu": "ger"}
_MOV_LANGUAGE |= {"ell": "gre", "isl": "ice", "mkd": "mac", "msa": "may", "fas": "per"}
_MOV_LANGUAGE |= {"rum": "ron", "slo": "slk", "bod": "tib", "cym": "wel"}


def _label(dst: av.stream.Stream, src: av.stream.Stream) -> None:
    """Give ``dst`` the language, title and default/dub/commentary flags of ``src``: a film
    with two languages must still say which track is which. FFmpeg reads an MP4 or MOV track's
    title as ``name`` (it was lost) and writes ``title`` to every container; a language with
    two codes is written in the one QuickTime's table has, into MOV (:data:`_MOV_LANGUAGE`)."""
    for key in _LABELS:
        if key in src.metadata:
            dst.metadata[key] = src.metadata[key]
    title = src.metadata.get("title") or src.metadata.get("name")
    if title:
        dst.metadata["title"] = title
    language = dst.metadata.get("language")
    if language in _MOV_LANGUAGE and dst.container.format.name == "mov":
        dst.metadata["language"] = _MOV_LANGUAGE[language]
    dst.disposition = src.disposition


def open_audio(src: Path) -> av.container.InputContainer:
    """``src`` opened to read its sound.

    Raises:
        MediaError: it cannot be opened.
    """
    try:
        return av.open(str(src), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"cannot read audio ({ffmpeg_reason(exc)})", src) from exc


class AudioTracks:
    """Every audio track of a source, each fed by an :class:`AudioCopier` (until this version
    only the first was kept, with a warning: the second language of a film was lost)."""

    def __init__(self, copiers: list[AudioCopier]) -> None:
        self.copiers = copiers
        #: ``"copy"`` when every track is stored as it is, else ``"aac"`` (one or more re-encoded)
        self.mode = "copy" if all(c.mode == "copy" for c in copiers) else "aac"

    @classmethod
    def open(
        cls,
        src: Path,
        out: av.container.OutputContainer,
        window: tuple[float, float] | None = None,
    ) -> AudioTracks | None:
        """The audio tracks of ``src`` (at most :data:`MAX_TRACKS`), or None when it has none.

        ``window`` = ``(start, end)`` seconds copies only that stretch, moved to time 0.

        Raises:
            MediaError: the source cannot be opened.
        """
        first = open_audio(src)
        count = len(first.streams.audio)
        if count == 0:
            first.close()
            return None
        # AVI places sound by its byte count from the start: tracks whose encoders prime
        # differently shifted each other (-79 ms beside an 8 kHz AAC track)
        most = 1 if out.format.name == "avi" else MAX_TRACKS
        if count > most:
            kept = "AVI output keeps the first" if most == 1 else f"the first {most} are kept"
            log.warning("%s: %d audio tracks; %s", src, count, kept)
        copiers: list[AudioCopier] = []
        try:  # each track through a demuxer of its own, to be read at its own pace
            for track in range(min(count, most)):
                inp = first if track == 0 else open_audio(src)
                try:
                    copiers.append(AudioCopier(src, inp, out, window, track))
                except BaseException:
                    inp.close()  # not yet a copier's
                    raise
        except BaseException:
            for c in copiers:
                c.close()
            raise
        return cls(copiers)

    def pump(self, until: float | None) -> None:
        """Mux each track's packets whose time is at most ``until`` seconds (all when None)."""
        for c in self.copiers:
            c.pump(until)

    def finish(self) -> None:
        for c in self.copiers:
            c.finish()

    def close(self) -> None:
        for c in self.copiers:
            c.close()
