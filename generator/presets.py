"""Generator presets by name: real diffusers pipelines (loaded from the hub cache or a local
folder, never downloaded unless allowed) and tiny in-process ones for tests and the demo."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidprov.errors import GeneratorError, ModelUnavailableError, printable
from vidprov.generator import tiny

log = logging.getLogger(__name__)

ALLOW_DOWNLOAD_ENV = "VIDPROV_ALLOW_DOWNLOAD"


@dataclass(frozen=True)
class Preset:
    """How to build a pipeline and its defaults.

    Args:
        name: registry name.
        pipeline: diffusers pipeline class name (e.g. ``"WanPipeline"``).
        source: hub model id or local folder; None for in-process builders.
        builder: builds the pipeline in-process (tiny presets).
        dtype: torch dtype name for real weights.
        height, width, frames, steps, fps: defaults for a clip.
        frame_multiple: frames must be ``k * frame_multiple + 1`` (the VAE's time stride; twice
            that for CogVideoX, whose VAE decodes latent frames in pairs).
        size_multiple: height and width must be multiples of it (the VAE's spatial stride times
            the transformer's patch size); the default, 8, holds for any diffusers video VAE.
        min_side, max_side: the smallest and largest height or width the pipeline can make
            (None: only :data:`vidprov.generator.request.LIMITS`).
        max_frames: the most frames the pipeline can make (None: only the limits).
        pipeline_kwargs: extra arguments every call passes (e.g. ``max_sequence_length``).
        offload: ``"model"`` or ``"sequential"`` CPU offload on GPU, or None.
        smoke_test: random weights: output is not meaningful video.
        textured: composite the (random) output over a procedural moving scene, so that a
            smoke-test clip has texture and motion worth watermarking and detecting.
        audio_sample_rate: the rate of the audio the pipeline returns, for pipelines that
            return audio but expose the rate neither on their output nor on their vocoder.
    """

    name: str
    pipeline: str
    source: str | None = None
    builder: Callable[[int], Any] | None = None
    dtype: str = "bfloat16"
    height: int = 480
    width: int = 832
    frames: int = 81
    steps: int = 50
    fps: int = 16
    frame_multiple: int = 4
    size_multiple: int = 8
    min_side: int | None = None
    max_side: int | None = None
    max_frames: int | None = None
    pipeline_kwargs: dict[str, Any] = field(default_factory=dict)
    offload: str | None = None
    smoke_test: bool = False
    textured: bool = False
    audio_sample_rate: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pipeline": self.pipeline,
            "source": self.source or "built in-process",
            "dtype": self.dtype,
            "defaults": {
                "height": self.height,
                "width": self.width,
                "frames": self.frames,
                "steps": self.steps,
                "fps": self.fps,
            },
            "offload": self.offload,
            "smoke_test": self.smoke_test,
        }


_REGISTRY: dict[str, Preset] = {}


def register(preset: Preset, replace: bool = False) -> Preset:
    """Add a preset to the registry.

    Raises:
        GeneratorError: the name is taken and ``replace`` is false.
    """
    if preset.name in _REGISTRY and not replace:
        raise GeneratorError(f"preset {preset.name!r} already registered")
    _REGISTRY[preset.name] = preset
    return preset


def list_presets() -> list[Preset]:
    """All registered presets, by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_preset(name: str) -> Preset:
    """The preset called ``name``, or one for a local pipeline folder.

    Raises:
        GeneratorError: neither a preset name nor a folder holding ``model_index.json``.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    path = Path(name).expanduser()
    if (path / "model_index.json").is_file():
        return Preset(name=str(path), pipeline="DiffusionPipeline", source=str(path))
    known = ", ".join(sorted(_REGISTRY))
    raise GeneratorError(f"unknown model {name!r}: not a preset ({known}) nor a pipeline folder")


def create(name: str, device: str | None = None, seed: int = 0) -> tuple[Preset, Any]:
    """Build the pipeline for preset ``name`` (or a local pipeline folder).

    Real weights load from the local hub cache or folder only; set ``VIDPROV_ALLOW_DOWNLOAD=1``
    to let diffusers fetch them.

    Raises:
        GeneratorError: unknown model, weights not present offline, or a load failure.
    """
    preset = get_preset(name)
    device = resolve_device(device)
    pipe = preset.builder(seed) if preset.builder is not None else _load(preset)
    return preset, _place(pipe, preset, device)


def resolve_device(device: str | None) -> str:
    """``device`` checked (default: ``cuda`` when available, else ``cpu``).

    Raises:
        GeneratorError: not a torch device, or a CUDA, MPS or XPU device this machine does
            not have.
    """
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise GeneratorError(f"unknown torch device {device!r} (e.g. cpu, cuda, cuda:0)") from exc
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise GeneratorError(f"device {device!r}: no CUDA device on this machine")
        if dev.index is not None and dev.index >= count:
            raise GeneratorError(f"device {device!r}: this machine has {count} CUDA device(s)")
    elif dev.type in ("mps", "xpu"):
        backend = torch.backends.mps if dev.type == "mps" else getattr(torch, "xpu", None)
        if backend is None or not backend.is_available():
            raise GeneratorError(f"device {device!r}: no {dev.type.upper()} device on this machine")
    elif dev.type != "cpu":
        raise GeneratorError(f"device {device!r} is not supported (use cpu or cuda)")
    return device


def lacks_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure: ``MemoryError``, torch's out-of-memory
    error, or the plain ``RuntimeError`` a failed CPU allocation raises in torch."""
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and "alloc" in str(exc).lower()
    )


def _load(preset: Preset) -> Any:
    import diffusers
    import torch

    cls = getattr(diffusers, preset.pipeline, None)
    if cls is None:
        raise GeneratorError(f"diffusers has no {preset.pipeline} (upgrade diffusers?)")
    allow = os.environ.get(ALLOW_DOWNLOAD_ENV) == "1"
    dtype = getattr(torch, preset.dtype)
    try:
        return cls.from_pretrained(
            preset.source, dtype=dtype, local_files_only=not allow, low_cpu_mem_usage=False
        )
    except Exception as exc:
        # a local folder can break diffusers in any way (an unknown pipeline class, a config
        # of the wrong shape): it is the folder's fault, said in one line
        if Path(preset.source).is_dir() and not lacks_memory(exc):
            why = printable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise GeneratorError(f"cannot load this pipeline folder: {why}", preset.source) from exc
        if not isinstance(exc, OSError | ValueError):
            raise
        if allow:
            raise ModelUnavailableError(f"cannot load {preset.source}: {exc}") from exc
        raise ModelUnavailableError(
            f"weights for {preset.name} ({preset.source}) are not present offline; on a "
            f"connected machine run `huggingface-cli download {preset.source}` (same HF_HOME), "
            f"or pass --model /path/to/pipeline-folder, or set {ALLOW_DOWNLOAD_ENV}=1"
        ) from exc


def _place(pipe: Any, preset: Preset, device: str) -> Any:
    if device.startswith("cuda") and preset.offload == "model":
        pipe.enable_model_cpu_offload()
    elif device.startswith("cuda") and preset.offload == "sequential":
        pipe.enable_sequential_cpu_offload()
    else:
        pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


_TINY = dict(
    height=256,
    width=256,
    frames=49,
    steps=4,
    fps=24,
    dtype="float32",
    smoke_test=True,
    textured=True,
)
for _p in (
    Preset(
        "tiny-wan",
        "WanPipeline",
        builder=tiny.tiny_wan,
        size_multiple=16,
        # its rotary position table has 32 entries per axis: 32 latent frames, 32 patches a side
        max_side=512,
        max_frames=125,
        **_TINY,
    ),
    Preset(
        "tiny-ltx",
        "LTXPipeline",
        builder=tiny.tiny_ltx,
        frame_multiple=8,
        size_multiple=32,
        pipeline_kwargs={"max_sequence_length": 16},
        **_TINY,
    ),
    Preset(
        "tiny-ltx2",
        "LTX2Pipeline",
        builder=tiny.tiny_ltx2,
        frame_multiple=8,
        size_multiple=32,
        min_side=64,  # the VAE decoder's reflect padding needs a latent 2 wide
        pipeline_kwargs={
            # no guidance passes: one transformer call per step, as the other tiny presets
            "guidance_scale": 1.0,
            "stg_scale": 0.0,
            "modality_scale": 1.0,
            "audio_guidance_scale": 1.0,
            "audio_stg_scale": 0.0,
            "audio_modality_scale": 1.0,
            "spatio_temporal_guidance_blocks": None,
            "max_sequence_length": 16,
        },
        **_TINY,
    ),
    Preset(
        "tiny-cogvideox",
        "CogVideoXPipeline",
        builder=tiny.tiny_cogvideox,
        frame_multiple=8,
        size_multiple=16,
        pipeline_kwargs={"max_sequence_length": 16},
        **_TINY,
    ),
    Preset(
        "wan-2.1-t2v-1.3b",
        "WanPipeline",
        "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        height=480,
        width=832,
        frames=81,
        steps=50,
        fps=16,
        offload="model",
        size_multiple=16,
    ),
    Preset(
        "wan-2.1-t2v-14b",
        "WanPipeline",
        "Wan-AI/Wan2.1-T2V-14B-Diffusers",
        height=720,
        width=1280,
        frames=81,
        steps=50,
        fps=16,
        offload="model",
        size_multiple=16,
    ),
    Preset(
        "wan-2.2-ti2v-5b",
        "WanPipeline",
        "Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        height=704,
        width=1280,
        frames=121,
        steps=50,
        fps=24,
        offload="model",
        size_multiple=32,  # its VAE is 16x spatial, then 2x2 patches
    ),
    Preset(
        "ltx-video",
        "LTXPipeline",
        "Lightricks/LTX-Video",
        height=480,
        width=704,
        frames=161,
        steps=50,
        fps=24,
        frame_multiple=8,
        size_multiple=32,
    ),
    Preset(
        "ltx-2",
        "LTX2Pipeline",
        "Lightricks/LTX-2",
        height=512,
        width=768,
        frames=121,
        steps=30,
        fps=24,
        frame_multiple=8,
        offload="model",
        size_multiple=32,
        min_side=64,
    ),
    Preset(
        "cogvideox-2b",
        "CogVideoXPipeline",
        "THUDM/CogVideoX-2b",
        dtype="float16",
        height=480,
        width=720,
        frames=49,
        steps=50,
        fps=8,
        offload="model",
        frame_multiple=8,
        size_multiple=16,
    ),
    Preset(
        "cogvideox-5b",
        "CogVideoXPipeline",
        "THUDM/CogVideoX-5b",
        height=480,
        width=720,
        frames=49,
        steps=50,
        fps=8,
        offload="model",
        frame_multiple=8,
        size_multiple=16,
    ),
):
    register(_p)

DEFAULT_PRESET = "tiny-wan"
