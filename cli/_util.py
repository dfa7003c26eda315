"""Shared CLI output helpers: JSON or human text, and a progress bar on terminals only."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from vidprov.errors import finite


# Paths are checked by the library, whose errors name the file in one line (exit code 2);
# Click's own readability check would print a four-line usage error instead.
class _PathType(click.Path):
    """``click.Path`` that refuses an empty argument (``Path("")`` is the current folder, which
    an unset shell variable would otherwise scan or overwrite)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("empty path", param, ctx)
        return super().convert(value, param, ctx)


PATH = _PathType(path_type=Path, readable=False)


def emit(result: Any, as_json: bool, human: str | None = None) -> None:
    """Print a result: its ``to_dict()`` as JSON, or the human text."""
    if as_json or human is None:
        click.echo(json.dumps(finite(result.to_dict()), indent=2, default=str, allow_nan=False))
    else:
        click.echo(human)


@contextlib.contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update
