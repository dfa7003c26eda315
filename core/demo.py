"""The built-in end-to-end job behind ``make demo``.

Until the generator lands, it is the media round trip: synthesise a clip with sound, re-encode it
through the streaming reader/writer, and report what was preserved.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vidprov.media import make_clip, transcode
from vidprov.media.transcode import TranscodeResult


@dataclass(frozen=True)
class DemoResult:
    """Paths written and the round-trip report."""

    source: str
    output: str
    roundtrip: TranscodeResult

    @property
    def ok(self) -> bool:
        return all(self.roundtrip.preserved.values())

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "source": self.source,
            "output": self.output,
            "preserved": self.roundtrip.preserved,
            "audio": self.roundtrip.audio,
            "source_info": self.roundtrip.source.to_dict(),
            "output_info": self.roundtrip.output.to_dict(),
        }


def run_demo(workdir: str | Path) -> DemoResult:
    """Make a 2 s 320x240 clip with audio in ``workdir``, re-encode it, and compare.

    Raises:
        MediaError: the folder cannot be written.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    src = make_clip(
        workdir / "demo-source.mp4", seconds=2.0, width=320, height=240, fps=30, audio=True
    )
    out = workdir / "demo-roundtrip.mp4"
    result = transcode(src, out)
    return DemoResult(source=str(src), output=str(out), roundtrip=result)
