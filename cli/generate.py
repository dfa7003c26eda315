"""CLI for generation: ``vidprov generate``, thin over ``SignedGenerator``."""

from __future__ import annotations

from pathlib import Path

import click

from vidprov.cli._util import OUT_FILE, emit, progress_bar
from vidprov.errors import printable


@click.command()
@click.argument("prompt")
@click.option(
    "--out",
    type=OUT_FILE,
    required=True,
    help="Output clip (.mp4, .mov, .m4v or .avi); with --num-videos above 1, the name "
    "each clip's index is added to (OUT_0.mp4, OUT_1.mp4, ...).",
)
@click.option("--model", default="tiny-wan", show_default=True, help="Preset name or folder.")
@click.option("--frames", type=int, help="Frames (preset default).")
@click.option("--height", type=int, help="Height (preset default).")
@click.option("--width", type=int, help="Width (preset default).")
@click.option("--steps", type=int, help="Denoising steps (preset default).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--fps", type=int, help="Frame rate of the MP4 (preset default).")
@click.option(
    "--num-videos",
    type=int,
    default=1,
    show_default=True,
    help="Clips to make in one batch (one seed for the batch).",
)
@click.option("--device", help="torch device (default: cuda if available, else cpu).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def generate(
    prompt: str,
    out: Path,
    model: str,
    frames: int | None,
    height: int | None,
    width: int | None,
    steps: int | None,
    seed: int,
    fps: int | None,
    num_videos: int,
    device: str | None,
    as_json: bool,
) -> None:
    """Generate clips for PROMPT: each watermarked, signed (C2PA) and stored."""
    from vidprov.errors import OptionError
    from vidprov.generator import SignedGenerator, get_preset, plan_request

    options = {"frames": frames, "height": height, "width": width, "steps": steps}
    options |= {"seed": seed, "fps": fps, "num_videos": num_videos}
    # mistakes fail now, not after the model has loaded
    preset = get_preset(model)
    try:
        plan = plan_request(preset, prompt, out, **options)
    except OptionError as exc:  # a flag's value: a usage error, with the help hint
        hint = f"'--{exc.option.replace('_', '-')}'"
        raise click.BadParameter(exc.message, param_hint=hint) from None
    gen = SignedGenerator(model, device=device)
    with progress_bar(plan.steps, "denoising") as bar:
        r = gen.generate(prompt, out, progress=bar, **options)
    lines = [
        f"{printable(str(c.path))}: {c.width}x{c.height}, {c.frames} frames @ {c.fps} fps"
        + (
            f", audio {c.audio_sample_rate} Hz x{c.audio_channels} {c.audio_seconds:.2f} s"
            if c.audio_sample_rate
            else ""
        )
        + f", payload {c.payload}, manifest {c.manifest_id}"
        for c in r.clips
    ]
    if r.note:
        lines.append(f"note: {r.note}")
    emit(r, as_json, "\n".join(lines))
