"""One clock for a whole file whose format lets time jump (MPEG-TS and MPEG-PS recordings joined
with ``cat``): every reader of the file (probe, the frame reader, each audio copy) feeds its
audio and video packets, in demuxing order, to a :class:`FileClock` of its own, and so all of
them take the same jumps out at the same packets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import av

#: FFmpeg's AVFMT_TS_DISCONT: the format's timestamps may jump (MPEG-TS, MPEG-PS, HLS)
TS_DISCONT = 0x0200
#: seconds: a file's clock that runs on by more than this between two packets (of any of its
#: audio and video streams) jumped; players play on through it, as FFmpeg does
JUMP_S = 10


@dataclass
class _Track:
    """What a stream's time has reached so far (seconds, on the file's clock)."""

    tb: float  # seconds a tick
    top: float | None = None  # the latest presentation time
    dts: float | None = None  # the last decoding time
    step: float = 0.0  # a packet's length: its duration, else the least decoding step
    offset: float = 0.0  # seconds added to this stream's timestamps
    jumps: int = 0  # the file's jumps this stream has taken

    @property
    def next(self) -> float | None:
        return None if self.top is None else self.top + self.step

    def seen(self, shown: float, decoded: float, duration: float) -> None:
        back = self.dts is not None and decoded < self.dts - max(self.step, 1e-3)
        if duration:
            self.step = duration
        elif self.dts is not None and decoded > self.dts:
            gap = decoded - self.dts
            self.step = min(self.step, gap) if self.step else gap
        self.dts = decoded
        # after a restart (a piece whose clock is behind), its time runs from there: a jump
        # after it goes on from the restarted piece (it went on from the highest time before
        # it, and the restart's own shift put the piece after the jump 50 s late)
        self.top = shown if self.top is None or back else max(self.top, shown)


class FileClock:
    """Takes forward jumps out of a file's clock. A jump is a packet whose decoding or
    presentation time is more than :data:`JUMP_S` past the last packet of every audio and
    video stream (its own too; an MPEG-PS demuxer makes up a decoding time that runs on across
    the jump): a clip joined from recordings made at different times (their clocks 100 s apart
    read as a 98 s gap), or a piece whose clock went back far enough to be taken for a wrapped
    33-bit clock (26.5 hours on). A gap in the picture while the sound runs on is no jump: it
    is measured against the sound.

    Each stream takes a jump at its own first packet past it: the first stream to get there
    goes on from where its own time ran to, and sets the file's offset; each other stream
    takes that offset, fitted to its own run where it lands within one of its packets of it
    (the pieces' streams start a few milliseconds apart). A stream that missed jumps (absent
    from a piece between) lands beside the others instead, as a jump of its own. A stream's
    packets from before the jump can come after another stream's first packet past it (a
    transport stream hands over a video packet only once the next one starts): they keep
    their own time. A stream's first packet is no jump of its own: where a stream starts is
    its own (sound timed 20 s from its picture all along stays so); it takes a jump the file
    has taken when that lands it beside the others. Backward steps are left to
    :class:`~vidprov.media.info.Restarts`, per stream. Times are float seconds, shifts whole
    ticks of each stream."""

    def __init__(self) -> None:
        self.jumps = 0
        self._offset = 0.0  # what the latest jump added, in seconds
        self._tracks: dict[int, _Track] = {}

    def apply(self, packet: av.Packet) -> None:
        """Move ``packet``'s timestamps onto the file's clock, in place."""
        dts, pts = packet.dts, packet.pts
        ts = dts if dts is not None else pts
        if ts is None or not packet.size:
            return
        index = packet.stream.index
        track = self._tracks.get(index)
        if track is None:
            tb = packet.time_base
            if tb is None:
                return
            track = self._tracks[index] = _Track(float(tb))
        shown = pts if pts is not None else ts
        t, at = ts * track.tb + track.offset, shown * track.tb + track.offset
        latest = self._latest()
        # by either time: an MPEG-PS demuxer makes up a decoding time that runs on
        past = latest is not None and max(t, at) - latest > JUMP_S
        miss = 0.0  # seconds this packet lands past where it should
        if past:
            moved = ts * track.tb + self._offset
            if track.jumps < self.jumps and abs(moved - latest) <= JUMP_S:
                # a jump the file took here already (or before the stream began): its offset,
                # fitted to the stream's own run where that is within one of its packets
                track.offset, track.jumps = self._offset, self.jumps
                t, at = moved, shown * track.tb + self._offset
                if track.next is not None and abs(at - track.next) < track.step:
                    miss = at - track.next
            elif track.next is not None:  # the first stream past it: on from where its own
                # time ran to, or beside the others when it missed jumps (absent from a piece)
                miss = at - (track.next if track.jumps == self.jumps else latest + (at - t))
                self.jumps += 1
                self._offset, track.jumps = track.offset - miss, self.jumps
            # else a stream's first packet: where it starts is its own
        track.offset -= miss
        t, at = t - miss, at - miss
        shift = round(track.offset / track.tb)
        if shift:
            packet.dts = dts + shift if dts is not None else None
            packet.pts = pts + shift if pts is not None else None
        track.seen(at, t, (packet.duration or 0) * track.tb)

    def _latest(self) -> float | None:
        return max((k.dts for k in self._tracks.values() if k.dts is not None), default=None)


def clocked(
    container: av.container.InputContainer, stream: av.stream.Stream
) -> tuple[Iterator[av.Packet], FileClock | None]:
    """``stream``'s packets, on the file's clock where its format lets time jump and it has
    two or more audio and video streams (all of them are demuxed then, to measure it), and
    that clock (None where it cannot jump)."""
    timed = [s for s in container.streams if s.type in ("video", "audio")]
    if not container.format.flags & TS_DISCONT or len(timed) < 2:
        # one stream alone cannot tell a jump from a gap (a time-lapse, a frame every 15 s)
        return container.demux(stream), None
    clock = FileClock()

    def packets() -> Iterator[av.Packet]:
        for packet in container.demux(timed):
            clock.apply(packet)
            if packet.stream.index == stream.index:
                yield packet

    return packets(), clock
