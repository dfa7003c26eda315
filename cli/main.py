"""The ``vidprov`` command line: thin; each command parses, calls one library function, prints."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from vidprov import __version__
from vidprov.errors import VidprovError


class VidprovGroup(click.Group):
    """Turns library errors into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VidprovError as exc:
            click.echo(f"vidprov: error: {exc}", err=True)
            ctx.exit(2)


def emit(result: Any, as_json: bool, human: str | None = None) -> None:
    """Print a result: its ``to_dict()`` as JSON, or the human text."""
    if as_json or human is None:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        click.echo(human)


@click.group(cls=VidprovGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="vidprov")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """vidprov: watermark, sign, verify and scan AI video."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def info(file: Path, as_json: bool) -> None:
    """Show a video's metadata (frames counted exactly)."""
    from vidprov.media import probe

    r = probe(file)
    audio = (
        f"{r.audio_codec} {r.audio_sample_rate} Hz {r.audio_channels} ch" if r.has_audio else "none"
    )
    human = "\n".join(
        [
            f"file:      {r.path}",
            f"container: {r.container}   size: {r.size_bytes} bytes",
            f"video:     {r.video_codec} {r.pix_fmt} {r.width}x{r.height}, rotation {r.rotation}",
            f"fps:       {r.fps} ({float(r.fps):.3f}){'  variable frame rate' if r.vfr else ''}",
            f"frames:    {r.frames}   duration: {r.duration:.3f} s",
            f"audio:     {audio}",
        ]
    )
    emit(r, as_json, human)


@cli.group()
def keys() -> None:
    """Manage keys under VIDPROV_HOME (default ~/.vidprov)."""


@keys.command("init")
@click.option("--force", is_flag=True, help="Replace existing keys.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def keys_init(force: bool, as_json: bool) -> None:
    """Create a random 256-bit watermark key (mode 0600)."""
    from vidprov.keys import init_keys

    r = init_keys(force=force)
    emit(r, as_json, "\n".join(f"created {p}" for p in r.created))


@cli.command()
@click.option(
    "--out",
    "outdir",
    type=click.Path(path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Folder for the demo's files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def demo(outdir: Path, as_json: bool) -> None:
    """Run the built-in end-to-end job on a clip it makes."""
    from vidprov.demo import run_demo

    r = run_demo(outdir)
    rt = r.roundtrip
    human = "\n".join(
        [
            f"source:  {r.source}  ({rt.source.frames} frames, {rt.source.fps} fps, "
            f"{rt.source.width}x{rt.source.height}, audio {rt.source.audio_codec})",
            f"output:  {r.output}  ({rt.output.frames} frames, {rt.output.fps} fps, "
            f"{rt.output.width}x{rt.output.height}, audio {rt.output.audio_codec}, {rt.audio})",
            "preserved: "
            + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in rt.preserved.items()),
            f"result:  {'OK' if r.ok else 'FAILED'}",
        ]
    )
    emit(r, as_json, human)
    if not r.ok:
        sys.exit(1)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="vidprov")


if __name__ == "__main__":  # pragma: no cover
    main()
