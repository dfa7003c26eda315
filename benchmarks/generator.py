"""Generator benchmark: generate -> watermark -> encode -> sign, per clip, and the share of the
time spent in watermark + sign.

Usage: .venv/bin/python benchmarks/generator.py [--presets a,b] [--reps N] [--gpu] [--gpu-steps S]
Writes benchmarks/results/generator.{json,md}.

CPU part: every tiny preset (random weights, built in-process) end to end at its default size
(256x256, 49 frames, 4 steps), one clip per call; the first call per preset is a warm-up and is
not counted. "watermark" is embed + H.264 encode + the read-back and CRF 28 durability check
(with any strength escalation); "sign" is C2PA signing + the manifest store write.

GPU part (``--gpu``, needs CUDA): a full-size Wan 2.1 T2V 1.3B configuration with random weights
in bf16 (transformer 30 layers x 1536, UMT5-XXL-sized text encoder, Wan VAE) at 480x832x81,
50 steps, through the same SignedGenerator: seconds per step, total, and watermark + sign as a
share of generation time. Without CUDA the results say plainly that no GPU was available.
``--gpu-smoke`` runs that code path on a scaled-down config on whatever device there is, to
check the script; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import RESULTS, write_results

from vidprov.generator import SignedGenerator, list_presets
from vidprov.keys import init_keys, load_watermark_key
from vidprov.provenance import ManifestStore, PkiPaths, load_signer, verify_file

PROMPT = "a red fox running through fresh snow, camera shot"


def _med(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def _context(home: Path) -> dict[str, Any]:
    pki = PkiPaths.under(home)
    return {
        "key": load_watermark_key(home / "watermark.key"),
        "signer": load_signer(pki.signer_chain, pki.signer_key),
        "store": ManifestStore(home / "manifests.sqlite"),
        "anchors": pki.trust_anchors,
    }


def cpu_part(presets: list[str], reps: int, work: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    import torch

    out: dict[str, Any] = {}
    for name in presets:
        t0 = time.perf_counter()
        g = SignedGenerator(
            name, key=ctx["key"], signer=ctx["signer"], store=ctx["store"], device="cpu"
        )
        build = time.perf_counter() - t0
        runs = []
        for rep in range(reps + 1):  # the first is a warm-up
            path = work / f"{name}-{rep}.mp4"
            t0 = time.perf_counter()
            r = g.generate(PROMPT, path, seed=rep)
            total = time.perf_counter() - t0
            c = r.clips[0]
            if rep == 0:
                v = verify_file(path, ctx["anchors"], key=ctx["key"], store=ctx["store"])
                checked = {
                    "c2pa": v.c2pa.state,
                    "watermark_detected": bool(v.watermark and v.watermark.detected),
                    "payload_matches": bool(v.watermark and v.watermark.payload == c.payload),
                }
                size = f"{c.width}x{c.height}x{c.frames}"
                audio = (
                    f"{c.audio_sample_rate} Hz x{c.audio_channels}" if c.audio_sample_rate else None
                )
                continue
            t = r.timings
            runs.append(
                {
                    "total": total,
                    "generate": t["generate"],
                    "watermark": t["watermark_encode"],
                    "sign": t["sign"],
                    "strength": c.watermark_strength,
                }
            )
            path.unlink()
        shares = [(x["watermark"] + x["sign"]) / x["total"] for x in runs]
        out[name] = {
            "size": size,
            "steps": g.preset.steps,
            "audio": audio,
            "build_s": round(build, 3),
            "reps": reps,
            "total_s": _med([x["total"] for x in runs]),
            "generate_s": _med([x["generate"] for x in runs]),
            "watermark_s": _med([x["watermark"] for x in runs]),
            "sign_s": _med([x["sign"] for x in runs]),
            "watermark_sign_share": _med(shares),
            "total_s_runs": [round(x["total"], 3) for x in runs],
            "strengths": sorted({x["strength"] for x in runs}),
            "checked": checked,
        }
        print(name, out[name], file=sys.stderr, flush=True)
        del g
    out["torch_threads"] = torch.get_num_threads()
    return out


def wan_pipeline(device: str, dtype: Any, smoke: bool = False) -> Any:
    """A Wan 2.1 T2V 1.3B-shaped pipeline with random weights (``smoke``: scaled down)."""
    import torch
    from diffusers import (
        AutoencoderKLWan,
        UniPCMultistepScheduler,
        WanPipeline,
        WanTransformer3DModel,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    from vidprov.generator.tiny import WORDS, tokenizer

    torch.manual_seed(0)
    text = UMT5Config(  # UMT5-XXL encoder shape
        vocab_size=len(WORDS) + 3,  # the real one has 256,384 ids; the in-memory vocab has fewer
        d_model=4096 if not smoke else 64,
        d_kv=64 if not smoke else 16,
        d_ff=10240 if not smoke else 64,
        num_layers=24 if not smoke else 1,
        num_heads=64 if not smoke else 4,
        feed_forward_proj="gated-gelu",
        relative_attention_num_buckets=32,
    )
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # build in bf16 directly (no fp32 copy of the weights)
    try:
        with torch.device(device):
            text_encoder = UMT5EncoderModel(text).eval()
            transformer = WanTransformer3DModel(
                patch_size=(1, 2, 2),
                num_attention_heads=12 if not smoke else 2,
                attention_head_dim=128 if not smoke else 16,
                in_channels=16,
                out_channels=16,
                text_dim=text.d_model,
                freq_dim=256,
                ffn_dim=8960 if not smoke else 64,
                num_layers=30 if not smoke else 1,
                cross_attn_norm=True,
                qk_norm="rms_norm_across_heads",
                eps=1e-6,
                rope_max_seq_len=1024,
            )
            vae = AutoencoderKLWan() if not smoke else AutoencoderKLWan(base_dim=8)
    finally:
        torch.set_default_dtype(previous)
    pipe = WanPipeline(
        tokenizer=tokenizer(),
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        ),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def gpu_skipped() -> dict[str, Any]:
    import torch

    if torch.cuda.is_available():
        return {"available": None, "note": "GPU part not run (pass --gpu)"}
    return {"available": False, "note": "no GPU available: CUDA not found on this machine"}


def gpu_part(steps: int, work: Path, ctx: dict[str, Any], smoke: bool) -> dict[str, Any]:
    import torch

    if not smoke and not torch.cuda.is_available():
        return {"available": False, "note": "no GPU available: CUDA not found on this machine"}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16
    size = {"height": 480, "width": 832, "frames": 81} if not smoke else {}
    if smoke:
        size = {"height": 128, "width": 128, "frames": 17}
    t0 = time.perf_counter()
    pipe = wan_pipeline(device, dtype, smoke)
    build = time.perf_counter() - t0
    params = sum(p.numel() for p in pipe.transformer.parameters())
    g = SignedGenerator(
        "wan-2.1-t2v-1.3b", pipe, key=ctx["key"], signer=ctx["signer"], store=ctx["store"]
    )
    stamps: list[float] = []

    def tick(n: int) -> None:
        if device == "cuda":
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    g.generate(PROMPT, work / "warmup.mp4", steps=2, **size)  # kernels, allocator, autotune
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    stamps.clear()
    t0 = time.perf_counter()
    r = g.generate(PROMPT, work / "wan.mp4", steps=steps, progress=tick, **size)
    total = time.perf_counter() - t0
    per_step = [b - a for a, b in zip([t0, *stamps], stamps, strict=False)][1:]  # first: +text
    t = r.timings
    v = verify_file(work / "wan.mp4", ctx["anchors"], key=ctx["key"], store=ctx["store"])
    c = r.clips[0]
    return {
        "available": True,
        "smoke": smoke,
        "device": torch.cuda.get_device_name() if device == "cuda" else device,
        "dtype": "bfloat16",
        "transformer_params_m": round(params / 1e6, 2),
        "size": f"{c.width}x{c.height}x{c.frames}",
        "steps": steps,
        "guidance_scale": 5.0,
        "build_s": round(build, 1),
        "seconds_per_step": _med(per_step) if per_step else None,
        "generate_s": round(t["generate"], 2),
        "watermark_s": round(t["watermark_encode"], 2),
        "sign_s": round(t["sign"], 3),
        "total_s": round(total, 2),
        "watermark_sign_share_of_generate": round(
            (t["watermark_encode"] + t["sign"]) / t["generate"], 4
        ),
        "watermark_strength": c.watermark_strength,
        "peak_gpu_mem_gb": (
            round(torch.cuda.max_memory_allocated() / 2**30, 1) if device == "cuda" else None
        ),
        "checked": {
            "c2pa": v.c2pa.state,
            "watermark_detected": bool(v.watermark and v.watermark.detected),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    tiny = [p.name for p in list_presets() if p.builder is not None]
    ap.add_argument("--presets", default=",".join(tiny), help="comma-separated tiny presets")
    ap.add_argument("--reps", type=int, default=3, help="counted runs per preset (+1 warm-up)")
    ap.add_argument("--gpu", action="store_true", help="also run the full-size Wan 1.3B part")
    ap.add_argument("--gpu-steps", type=int, default=50)
    ap.add_argument("--gpu-smoke", action="store_true", help="GPU code path, scaled down")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU part")
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidprov-bench-gen-"))
    home = work / "home"
    init_keys(home)
    ctx = _context(home)
    t0 = time.time()
    result: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if not a.no_cpu:
        result["cpu"] = cpu_part([p for p in a.presets.split(",") if p], a.reps, work, ctx)
    if a.gpu or a.gpu_smoke:
        result["gpu"] = gpu_part(a.gpu_steps, work, ctx, a.gpu_smoke)
    else:
        result["gpu"] = gpu_skipped()
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round(time.time() - t0, 1)
    write_results("generator", result, markdown(result), a.out)


def markdown(r: dict[str, Any]) -> str:
    lines = []
    cpu = r.get("cpu")
    if cpu:
        lines += [
            f"CPU ({r['cpu_count']} cores, {cpu['torch_threads']} torch threads, 1-min load "
            f"average {r['load_average_at_start'][0]} at start, {r['load_average_at_end'][0]} at "
            f"end); one clip per call, medians of "
            f"{next(v['reps'] for v in cpu.values() if isinstance(v, dict))} runs after a "
            "warm-up:",
            "",
            "| preset | clip | audio | total s | generate s | watermark s | sign s "
            "| watermark + sign share | verified |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, x in cpu.items():
            if not isinstance(x, dict):
                continue
            ok = x["checked"]
            verified = (
                f"{ok['c2pa']}, mark {'found' if ok['watermark_detected'] else 'MISSING'}"
                f"{'' if ok['payload_matches'] else ' (wrong payload)'}"
            )
            lines.append(
                f"| {name} | {x['size']}, {x['steps']} steps | {x['audio'] or '-'} "
                f"| {x['total_s']} | {x['generate_s']} | {x['watermark_s']} | {x['sign_s']} "
                f"| {100 * x['watermark_sign_share']:.0f}% | {verified} |"
            )
        lines.append("")
    g = r["gpu"]
    if not g.get("available"):
        lines.append(f"GPU: {g['note']}.")
    else:
        lines += [
            f"GPU ({g['device']}{', SMOKE CONFIG: figures meaningless' if g['smoke'] else ''}): "
            f"random-weight Wan 2.1 1.3B config ({g['transformer_params_m']} M transformer "
            f"parameters), {g['dtype']}, {g['size']}, {g['steps']} steps, "
            f"CFG {g['guidance_scale']}:",
            "",
            "| measure | value |",
            "| --- | --- |",
            f"| seconds per step | {g['seconds_per_step']} |",
            f"| generate (text, {g['steps']} steps, VAE decode) s | {g['generate_s']} |",
            f"| watermark (embed, encode, durability check) s | {g['watermark_s']} |",
            f"| sign s | {g['sign_s']} |",
            f"| total s | {g['total_s']} |",
            f"| watermark + sign / generate | {100 * g['watermark_sign_share_of_generate']:.1f}% |",
            f"| peak GPU memory GB | {g['peak_gpu_mem_gb']} |",
            f"| verified | {g['checked']['c2pa']}, mark "
            f"{'found' if g['checked']['watermark_detected'] else 'MISSING'} |",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
