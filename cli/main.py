"""The ``vidprov`` command line: thin; each command parses, calls one library function, prints."""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from vidprov import __version__
from vidprov.cli._util import (
    OUT_FILE,
    PATH,
    OutputError,
    discard_stdout,
    dumps,
    echo,
    emit,
    p_text,
    progress_bar,
)
from vidprov.cli.entry import CONSOLE, exit_on_signal, finished, leave
from vidprov.errors import VidprovError, printable

ARGV = "vidprov.argv"  # the root context's note of the command line as given


@contextlib.contextmanager
def _usage_in_one_line(argv: list[str]) -> Iterator[None]:
    """A malformed command line as one line on stderr and exit code 2 (no arguments at all
    still print the help); with ``--json``/``--jsonl`` asked of a command that takes it, as a
    record on stdout too (``{"error": "usage_error", "message", "path": null}``: a pipeline
    reading stdout got nothing)."""
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise
    except click.UsageError as exc:
        path = exc.ctx.command_path if exc.ctx is not None else "vidprov"
        message = " ".join(exc.format_message().split()).rstrip(".")  # Choice lists: 1 line
        click.echo(f"vidprov: error: {message} (try '{path} -h')", err=True)
        exc.json_record = _json_asked(exc.ctx, argv)  # type: ignore[attr-defined]
        _record(exc, {"error": "usage_error", "message": message, "path": None})
        raise click.exceptions.Exit(2) from None


def _json_asked(ctx: click.Context | None, argv: list[str]) -> str:
    """``"jsonl"`` or ``"json"`` when the command ``ctx`` parses takes that option and the
    command line gives it (before any ``--``), else ``""``."""
    if ctx is None:
        return ""
    names = {p.name for p in ctx.command.params}
    options = argv[: argv.index("--")] if "--" in argv else argv
    if "jsonl" in names and "--jsonl" in options:
        return "jsonl"
    return "json" if "as_json" in names and "--json" in options else ""


class VidprovGroup(click.Group):
    """Turns library errors and malformed command lines into one line on stderr, exit code 2;
    output that cannot be written into one line and exit code 1 (a broken pipe: quiet)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        argv = list(args)
        with _usage_in_one_line(argv):  # the top level's own options
            ctx = super().make_context(info_name, args, parent, **extra)
        ctx.meta.setdefault(ARGV, argv)  # shared by the whole tree: the root's comes first
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _usage_in_one_line(ctx.meta.get(ARGV, [])):  # commands and their options
                rv = super().invoke(ctx)
            # inside the try: a Ctrl-C before its handler is in place is still ours (130), not
            # click's "Aborted!" and exit 1
            finished(0)
        except click.exceptions.Exit as exc:  # a command's own exit code (scan: 2 if any failed)
            finished(exc.exit_code)
            raise
        except VidprovError as exc:
            click.echo(f"vidprov: error: {printable(str(exc))}", err=True)
            _record(exc, exc.to_dict())
            _exit(ctx, 2)
        except KeyboardInterrupt:
            # outputs are atomic: each is either the old file or the finished one
            click.echo("vidprov: interrupted", err=True)
            _exit(ctx, 130)
        except OutputError as exc:
            # stdout closed or full: the environment, not the input (a reader that went away,
            # as in `| head`, is the usual quiet exit)
            discard_stdout()
            if not exc.broken_pipe:
                click.echo(f"vidprov: error: {exc}", err=True)
            _exit(ctx, 1)
        except OSError as exc:
            # a file the library did not expect to fail on (a key or PEM it cannot read, a
            # full disk): still one line naming it, not a traceback
            if exc.filename is None:
                raise
            message = f"{exc.filename}: {exc.strerror or exc}"
            click.echo(f"vidprov: error: {printable(message)}", err=True)
            _record(exc, {"error": "os_error", "message": message, "path": str(exc.filename)})
            _exit(ctx, 2)
        return rv


def _exit(ctx: click.Context, code: int) -> None:
    finished(code)
    ctx.exit(code)


def _record(exc: BaseException, record: dict[str, Any]) -> None:
    """With ``--json`` (``--jsonl``: on one line), the error as a record on stdout too
    (``{"error", "message", "path"}``, as the API's 4xx bodies), so a pipeline reading stdout
    sees what went wrong."""
    fmt = getattr(exc, "json_record", "")
    if fmt:
        with contextlib.suppress(OutputError):  # stdout closed or full: the stderr line stays
            echo(dumps(record, indent=None if fmt == "jsonl" else 2))


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
@click.argument("file", type=PATH)
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def info(file: Path, as_json: bool) -> None:
    """Show a video's metadata (frames counted exactly)."""
    from vidprov.media import probe

    r = probe(file)
    audio = (
        f"{r.audio_codec} {r.audio_sample_rate} Hz {r.audio_channels} ch" if r.has_audio else "none"
    )
    if r.audio_tracks > 1:
        audio += f" (first of {r.audio_tracks} tracks)"
    human = "\n".join(
        [
            f"file:      {printable(str(r.path))}",
            f"container: {r.container}   size: {r.size_bytes} bytes",
            f"video:     {r.video_codec} {r.pix_fmt} {r.width}x{r.height}, rotation {r.rotation}",
            f"fps:       {r.fps} ({float(r.fps):.4g}){'  variable frame rate' if r.vfr else ''}",
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
    """Create the watermark key and a development C2PA signing PKI (private keys 0600)."""
    from vidprov.keys import init_keys

    r = init_keys(force=force)
    emit(r, as_json, "\n".join(f"created {p}" for p in r.created))


@keys.command("renew-signer")
@click.option(
    "--days", type=click.IntRange(1, 3650), default=365, show_default=True,
    help="Validity of the new certificate (capped at the intermediate CA's).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def keys_renew_signer(days: int, as_json: bool) -> None:
    """Issue a new development signer from the intermediate CA; other keys stay."""
    from vidprov.keys import renew_signer

    r = renew_signer(days=days)
    human = f"wrote {r.signer_chain} and {r.signer_key}; valid until {r.not_after}"
    emit(r, as_json, human + (f" ({r.note})" if r.note else ""))


@cli.command()
@click.option(
    "--out",
    "outdir",
    type=PATH,
    default=Path("demo-output"),
    show_default=True,
    help="Folder for the demo's files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def demo(outdir: Path, as_json: bool) -> None:
    """Run the built-in end-to-end job on a clip it makes."""
    from vidprov.cli.provenance import verify_human
    from vidprov.demo import run_demo

    r = run_demo(outdir)
    g = r.generation
    c = g.clips[0]
    human = "\n".join(
        [
            f"generated: {c.path} ({g.model}, {c.width}x{c.height}, {c.frames} frames @ {c.fps} "
            f"fps, {g.steps} steps, seed {g.seed})",
            f"  payload {c.payload}, manifest {c.manifest_id}",
            f"  note: {g.note}" if g.note else "",
            "",
            "verify report (C2PA + watermark):",
            verify_human(r.verify),
            "",
            f"scan verdict: {r.scan.label.upper()}  P(ai)={r.scan.score_text}  "
            f"(decided by {r.scan.decided_by}; classifier P(ai)="
            f"{(r.scan.evidence.get('classifier') or {}).get('score', float('nan')):.2f})",
            "",
            f"result:  {'OK' if r.ok else 'FAILED'}",
        ]
    )
    emit(r, as_json, human)
    if not r.ok:
        sys.exit(1)


@cli.group()
def watermark() -> None:
    """Embed and detect the invisible watermark."""


@watermark.command("embed")
@click.argument("src", type=PATH)
@click.argument("dst", type=OUT_FILE)
@click.option(
    "--payload",
    callback=lambda ctx, param, value: _payload(value),
    help="64-bit payload as 16 hex characters (random when omitted).",
)
@click.option("--key-file", type=PATH, help="Watermark key (default: home).")
@click.option(
    "--strength",
    type=click.FloatRange(0, 10, min_open=True),
    default=1.0,
    show_default=True,
    help="Amplitude factor.",
)
@click.option(
    "--crf",
    type=click.IntRange(0, 51),
    default=18,
    show_default=True,
    help="H.264 CRF of the output.",
)
@click.option("--preset", default="veryfast", show_default=True, help="x264 preset.")
@click.option(
    "--no-read-back",
    is_flag=True,
    help="Skip the checks that the clip carries no mark under this key yet and that the new "
    "payload reads back (default: refuse either); --reupload-check still runs.",
)
@click.option(
    "--reupload-check",
    is_flag=True,
    help="Also refuse a mark that does not survive an H.264 CRF 28 re-encode, as an upload "
    "would make (the generator's check; takes about twice as long).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def watermark_embed(
    src: Path,
    dst: Path,
    payload: str | None,
    key_file: Path | None,
    strength: float,
    crf: int,
    preset: str,
    no_read_back: bool,
    reupload_check: bool,
    as_json: bool,
) -> None:
    """Write DST: SRC with an invisible watermark carrying a 64-bit payload (audio copied)."""
    from vidprov.keys import load_watermark_key
    from vidprov.media import EncodeOptions, probe
    from vidprov.watermark import WatermarkConfig, embed_file

    key = load_watermark_key(key_file)
    config = WatermarkConfig(strength=strength)
    options = EncodeOptions(crf=crf, preset=preset)
    total = probe(src).frames * (3 if reupload_check else 1) if sys.stderr.isatty() else 0
    with progress_bar(total, "embedding") as bar:
        r = embed_file(
            src,
            dst,
            key,
            payload,
            config,
            options,
            progress=bar,
            read_back=not no_read_back,
            check_reupload=reupload_check,
        )
    survives = (
        f"\nsurvives a CRF {r.reupload.crf} re-encode (p = {r.reupload.p_value:.2g})"
        if r.reupload
        else ""
    )
    emit(
        r,
        as_json,
        f"payload {r.payload}\nwrote {r.output} ({r.frames} frames, "
        f"Y-PSNR mean {r.psnr_mean:.1f} dB, worst {r.psnr_min:.1f} dB){survives}",
    )


@watermark.command("detect")
@click.argument("src", type=PATH)
@click.option("--key-file", type=PATH, help="Watermark key (default: home).")
@click.option("--json", "as_json", is_flag=True, help="Print the reading as JSON.")
def watermark_detect(src: Path, key_file: Path | None, as_json: bool) -> None:
    """Look for the watermark in SRC; report payload, p-value and marked segments."""
    from vidprov.keys import load_watermark_key
    from vidprov.media import probe
    from vidprov.watermark import detect_file

    key = load_watermark_key(key_file)
    total = probe(src).frames if sys.stderr.isatty() else 0
    with progress_bar(total, "detecting") as bar:
        r = detect_file(src, key, progress=bar)
    lines = [
        f"detected: {'yes' if r.detected else 'no'}   payload: {r.payload or '-'}   "
        f"p-value {p_text(r.p_value)}"
    ]
    lines += [
        f"  {s.start:8.2f}s - {s.end:8.2f}s  payload {s.payload or '?'}  p {p_text(s.p_value)}"
        for s in r.segments
    ]
    emit(r, as_json, "\n".join(lines))


from vidprov.cli.detector import detector, scan  # noqa: E402
from vidprov.cli.generate import generate  # noqa: E402
from vidprov.cli.provenance import edit, sign, verify  # noqa: E402
from vidprov.cli.serve import api_key_add, api_key_remove, serve  # noqa: E402

for _command in (sign, verify, edit, generate, serve, scan, detector):
    cli.add_command(_command)
keys.add_command(api_key_add)
keys.add_command(api_key_remove)


def _json_errors(command: click.Command) -> None:
    """Mark the errors of ``command`` (and its subcommands) run with ``--json``, so that
    :class:`VidprovGroup` also prints them as a JSON record on stdout for the pipeline."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _json_errors(sub)
    callback = command.callback
    if callback is None or not any(p.name == "as_json" for p in command.params):
        return

    @functools.wraps(callback)
    def marked(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except (VidprovError, OSError) as exc:
            # --jsonl: one compact line, as that output's other records
            fmt = "jsonl" if kwargs.get("jsonl") else "json" if kwargs.get("as_json") else ""
            exc.json_record = fmt  # type: ignore[union-attr]
            raise

    command.callback = marked


def _payload(value: str | None) -> str | None:
    """``--payload`` checked as the command line is read: a malformed one is a usage error."""
    from vidprov.errors import WatermarkError
    from vidprov.watermark import parse_payload

    if value is None:
        return None
    try:
        parse_payload(value)
    except WatermarkError as exc:
        raise click.BadParameter(exc.message) from exc
    return value


_json_errors(cli)


def main() -> None:
    """Console-script entry point. SIGTERM and SIGHUP (the terminal closed) unwind like an
    exception, so temp files and folders are removed (exit codes 143 and 129); a SIGHUP that
    is ignored (``nohup``) stays ignored."""
    CONSOLE["on"] = True
    signal.signal(signal.SIGTERM, exit_on_signal)
    for stream in (sys.stdout, sys.stderr):  # a character the terminal's encoding lacks:
        if isinstance(stream, io.TextIOWrapper):  # an escape such as \u2026, not a traceback
            stream.reconfigure(errors="backslashreplace")
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, exit_on_signal)
    try:
        cli(prog_name="vidprov")
    except SystemExit as exc:
        leave(exc)  # the command finished: no teardown (returns when it cannot)
        raise
    except OSError as exc:  # the help or version text, which click prints itself, on a full disk
        discard_stdout()
        click.echo(f"vidprov: error: {OutputError(exc)}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
