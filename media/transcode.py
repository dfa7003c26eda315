"""Re-encode a video to H.264 MP4, keeping frames, timing and audio."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vidprov.media.info import VideoInfo, probe
from vidprov.media.reader import VideoReader
from vidprov.media.writer import EncodeOptions, VideoWriter


@dataclass(frozen=True)
class TranscodeResult:
    """Input and output metadata of a re-encode, and how the audio was carried."""

    source: VideoInfo
    output: VideoInfo
    audio: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source.to_dict(),
            "output": self.output.to_dict(),
            "audio": self.audio,
        }

    @property
    def preserved(self) -> dict[str, bool]:
        """Which properties survived: frames, fps, size, audio."""
        s, o = self.source, self.output
        return {
            "frames": s.frames == o.frames,
            "fps": s.fps == o.fps,
            "size": (s.width, s.height) == (o.width, o.height),
            "audio": s.has_audio == o.has_audio,
        }


def transcode(
    src: str | Path,
    dst: str | Path,
    options: EncodeOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> TranscodeResult:
    """Decode ``src`` frame by frame and encode it to ``dst`` (atomic), copying its audio;
    ``progress(1)`` is called per frame written (what it raises stops the work, leaving no
    output).

    Raises:
        MediaError: unreadable input or unwritable output.
    """
    with VideoReader(src) as reader, VideoWriter.like(reader, dst, options) as writer:
        for frame in reader.av_frames():
            writer.write(frame)
            if progress is not None:
                progress(1)
        audio = writer.audio_mode
    return TranscodeResult(source=probe(src), output=probe(dst), audio=audio)


__all__ = ["TranscodeResult", "transcode"]
