"""A generation request checked before any model is built: every size, the seed, the prompt and
the output paths, so that a typo fails in a second, not after a model load and a denoising run."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from pathlib import Path

from vidprov.atomic import check_writable
from vidprov.errors import GeneratorError, OptionError
from vidprov.generator.presets import Preset
from vidprov.watermark.config import WatermarkConfig

#: every generated clip is watermarked: smaller frames cannot carry the mark
MIN_SIDE = WatermarkConfig().min_side

#: inclusive bounds of each option (the HTTP API may set tighter ones)
LIMITS: dict[str, tuple[int, int]] = {
    "frames": (1, 4097),
    "height": (MIN_SIDE, 8192),
    "width": (MIN_SIDE, 8192),
    "steps": (1, 1000),
    "fps": (1, 240),
    "num_videos": (1, 64),
    "seed": (0, 2**63 - 1),
}


def is_blank(text: str) -> bool:
    """Whether ``text`` has nothing printable but spaces (zero-width and ideographic ones count
    as spaces)."""
    return not any(c.isprintable() and not c.isspace() for c in text)


@dataclass(frozen=True)
class RequestPlan:
    """A request with the preset's defaults filled in and the files it will write."""

    frames: int
    height: int
    width: int
    steps: int
    fps: int
    seed: int
    num_videos: int
    paths: tuple[Path, ...]


def check_options(
    preset: Preset,
    frames: int | None = None,
    height: int | None = None,
    width: int | None = None,
    steps: int | None = None,
    seed: int = 0,
    fps: int | None = None,
    num_videos: int = 1,
) -> dict[str, int]:
    """Fill in ``preset``'s defaults (``None``: the preset's value) and check every option
    against :data:`LIMITS` and the preset's own rules: frames ``k*frame_multiple+1`` and at most
    ``max_frames``, height and width multiples of ``size_multiple`` within ``min_side`` ..
    ``max_side``. The part of :func:`plan_request` that needs no prompt or output path (the HTTP
    API can check a request with it before queueing a job).

    Raises:
        OptionError: an option out of its :data:`LIMITS`, or one the preset cannot make (a
            :class:`GeneratorError` naming the option).
    """
    given = {"frames": frames, "height": height, "width": width, "steps": steps, "fps": fps}
    values = {k: getattr(preset, k) if v is None else v for k, v in given.items()}
    values.update(seed=seed, num_videos=num_videos)
    for name, raw in list(values.items()):
        lo, hi = LIMITS[name]
        value = _as_int(raw)
        if value is None or not lo <= value <= hi:
            shown = raw if not isinstance(raw, float) or math.isfinite(raw) else str(raw)
            why = (
                f" (the smallest frame that carries the watermark is {MIN_SIDE} px)"
                if name in ("height", "width") and value is not None and 0 < value < lo
                else ""
            )
            raise OptionError(name, f"{name} must be an integer in {lo}..{hi}{why}, got {shown}")
        values[name] = value
    n = values["frames"]
    if (n - 1) % preset.frame_multiple:
        raise OptionError(
            "frames",
            f"{preset.name} needs frames = k*{preset.frame_multiple}+1 (e.g. "
            f"{(n - 1) // preset.frame_multiple * preset.frame_multiple + 1}), got {n}",
        )
    if preset.max_frames is not None and n > preset.max_frames:
        raise OptionError(
            "frames", f"{preset.name} needs frames at most {preset.max_frames}, got {n}"
        )
    for name in ("height", "width"):
        _check_side(preset, name, values[name])
    return values


def _as_int(value: object) -> int | None:
    """``value`` as a Python int when it is an integer of any type (numpy's too), else None
    (a bool, a float, a string)."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


def _check_side(preset: Preset, name: str, value: int) -> None:
    """Check a height or width (``name``) against ``preset``'s sides.

    Raises:
        OptionError: ``value`` is out of the preset's sides or not a multiple of its
            ``size_multiple``.
    """
    m = preset.size_multiple
    lo = max(preset.min_side or 0, LIMITS[name][0])
    hi = min(preset.max_side or LIMITS[name][1], LIMITS[name][1])
    if value < lo:
        raise OptionError(name, f"{preset.name} needs {name} at least {lo}, got {value}")
    if value > hi:
        raise OptionError(name, f"{preset.name} needs {name} at most {hi}, got {value}")
    if value % m:
        near = [k for k in (value // m * m, value // m * m + m) if lo <= k <= hi]
        hint = f" (e.g. {' or '.join(map(str, near))})" if near else ""
        raise OptionError(name, f"{preset.name} needs {name} divisible by {m}{hint}, got {value}")


def plan_request(
    preset: Preset, prompt: str, out: str | Path, **options: int | None
) -> RequestPlan:
    """Fill in ``preset``'s defaults and check the request: ``options`` are those of
    :func:`check_options` (``frames``, ``height``, ``width``, ``steps``, ``seed``, ``fps``,
    ``num_videos``; ``None`` or absent: the preset's value).

    Raises:
        GeneratorError: a blank prompt, an option out of its :data:`LIMITS`, a frame count or
            size the preset cannot make (:func:`check_options`).
        ProvenanceError: an output container a manifest cannot be stored in.
        MediaError: an output that cannot be written (no such folder, a folder).
        TypeError: an option :func:`check_options` does not take.
    """
    from vidprov.provenance.manifest import mime_for

    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as exc:  # bytes that were not UTF-8 on the command line
        raise GeneratorError(
            "the prompt is not valid text: it holds bytes that are not UTF-8"
        ) from exc
    if is_blank(prompt):
        raise GeneratorError("the prompt is blank")
    values = check_options(preset, **options)  # type: ignore[arg-type]
    out, n = Path(out), values["num_videos"]
    paths = (
        (out,) if n == 1 else tuple(out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(n))
    )
    for path in paths:
        mime_for(path)
        check_writable(path)
    return RequestPlan(paths=paths, **values)
