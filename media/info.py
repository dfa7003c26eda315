"""Video metadata: what ``vidprov info`` prints."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import av.error

from vidprov.errors import MediaError
from vidprov.media._clock import clocked
from vidprov.media._open import ffmpeg_reason, main_video, open_input

log = logging.getLogger(__name__)
_WARNED: set[str] = set()  # files whose short frames or restarts were reported (once per process)
MAX_FRAME_GAP_S = 86400.0  # frames a day apart: corrupt timestamps, not a slow time-lapse
#: codecs whose decoders show nothing before the first keyframe (a transport stream cut
#: mid-GOP starts with frames that cannot be shown, and FFmpeg's decoders drop them)
KEYFRAME_FIRST = frozenset({"h264", "hevc", "vp8", "vp9", "av1"})


def corrupt_gap(index: int, gap: float) -> str:
    """The message for frame ``index`` coming ``gap`` seconds after the frame before it."""
    return f"frame {index} comes {gap:.3g} s after the one before it (corrupt timestamps)"


def one_timestamp(count: int) -> str:
    """The message for ``count`` frames (more than one) that all have the same timestamp."""
    return f"all {count} frames have the same timestamp (no timing)"


@dataclass(frozen=True)
class VideoInfo:
    """Metadata of a video file.

    ``fps`` is the average frame rate as an exact fraction; ``vfr`` is true when frame durations
    vary. ``frames`` is exact when ``frames_exact`` (counted or read from the index).
    ``rotation`` is the display rotation in degrees counter-clockwise, as the display matrix
    stores it (0-359: a clip tagged ``rotate=90``, turned 90 degrees clockwise for display,
    reads 270); frames are returned as stored.
    """

    path: str
    container: str
    width: int
    height: int
    fps: Fraction
    frames: int
    frames_exact: bool
    duration: float
    rotation: int
    video_codec: str
    pix_fmt: str
    vfr: bool
    has_audio: bool
    audio_codec: str | None
    audio_sample_rate: int | None
    audio_channels: int | None
    bit_rate: int | None
    size_bytes: int
    audio_tracks: int = 0  # how many; the ``audio_*`` fields describe the first

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["fps"] = f"{self.fps.numerator}/{self.fps.denominator}"
        d["fps_float"] = round(float(self.fps), 6)
        d["duration"] = round(self.duration, 6)
        return d


@dataclass(frozen=True)
class Display:
    """How a stream's stored frames are meant to be shown, which a re-encode must carry over.

    ``rotation``: degrees counter-clockwise, as :attr:`VideoInfo.rotation`;
    ``sample_aspect_ratio``: the pixel shape (``None``: square); ``full_range``: samples use
    0-255 rather than the 16-235 of video range; ``colour``: the colour primaries, transfer
    characteristics and YUV matrix, as ISO/IEC 23091-2 (H.273) codes, 2 for unspecified
    (an HDR clip's ``(9, 16, 9)``: BT.2020 primaries, PQ, BT.2020 matrix).
    """

    rotation: int = 0
    sample_aspect_ratio: Fraction | None = None
    full_range: bool = False
    colour: tuple[int, int, int] = (2, 2, 2)


#: YUV matrices the writer can also convert RGB frames with (BT.709, FCC, BT.601 as BT.470BG
#: and SMPTE 170M, SMPTE 240M, BT.2020 non-constant); another is not carried
MATRICES = frozenset({1, 4, 5, 6, 7, 9})


def read_display(path: str | Path) -> Display:
    """The display rotation, pixel aspect ratio, sample range and colour description of
    ``path``'s video stream.

    Raises:
        MediaError: as :func:`probe` for a file that does not open or decode.
    """
    p, container = open_input(path)
    with container:
        vs = main_video(container)
        cc = vs.codec_context
        sar = vs.sample_aspect_ratio or cc.sample_aspect_ratio
        full = cc.color_range == 2 or (cc.pix_fmt or "").startswith("yuvj")
        matrix = cc.colorspace if cc.colorspace in MATRICES else 2  # RGB (0) is converted
        colour = (int(cc.color_primaries or 2), int(cc.color_trc or 2), int(matrix))
        rotation = _first_frames(container, p)[0]
    square = not sar or Fraction(sar) == 1
    return Display(rotation, None if square else Fraction(sar), full, colour)


#: no camera or generator plays back faster: a header rate above it is a time base's
MAX_HEADER_FPS = 1000


def _header_rates(vs: av.video.stream.VideoStream) -> list[Fraction]:
    """The frame rates a stream's header gives: the average, FFmpeg's guess, the base rate."""
    return [Fraction(r) for r in (vs.average_rate, vs.guessed_rate, vs.base_rate) if r]


def _stream_fps(vs: av.video.stream.VideoStream) -> Fraction:
    """The header's frame rate: the average, else FFmpeg's guess, else the base rate, passing
    over one above :data:`MAX_HEADER_FPS` when another is below it (a stream copy of an H.264
    stream whose timing info gives its time base, 1/14336 s, gets "14336 fps" in Matroska)."""
    rates = _header_rates(vs)
    plausible = [r for r in rates if r <= MAX_HEADER_FPS]
    return (plausible or rates or [Fraction(25)])[0]


def _codec_name(cc: av.CodecContext) -> str:
    """The format's name (``av1``), not the decoder's (``libdav1d``)."""
    return getattr(cc.codec, "canonical_name", None) or cc.name


def header_info(path: Path, container: av.container.InputContainer) -> VideoInfo:
    """Metadata from the container headers alone (frame count may be estimated)."""
    vs = main_video(container)
    cc = vs.codec_context
    fps = _stream_fps(vs)
    if vs.duration is not None and vs.time_base is not None:
        duration = float(vs.duration * vs.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    else:
        duration = 0.0
    frames_exact = bool(vs.frames)
    frames = int(vs.frames) if vs.frames else round(duration * float(fps))
    audio = container.streams.audio[0] if container.streams.audio else None
    return VideoInfo(
        path=str(path),
        container=container.format.name,
        width=cc.width,
        height=cc.height,
        fps=fps,
        frames=frames,
        frames_exact=frames_exact,
        duration=duration,
        rotation=0,
        video_codec=_codec_name(cc),
        pix_fmt=cc.pix_fmt or "unknown",
        vfr=False,
        has_audio=audio is not None,
        audio_codec=_codec_name(audio.codec_context) if audio is not None else None,
        audio_sample_rate=audio.codec_context.sample_rate if audio is not None else None,
        audio_channels=audio.codec_context.channels if audio is not None else None,
        audio_tracks=len(container.streams.audio),
        bit_rate=container.bit_rate or None,
        size_bytes=path.stat().st_size,
    )


def probe(path: str | Path) -> VideoInfo:
    """Read a video's metadata, counting its frames exactly by demuxing (no decoding).

    Also decodes the first frame (to read rotation and prove the stream decodes) and detects
    truncation: an index that lists more frames than the file holds.

    Raises:
        MediaError: missing, empty, not a video, no video stream, absurd dimensions,
            undecodable, or truncated.
    """
    p, container = open_input(path)
    with container:
        info = header_info(p, container)
        vs = main_video(container)
        time_base = vs.time_base  # read now: the stream's memory is freed with the container
        rates = _header_rates(vs)
        # a container-wide duration (Matroska) also spans an audio track that outlasts the video
        audio_tail = vs.duration is None and info.has_audio
        fmt = container.format.name.split(",")[0]
        # with B-frames a packet's duration is its gap in decoding order (a Matroska copy of
        # an MP4 keeps it too); an MP4 track's own end (its first shown time plus its length)
        # says how long the last frame is shown (a held last frame read 4 s of a 6.97 s clip)
        track_end = (vs.start_time or 0) + vs.duration if fmt == "mov" and vs.duration else None
        step = frame_step(info.fps, time_base)
        count, first, last, last_duration = 0, None, None, 0
        reordered = False  # B-frames: a packet's duration is then its gap in decoding order
        gaps = _GapCheck(p, time_base)
        index = IndexCheck(p, vs, container.format.name)
        restarts = Restarts(step)
        leading = 0 if vs.codec_context.name in KEYFRAME_FIRST else None
        lead = _LeadIn()
        try:
            demuxed, clock = clocked(container, vs)
            packets = WholePackets(demuxed, p)
            for packet in packets:
                index.add(packet)
                if leading is not None and packet.is_keyframe and packet.size:
                    lead.start(packet, leading)  # decoding starts here (shown or not)
                    leading = None
                # is_discard: before an edit list's start, never shown
                if packet.size == 0 or packet.is_discard:
                    continue
                if leading is not None:  # before the first keyframe: does not decode
                    leading += 1
                    continue
                lead.add(packet)
                ts = restarts.apply(packet)
                if ts is None:
                    continue
                count += 1
                gaps.push(ts)
                first = ts if first is None else min(first, ts)
                reordered = reordered or (last is not None and ts < last)
                if last is None or ts > last:
                    last, last_duration = ts, int(packet.duration or 0)
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"truncated or corrupt video data ({ffmpeg_reason(exc)})", p) from exc
        if count == 0:
            if leading:
                raise MediaError(
                    f"video stream holds no keyframe ({leading} frames, none shown)", p
                )
            raise MediaError("video stream holds no frames", p)
        gaps.finish()
        if count > 1 and first == last:
            raise MediaError(one_timestamp(count), p)
        index.check()
        packets.report()
        jumps = clock.jumps if clock is not None else 0
        if jumps:
            _warn_once(
                f"jump:{p}",
                "%s: the clock jumps on %d time(s) (joined recordings?): times run on across "
                "the jumps",
                p,
                jumps,
            )
        if restarts.count:
            _warn_once(
                f"restart:{p}",
                "%s: timestamps restart %d time(s) (joined streams?): times run on across them",
                p,
                restarts.count,
            )
        try:
            container.seek(0)
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"video stream does not decode ({ffmpeg_reason(exc)})", p) from exc
        rotation, shown_early, first_shown = _first_frames(container, p, lead)
        if shown_early < lead.early:  # pictures led by the first keyframe that need the frames
            count -= lead.early - shown_early  # before it (open GOP): the decoder drops them
            first = first_shown
        _report_leading(p, lead.before + lead.early - shown_early)
    vfr = _is_vfr(gaps.min_delta, gaps.max_delta)
    duration = info.duration
    if first is not None and last is not None and time_base is not None and count > 1:
        # the last frame lasts its packet's duration, or else the shortest gap between frames:
        # the mean gap doubled a sparse clip's length (frames at 0 and 10 s: 20 s)
        if reordered:
            # only a hold clearly longer than a frame: an edit list that starts inside a
            # frame leaves a track a fraction of a frame longer than its whole frames; a cut
            # fragmented MP4's last fragment still lists the frames it lost
            whole = track_end is not None and not restarts.count + jumps and not packets.cut
            held = track_end - last if whole else 0
            last_duration = held if held >= 2 * (gaps.min_delta or step) else 0
        tail = last_duration or gaps.min_delta or step
        span = float((last - first + tail) * time_base)
        end = float((last + tail) * time_base)  # headers measure from 0, whatever the start
        # a header's length spans the jumps that the clock took out
        long = duration > max(span, end) + max(1.0, 0.5 * span)
        truncated = long and not audio_tail and not jumps
        if truncated:
            _warn_once(
                str(p),
                "%s: the header says %.2f s but the frames end at %.2f s (truncated?)",
                p,
                duration,
                span,
            )
        duration = span  # the frames' own timing: not an audio tail, a start offset, nor
        # the frames an edit list drops
    fps = info.fps
    if duration > 0 and count > 1:
        rate = count / duration  # a slow time-lapse's (a frame an hour) must not round to 0
        if (
            not vfr
            and time_base is not None
            and first is not None
            and last is not None
            and last > first
        ):
            # a steady rate is the frames' spacing: a last frame shown 3 s made 30 fps 17.2
            rate = (count - 1) / float((last - first) * time_base)
        measured = Fraction(rate).limit_denominator(max(1001, round(1001 / rate)))
        if vfr:
            fps = measured
        elif measured > 0 and not 0.75 < float(fps / measured) < 1.33:
            # a header rate far from the frames' own (an H.264 stream whose timing info gives
            # its time base, 14336 "fps", carried into a Matroska header by a stream copy):
            # another of the header's rates that agrees with the frames, else the frames'
            fps = next((r for r in rates if 0.99 < float(r / measured) < 1.01), measured)
    return replace(
        info,
        frames=count,
        frames_exact=True,
        rotation=rotation,
        vfr=vfr,
        duration=duration,
        fps=fps,
    )


class _LeadIn:
    """What comes before and just after the first keyframe of a stream that must start at one
    (:data:`KEYFRAME_FIRST`): the packets before it (``before``: never shown) and those after it
    in decoding order that are shown before it (``early``), up to the next keyframe. A stream
    cut at an open GOP's keyframe (an HEVC CRA, an x264 open-GOP I frame) starts with pictures
    that refer to frames before the cut; the decoder drops them (it showed 150 frames where 154
    were counted), but leading pictures that refer to nothing before the keyframe decode, so
    :func:`_first_frames` asks the decoder how many of them it shows."""

    def __init__(self) -> None:
        self.before, self.early = 0, 0
        self.key_pts: int | None = None
        self._open = False

    def start(self, key: av.Packet, before: int) -> None:
        self.before, self.key_pts, self._open = before, key.pts, key.pts is not None

    def add(self, packet: av.Packet) -> None:
        if not self._open or packet.pts is None or packet.pts == self.key_pts:
            return
        if packet.is_keyframe:
            self._open = False
        elif self.key_pts is not None and packet.pts < self.key_pts:
            self.early += 1


def _first_frames(
    container: av.container.InputContainer, path: Path, lead: _LeadIn | None = None
) -> tuple[int, int, int | None]:
    """The first frame's display rotation (decoding it proves the stream decodes), how many of
    ``lead.early`` pictures the decoder shows (all of them when it shows no frame), and the
    first shown frame's time.

    Raises:
        MediaError: the stream does not decode.
    """
    key = lead.key_pts if lead is not None else None
    early = lead.early if lead is not None and key is not None else 0
    rotation, shown, first = 0, 0, None
    try:
        for frame in container.decode(main_video(container)):
            if first is None:
                rotation, first = int(getattr(frame, "rotation", 0) or 0) % 360, frame.pts
            if key is None or not early or frame.pts is None or frame.pts >= key:
                break
            shown += 1
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"video stream does not decode ({ffmpeg_reason(exc)})", path) from exc
    return rotation, (min(shown, early) if first is not None else early), first


def _report_leading(p: Path, count: int) -> None:
    if count:
        _warn_once(
            f"leading:{p}",
            "%s: %d frame(s) before the first keyframe cannot be shown (cut mid-GOP?)",
            p,
            count,
        )


class WholePackets:
    """``packets`` without a last one the demuxer flags as cut short (a file that ends inside
    a frame: a fragmented MP4 has no index to say so). Fed to a threaded decoder, that packet
    lost the frames still in flight with it, silently (a cut fragmented MP4 read 102 of its 104
    whole frames); one flagged inside the stream, with data after it, is kept. ``cut`` tells,
    once iterated, whether one was left out; :meth:`report` warns of it."""

    def __init__(self, packets: Iterable[av.Packet], path: Path) -> None:
        self.packets, self.path, self.cut = packets, path, False

    def __iter__(self) -> Iterator[av.Packet]:
        held: av.Packet | None = None
        empty: list[av.Packet] = []  # packets without data after it (AVI's skipped frames)
        for packet in self.packets:
            if held is not None:
                if not packet.size:
                    empty.append(packet)  # the end of the stream, or data may follow
                    continue
                yield held
                yield from empty
                held, empty = None, []
            if packet.size and packet.is_corrupt:
                held = packet
                continue
            yield packet
        if held is not None:
            self.cut = True
        yield from empty

    def report(self) -> None:
        """Warn (once per file) that the last frame was left out, if it was: called once the
        file is known not to be truncated, which is the error to report then (the warning
        came first, a second line of stderr before it)."""
        if self.cut:
            _cut_short(self.path)


def _cut_short(path: Path) -> None:
    _warn_once(
        f"cut:{path}", "%s: the file ends inside a frame (cut short?): that frame is left out", path
    )


def _warn_once(key: str, message: str, *args: object) -> None:
    """Log a warning about a file once per process (scan probes a file twice, and reads it)."""
    if key not in _WARNED:
        _WARNED.add(key)
        log.warning(message, *args)


class IndexCheck:
    """Is the file shorter than its index says? Counts a stream's packets (empty ones that carry
    a timestamp too) against the frames its index lists. AVI lists a skipped frame as an empty
    chunk that the demuxer drops, so there the file is whole when its last packet ends at or
    past the last listed frame slot (AVI timestamps count slots)."""

    def __init__(self, path: Path, stream: av.video.stream.VideoStream, container: str) -> None:
        self.path, self.listed = path, int(stream.frames or 0)
        self.avi = container.split(",")[0] == "avi"
        self.count, self.end, self.step = 0, 0, 1
        self.last_dts: int | None = None

    def add(self, packet: av.Packet) -> None:
        ts = packet.pts if packet.pts is not None else packet.dts
        if not packet.size and ts is None:  # the demuxer's end-of-stream marker
            return
        self.count += 1
        if ts is not None:
            self.end = max(self.end, ts + max(int(packet.duration or 0), 1))
        if packet.dts is not None:  # a frame's width in slots, when a writer left them wide
            if self.last_dts is not None:
                self.step = max(self.step, packet.dts - self.last_dts)
            self.last_dts = packet.dts

    def check(self) -> None:
        """Raises:
        MediaError: fewer packets than the index lists (truncated).
        """
        slots = self.end + self.step - 1  # where the last frame's slot ends
        if not self.listed or self.count >= self.listed or (self.avi and slots >= self.listed):
            return
        raise MediaError(
            f"truncated: the index lists {self.listed} frames, the file holds {self.count}",
            self.path,
        )


class _GapCheck:
    """Finds frames a day or more apart in presentation order, from timestamps that arrive in
    decoding order (reordered by at most ``depth`` frames), in constant memory."""

    def __init__(self, path: Path, time_base: Fraction | None, depth: int = 32) -> None:
        self.path, self.time_base, self.depth = path, time_base, depth
        self.heap: list[int] = []
        self.last: int | None = None
        self.index = 0
        self.min_delta: int | None = None  # shortest and longest positive gap, in ticks
        self.max_delta: int | None = None

    def push(self, ts: int) -> None:
        heapq.heappush(self.heap, ts)
        if len(self.heap) > self.depth:
            self._next(heapq.heappop(self.heap))

    def finish(self) -> None:
        while self.heap:
            self._next(heapq.heappop(self.heap))

    def _next(self, ts: int) -> None:
        if self.last is not None and self.time_base is not None:
            gap = float((ts - self.last) * self.time_base)
            if gap >= MAX_FRAME_GAP_S:
                raise MediaError(corrupt_gap(self.index, gap), self.path)
        if self.last is not None and ts > self.last:
            delta = ts - self.last
            self.min_delta = delta if self.min_delta is None else min(self.min_delta, delta)
            self.max_delta = delta if self.max_delta is None else max(self.max_delta, delta)
        self.last, self.index = ts, self.index + 1


def _is_vfr(low: int | None, high: int | None) -> bool:
    """Gaps between frames (presentation order) that differ by more than 5% (rounding jitter
    of one tick is CFR)."""
    if low is None or high is None:
        return False
    return high - low > max(1, 0.05 * high)


def frame_step(fps: Fraction, time_base: Fraction | None) -> int:
    """One nominal frame (1/fps) in ``time_base`` ticks, at least 1."""
    if time_base is None or not fps:
        return 1
    return max(1, round(1 / (fps * time_base)))


class Restarts:
    """Timestamps that run on across a restart: a stream whose decoding timestamps go back by
    a frame or more while its presentation time goes back too (MPEG-TS files joined with
    ``cat``, a wrapped 33-bit clock) continues one frame after the latest presentation time
    before it, as players do, instead of folding its frames back onto the start (the sampler
    skipped them, they stopped the watermark's read, and a re-encode failed on the audio).
    Pieces shorter than a second used to go back by less than a 1 s threshold and fold; a
    decoding time a tick or two out of order (a muxer's glitch) is no restart. One instance
    per stream, fed every packet in demuxing order."""

    def __init__(self, step: int) -> None:
        self.step, self.shift, self.count = step, 0, 0
        self.last_dts: int | None = None  # as demuxed, unshifted
        self.top: int | None = None  # latest presentation time so far (shifted)

    def apply(self, packet: av.Packet) -> int | None:
        """Shift ``packet``'s timestamps past any restart, in place; its presentation time in
        ticks (the decoding time when it has none), or None when it has neither."""
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None:
            return None
        if packet.dts is not None:
            last, top = self.last_dts, self.top
            back = last is not None and packet.dts <= last - self.step
            if back and top is not None and ts + self.shift < top:
                self.shift = top + self.step - ts
                self.count += 1
            self.last_dts = packet.dts
        if self.shift:
            packet.dts = packet.dts + self.shift if packet.dts is not None else None
            packet.pts = packet.pts + self.shift if packet.pts is not None else None
        ts += self.shift
        self.top = ts if self.top is None else max(self.top, ts)
        return ts
