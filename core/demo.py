"""The built-in end-to-end job behind ``make demo``.

Until the generator lands: synthesise a clip with sound, check the media round trip, then
watermark it, sign it with a C2PA manifest and verify it, as a platform would before release.
Keys live in the demo folder (``<out>/home``), never in the user's own vidprov home.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vidprov.keys import WATERMARK_KEY_FILE, init_keys, load_watermark_key
from vidprov.media import make_clip, transcode
from vidprov.media.transcode import TranscodeResult
from vidprov.provenance import (
    ManifestStore,
    PkiPaths,
    SignOptions,
    SignResult,
    VerifyReport,
    load_signer,
    sign_file,
    verify_file,
)
from vidprov.watermark import embed_file
from vidprov.watermark.results import EmbedResult


@dataclass(frozen=True)
class DemoResult:
    """Paths written and each step's report."""

    source: str
    output: str
    roundtrip: TranscodeResult
    watermark: EmbedResult
    signed: SignResult
    verify: VerifyReport

    @property
    def ok(self) -> bool:
        wm = self.verify.watermark
        return (
            all(self.roundtrip.preserved.values())
            and self.verify.c2pa.state == "trusted"
            and wm is not None
            and wm.payload == self.watermark.payload
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "source": self.source,
            "output": self.output,
            "preserved": self.roundtrip.preserved,
            "audio": self.roundtrip.audio,
            "watermark": self.watermark.to_dict(),
            "signed": self.signed.to_dict(),
            "verify": self.verify.to_dict(),
        }


def run_demo(workdir: str | Path) -> DemoResult:
    """Make a 4 s 640x360 clip with audio in ``workdir``, round-trip it, watermark, sign and
    verify it.

    Raises:
        MediaError: the folder cannot be written.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    if not (home / WATERMARK_KEY_FILE).exists():
        init_keys(home, force=True)
    src = make_clip(
        workdir / "demo-source.mp4", seconds=4.0, width=640, height=360, fps=30, audio=True
    )
    out = workdir / "demo-roundtrip.mp4"
    result = transcode(src, out)
    key = load_watermark_key(home / WATERMARK_KEY_FILE)
    marked = embed_file(src, workdir / "demo-watermarked.mp4", key)
    pki = PkiPaths.under(home)
    store = ManifestStore(home / "manifests.sqlite")
    signed = sign_file(
        marked.output,
        workdir / "demo-signed.mp4",
        SignOptions(title="vidprov demo clip", model="vidprov synthetic test pattern"),
        load_signer(pki.signer_chain, pki.signer_key),
        key=key,
        store=store,
    )
    report = verify_file(signed.output, pki.trust_anchors, key=key, store=store)
    return DemoResult(str(src), str(out), result, marked, signed, report)
