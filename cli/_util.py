"""Shared CLI output helpers: JSON or human text, and a progress bar on terminals only."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from vidprov.errors import json_safe


# Paths are checked by the library, whose errors name the file in one line (exit code 2);
# Click's own readability check would print a four-line usage error instead.
class _PathType(click.Path):
    """``click.Path`` that refuses an empty argument (``Path("")`` is the current folder, which
    an unset shell variable would otherwise scan or overwrite) and, for an output file
    (``file_output``), a name ending in ``/``: ``Path`` drops the slash, and a model trained
    with ``--out newdir/`` was saved as a file called ``newdir``."""

    def __init__(self, *, file_output: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file_output = file_output

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("empty path", param, ctx)
        if self.file_output and isinstance(value, str) and (problem := folder_name(value)):
            self.fail(problem, param, ctx)
        return super().convert(value, param, ctx)


def folder_name(value: str) -> str | None:
    """What is wrong with an output file's path as typed when its form names a folder: it ends
    with a separator, or with ``/.`` or ``/..`` (``Path`` drops the first two: ``x.mp4/.`` was
    written as ``x.mp4``); None when it does not."""
    parts = value.replace(os.sep, "/").split("/")
    if len(parts) > 1 and parts[-1] in ("", ".", "..") and value.strip("/." + os.sep):
        return f"{value} names a folder (it ends with /, /. or /..): give a file name"
    return None


class _Probability(click.FloatRange):
    """A number strictly between 0 and 1; NaN, which passes every range check, is refused."""

    def __init__(self) -> None:
        super().__init__(0, 1, min_open=True, max_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rv = super().convert(value, param, ctx)
        if rv != rv:
            self.fail(f"{value} is not in the range 0<x<1", param, ctx)
        return rv


PROBABILITY = _Probability()
PATH = _PathType(path_type=Path, readable=False)
OUT_FILE = _PathType(path_type=Path, readable=False, file_output=True)
RAW_PATH = _PathType(path_type=str, readable=False)  # as typed: the command checks it itself


class OutputError(Exception):
    """Standard output cannot be written: closed (``>&-``), a full disk, a reader that went
    away. The CLI prints one line (nothing for a broken pipe) and exits with code 1."""

    def __init__(self, cause: OSError | None) -> None:
        self.broken_pipe = isinstance(cause, BrokenPipeError)
        reason = "standard output is closed" if cause is None else cause.strerror or str(cause)
        super().__init__(f"cannot write the output ({reason})")


def echo(text: str) -> None:
    """Print ``text`` and a newline on stdout, or raise :class:`OutputError` (``click.echo``
    alone would drop the text when stdout is closed and let a full disk end in a traceback)."""
    if sys.stdout is None:  # started with stdout closed: click.echo would print nothing
        raise OutputError(None)
    try:
        click.echo(text)
    except OSError as exc:
        raise OutputError(exc) from exc


def discard_stdout() -> None:
    """Point stdout's descriptor at /dev/null, so that the interpreter's last flush of what
    could not be written does not fail again ("Exception ignored ..." on stderr)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no stdout, or not a file (CliRunner)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def dumps(value: Any, indent: int | None = 2) -> str:
    """``value`` as strict JSON (see :func:`~vidprov.errors.json_safe`); ``indent=None``: one
    compact line."""
    return json.dumps(json_safe(value), indent=indent, default=str, allow_nan=False)


def p_text(p: float) -> str:
    """A p-value for people: ``= 3.2e-09``, or ``< 1e-300`` for one that underflowed to 0 (the
    JSON keeps the 0.0 a double holds)."""
    return f"= {p:.3g}" if p > 0 else "< 1e-300"


def emit(result: Any, as_json: bool, human: str | None = None) -> None:
    """Print a result: its ``to_dict()`` as JSON, or the human text."""
    if as_json or human is None:
        echo(dumps(result.to_dict()))
    else:
        echo(human)


@contextlib.contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update
