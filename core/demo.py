"""The built-in end-to-end job behind ``make demo``: the platform's main job.

Generate a clip with the default tiny preset (a smoke-test model built in-process, no
downloads), which watermarks, signs and stores it; then verify it and detect its watermark as a
verifier would, and scan it as a trust-and-safety team would (manifest + watermark + the
shipped classifier, fused into one verdict). Keys live in the demo folder (``<out>/home``),
never in the user's own home.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vidprov.detector import Verdict, scan_file
from vidprov.generator import DEFAULT_PRESET, GenerationResult, SignedGenerator
from vidprov.keys import WATERMARK_KEY_FILE, init_keys, load_watermark_key
from vidprov.provenance import ManifestStore, PkiPaths, VerifyReport, load_signer, verify_file

DEMO_PROMPT = "a red fox running through fresh snow"


@dataclass(frozen=True)
class DemoResult:
    """The generation report, the verify report (C2PA + watermark) and the scan verdict of
    its clip."""

    generation: GenerationResult
    verify: VerifyReport
    scan: Verdict

    @property
    def ok(self) -> bool:
        wm = self.verify.watermark
        return (
            self.verify.c2pa.state == "trusted"
            and wm is not None
            and wm.detected
            and wm.payload == self.generation.clips[0].payload
            and self.scan.label == "ai"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "generation": self.generation.to_dict(),
            "verify": self.verify.to_dict(),
            "scan": self.scan.to_dict(),
        }


def run_demo(workdir: str | Path, model: str = DEFAULT_PRESET, seed: int = 3) -> DemoResult:
    """Generate, sign, verify and scan one clip in ``workdir``.

    Raises:
        MediaError: the folder cannot be written. GeneratorError: the model cannot run.
        DetectorError: the shipped detector model is missing or corrupt.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    if not (home / WATERMARK_KEY_FILE).exists():
        init_keys(home, force=True)
    pki = PkiPaths.under(home)
    key = load_watermark_key(home / WATERMARK_KEY_FILE)
    store = ManifestStore(home / "manifests.sqlite")
    gen = SignedGenerator(
        model, key=key, signer=load_signer(pki.signer_chain, pki.signer_key), store=store
    )
    result = gen.generate(DEMO_PROMPT, workdir / "demo-generated.mp4", seed=seed)
    report = verify_file(result.clips[0].path, pki.trust_anchors, key=key, store=store)
    verdict = scan_file(result.clips[0].path, trust_anchors=pki.trust_anchors, key=key)
    return DemoResult(result, report, verdict)
