"""Generate → watermark → encode → sign → store: the only way clips leave the generator.

:class:`SignedGenerator` wraps any diffusers video pipeline by composition. It forces decoded
frames out (``output_type="np"``), refuses latent output, and for each clip in the batch embeds
a fresh watermark payload while encoding, then signs the file (model, seed, steps, prompt hash,
soft binding read back from the clip) and stores the manifest. Audio the pipeline returns (an
``audio`` waveform on its output, as LTX-2's) is encoded into the same MP4 (AAC) before signing,
so the manifest's hash covers it. Only signed files are returned; intermediate files are
temporary and removed whatever happens.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from vidprov.atomic import AtomicFile
from vidprov.errors import GeneratorError, GeneratorMemoryError, MediaError
from vidprov.generator.presets import DEFAULT_PRESET, Preset, create, get_preset, lacks_memory
from vidprov.generator.request import plan_request
from vidprov.media import EncodeOptions, PCMAudio, VideoWriter, YUVFrame
from vidprov.media.frames import to_yuv_planes
from vidprov.media.synth import synth_frames
from vidprov.provenance import ManifestStore, SignOptions, sign_file
from vidprov.provenance.signer import CallbackSigner, load_signer
from vidprov.provenance.softbinding import blocks_from_reading
from vidprov.watermark import (
    WatermarkConfig,
    detect_file,
    embed,
    random_payload,
)
from vidprov.watermark.durable import STRENGTHS, reupload_check

log = logging.getLogger(__name__)


SMOKE_NOTE = (
    "smoke-test model: random weights built in-process; the frames are its output composited "
    "over a procedural moving scene, not meaningful video"
)


@dataclass(frozen=True)
class GeneratedClip:
    """One signed, watermarked clip."""

    path: str
    payload: str
    manifest_id: str
    frames: int
    width: int
    height: int
    fps: int
    soft_binding_blocks: int
    watermark_strength: float
    audio_sample_rate: int | None = None
    audio_channels: int = 0
    audio_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class GenerationResult:
    """What one ``generate`` call made, and where the time went (seconds)."""

    model: str
    prompt_sha256: str
    seed: int
    steps: int
    clips: tuple[GeneratedClip, ...]
    timings: dict[str, float]
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt_sha256": self.prompt_sha256,
            "seed": self.seed,
            "steps": self.steps,
            "clips": [c.to_dict() for c in self.clips],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "note": self.note,
        }


def _check_pixels(video: np.ndarray) -> None:
    """Refuse frames that would come out wrong but signed: NaN or infinite values (a half
    precision overflow) would be black, and values on a 0-255 scale white.

    Raises:
        GeneratorError: such frames.
    """
    lo, hi = float(video.min(initial=0.0)), float(video.max(initial=0.0))  # NaN carries
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise GeneratorError(
            "the pipeline produced NaN or infinite pixel values (a half-precision overflow?); "
            "nothing was written"
        )
    if lo < -0.5 or hi > 1.5:
        raise GeneratorError(
            f"the pipeline's frames span {lo:.3g}..{hi:.3g}, not 0..1 (a 0-255 scale?); "
            "nothing was written"
        )


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Float frames in [0, 1] to uint8, rounded to nearest (not truncated)."""
    return np.clip(np.rint(np.asarray(frames, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def _textured(clip: np.ndarray, seed: int) -> Iterator[np.ndarray]:
    f, h, w = clip.shape[:3]
    for scene, out in zip(synth_frames(f, w, h, seed=seed), clip, strict=True):
        yield to_uint8(scene.astype(np.float32) / 255.0 * (0.65 + 0.35 * out))


def _yuv(frames: Iterator[np.ndarray], fps: int) -> Iterator[YUVFrame]:
    for i, rgb in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        y, u, v = to_yuv_planes(vf.reformat(format="yuv420p"))
        yield YUVFrame(i, i / fps, None, None, y, u, v)


class SignedGenerator:
    """A diffusers video pipeline whose every output is watermarked and signed.

    One generator may be shared by threads: its pipeline (whose scheduler keeps the step it is
    on) runs one call at a time, and the marking and signing of each clip run beside it. Two
    threads calling at once used to share the scheduler's state: one died with diffusers'
    IndexError, and the other's clip may have been denoised with the wrong steps.

    Args:
        model: a preset name or a local pipeline folder (see :func:`create`); by default the
            built-in smoke-test preset (:data:`DEFAULT_PRESET`).
        pipeline: an already built pipeline (then ``model`` only names it).
        key: the watermark key; signer: the C2PA signer; store: the manifest store (defaults:
            those under VIDPROV_HOME).
        device: torch device (default: CUDA when available).

    Raises:
        GeneratorError: unknown model or weights not present offline.
        KeyError_: no watermark key. ProvenanceError: no signing certificate; a home
            manifest store that cannot be used.
        WatermarkError: a ``key`` that is not 256 bits.
    """

    def __init__(
        self,
        model: str = DEFAULT_PRESET,
        pipeline: Any = None,
        *,
        key: bytes | None = None,
        signer: CallbackSigner | None = None,
        store: ManifestStore | None = None,
        device: str | None = None,
    ) -> None:
        from vidprov.keys import check_watermark_key, load_watermark_key

        # a bad key is refused here, not after a whole diffusion run
        self.key = check_watermark_key(key) if key is not None else load_watermark_key()
        self.signer = signer or load_signer()
        # opened now: a store that cannot be used fails here, not at signing after the run
        self.store = store if store is not None else ManifestStore()
        if pipeline is None:
            self.preset, self.pipeline = create(model, device)
        else:
            self.preset, self.pipeline = _preset_or_custom(model, pipeline), pipeline
        self._lock = threading.Lock()

    def generate(
        self,
        prompt: str,
        out: str | Path,
        *,
        frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        steps: int | None = None,
        seed: int = 0,
        fps: int | None = None,
        num_videos: int = 1,
        progress: Callable[[int], None] | None = None,
        **pipeline_kwargs: Any,
    ) -> GenerationResult:
        """Generate ``num_videos`` clips for ``prompt``; write them signed to ``out`` (or
        ``out_0``, ``out_1``, … when several).

        ``progress(1)`` is called after each denoising step, and ``progress(0)`` along the
        marking, reading back, re-upload check and signing of each clip; what it raises stops
        the work, leaving no output.

        Raises:
            GeneratorError: latent or other non-frame output requested, a blank prompt, an
                option out of range (:func:`plan_request`).
            GeneratorMemoryError: out of memory for this request (a ``GeneratorError`` too).
            ProvenanceError: an output container a manifest cannot go in; signing failed (no
                output is left for that clip).
            MediaError: an output that cannot be written.
        """
        p = self.preset
        kind = pipeline_kwargs.pop("output_type", "np")
        if kind != "np":
            raise GeneratorError(
                f"output_type={kind!r} refused: only decoded frames can be watermarked and signed"
            )
        if pipeline_kwargs.pop("return_dict", True) is not True:
            raise GeneratorError("return_dict=False is not supported")
        # fail now, before generating
        sizes = {"frames": frames, "height": height, "width": width, "steps": steps}
        plan = plan_request(p, prompt, out, seed=seed, fps=fps, num_videos=num_videos, **sizes)
        frames, height, width, steps, fps = (
            plan.frames,
            plan.height,
            plan.width,
            plan.steps,
            plan.fps,
        )
        paths = list(plan.paths)
        t0 = time.perf_counter()
        batch, audio = self._run(
            prompt, frames, height, width, steps, seed, fps, num_videos, progress, pipeline_kwargs
        )
        timings = {"generate": time.perf_counter() - t0, "watermark_encode": 0.0, "sign": 0.0}
        prompt_hash = hashlib.sha256(prompt.encode()).hexdigest()

        # marking, checking and signing count no steps, but call in: a chance to stop there
        def tick(n: int) -> None:
            if progress is not None:
                progress(0)

        clips = tuple(
            self._finish(
                batch[i], audio[i], paths[i], prompt_hash, seed, steps, fps, i, timings, tick
            )
            for i in range(num_videos)
        )
        return GenerationResult(
            p.name, prompt_hash, seed, steps, clips, timings, SMOKE_NOTE if p.smoke_test else None
        )

    def _run(
        self,
        prompt: str,
        frames: int,
        height: int,
        width: int,
        steps: int,
        seed: int,
        fps: int,
        num_videos: int,
        progress: Callable[[int], None] | None,
        kwargs: dict[str, Any],
    ) -> tuple[np.ndarray, list[PCMAudio | None]]:
        """The batch's frames ``(k, f, h, w, 3)`` in [0, 1], and each clip's audio (or None)."""
        import torch

        def on_step(pipe: Any, i: int, t: Any, cb: dict[str, Any]) -> dict[str, Any]:
            if progress is not None:
                progress(1)
            return cb

        call = {**self.preset.pipeline_kwargs, **kwargs}
        if "frame_rate" not in call and _accepts(self.pipeline, "frame_rate"):
            call["frame_rate"] = float(fps)  # LTX: positions in time, and the audio's length
        try:
            with self._lock:  # the scheduler keeps its step: one call at a time
                result = self.pipeline(
                    prompt=[prompt] * num_videos,
                    num_frames=frames,
                    height=height,
                    width=width,
                    num_inference_steps=steps,
                    num_videos_per_prompt=1,
                    generator=torch.Generator().manual_seed(seed),
                    output_type="np",
                    callback_on_step_end=on_step,
                    **call,
                )
        except (torch.OutOfMemoryError, MemoryError) as exc:
            raise GeneratorMemoryError(
                f"out of memory generating {num_videos}x{frames} frames at {width}x{height}; "
                "ask for fewer frames, a smaller size or fewer videos, or use an offloading preset"
            ) from exc
        except ValueError as exc:
            raise GeneratorError(f"{self.preset.name} refused the request: {exc}") from exc
        except RuntimeError as exc:
            if not lacks_memory(exc):  # CPU allocation failures are plain RuntimeErrors
                raise
            raise GeneratorMemoryError(
                f"out of memory generating {num_videos}x{frames} frames at {width}x{height} "
                "on the CPU; ask for fewer frames, a smaller size or fewer videos"
            ) from exc
        video = result.frames
        video = np.stack([np.asarray(v) for v in video]) if isinstance(video, list) else video
        video = np.asarray(video, dtype=np.float32)
        if video.ndim != 5 or video.shape[0] != num_videos or video.shape[-1] != 3:
            raise GeneratorError(f"unexpected frames of shape {video.shape} from the pipeline")
        _check_pixels(video)
        audio = self._audio(result, num_videos)
        seconds = video.shape[1] / fps
        for a in audio:
            if a is not None and abs(a.duration - seconds) > max(0.1, 0.05 * seconds):
                log.warning(
                    "%s: audio lasts %.2f s, video %.2f s (fps %s)",
                    self.preset.name,
                    a.duration,
                    seconds,
                    fps,
                )
        return video, audio

    def _audio(self, result: Any, num_videos: int) -> list[PCMAudio | None]:
        """Each clip's audio from the pipeline's output (``result.audio``), or None each.

        The rate comes from the output (``audio_sample_rate``/``sample_rate``/``sampling_rate``),
        else the pipeline's vocoder config (``output_sampling_rate``), else the preset.

        Raises:
            GeneratorError: audio whose shape or rate cannot be made out.
        """
        raw = getattr(result, "audio", None)
        if raw is None:
            return [None] * num_videos
        rate = _first_attr(result, ("audio_sample_rate", "sample_rate", "sampling_rate"))
        vocoder = getattr(self.pipeline, "vocoder", None)
        if rate is None and vocoder is not None:
            rate = _first_attr(
                getattr(vocoder, "config", None),
                ("output_sampling_rate", "sampling_rate", "sample_rate"),
            )
        rate = rate or self.preset.audio_sample_rate
        if not rate:
            raise GeneratorError(
                f"{self.preset.name} returned audio without a sample rate (none on its output or "
                "vocoder); register a preset with audio_sample_rate"
            )
        waves = _as_batch(raw, num_videos)
        try:
            return [PCMAudio(w, rate) for w in waves]  # PCMAudio checks it (NaN, inf)
        except MediaError as exc:
            raise GeneratorError(f"{self.preset.name} returned unusable audio: {exc}") from exc

    def _finish(
        self,
        clip: np.ndarray,
        audio: PCMAudio | None,
        path: Path,
        prompt_hash: str,
        seed: int,
        steps: int,
        fps: int,
        index: int,
        timings: dict[str, float],
        tick: Callable[[int], None],
    ) -> GeneratedClip:
        payload = random_payload()
        h, w = clip.shape[1:3]
        tmp = AtomicFile(path)
        try:
            blocks: tuple = ()
            for strength in STRENGTHS:  # escalate until the mark reads back
                t0 = time.perf_counter()
                rgb = (
                    _textured(clip, seed * 1000 + index)
                    if self.preset.textured
                    else iter(to_uint8(clip))
                )
                opts = EncodeOptions(crf=18, preset="veryfast")
                with VideoWriter(tmp.tmp, w, h, fps, opts, audio=audio) as wr:
                    for f in embed(_yuv(rgb, fps), payload, self.key, WatermarkConfig(strength)):
                        wr.write(f)
                        tick(1)
                reading = detect_file(tmp.tmp, self.key, progress=tick)
                blocks = blocks_from_reading(reading, clip.shape[0] / fps)
                durable = (
                    reading.payload == payload
                    and reupload_check(tmp.tmp, self.key, payload, progress=tick).survives
                )
                timings["watermark_encode"] += time.perf_counter() - t0
                if blocks and durable:
                    break
                log.info("%s: mark not durable at strength %s; raising it", path, strength)
            else:
                raise GeneratorError(
                    f"the watermark does not survive a CRF 28 re-encode of this clip ({w}x{h}, "
                    f"{clip.shape[0]} frames); refusing to release it unmarked",
                    path,
                )
            t1 = time.perf_counter()
            params: dict[str, Any] = dict(seed=seed, steps=steps, batch_index=index, fps=fps)
            if audio is not None:
                params["audio_sample_rate"] = audio.stored_rate
            options = SignOptions(
                title=path.name,
                ai=True,
                model=self.preset.name,
                prompt_sha256=prompt_hash,
                parameters=params,
                soft_binding=blocks,
            )
            tick(0)
            signed = sign_file(tmp.tmp, path, options, self.signer, key=self.key, store=self.store)
            timings["sign"] += time.perf_counter() - t1
        finally:
            tmp.discard()
        return GeneratedClip(
            str(path),
            payload,
            signed.manifest_id,
            clip.shape[0],
            w,
            h,
            fps,
            len(signed.soft_binding),
            strength,
            audio.stored_rate if audio is not None else None,
            audio.channels if audio is not None else 0,
            round(audio.duration, 4) if audio is not None else None,
        )


def _accepts(pipeline: Any, name: str) -> bool:
    """Whether calling ``pipeline`` takes a parameter called ``name`` (by name, not **kwargs)."""
    try:
        return name in inspect.signature(pipeline.__call__).parameters
    except (TypeError, ValueError):
        return False


def _first_attr(obj: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        value = getattr(obj, name, None) if obj is not None else None
        if value is not None:
            return value
    return None


def _as_batch(raw: Any, num_videos: int) -> list[np.ndarray]:
    """Per-clip waveforms ``(channels, samples)`` from a pipeline's batch of audio: a tensor or
    array ``(k, channels, samples)``, ``(k, samples)`` or ``(k, samples, channels)``, or a list.

    Raises:
        GeneratorError: a batch of another size or shape.
    """
    items = list(raw) if isinstance(raw, list | tuple) else None
    if items is None:
        x = _numpy(raw)
        if x.ndim == 1 and num_videos == 1:
            x = x[None, None, :]
        items = list(x) if x.ndim in (2, 3) else []
    waves = []
    for item in items:
        w = _numpy(item)
        if w.ndim == 2 and w.shape[0] > 2 and w.shape[1] <= 2:
            w = w.T  # (samples, channels)
        waves.append(w)
    if len(waves) != num_videos:
        raise GeneratorError(
            f"unexpected audio of shape {getattr(raw, 'shape', len(waves))} from the pipeline "
            f"for {num_videos} clip(s)"
        )
    return waves


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, maybe bf16 on a GPU
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def _preset_or_custom(model: str, pipeline: Any) -> Preset:
    try:
        return get_preset(model)
    except GeneratorError:
        return Preset(name=model, pipeline=type(pipeline).__name__)
