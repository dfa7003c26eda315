"""The console script's entry point, kept apart from :mod:`vidprov.cli.main` so that a Ctrl-C
while the command line is still loading can be caught."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the ``vidprov`` command line. A Ctrl-C while it is still loading (its imports take
    a second or more) ends as one during a command does: one line on stderr and exit code 130,
    not a traceback."""
    try:
        from vidprov.cli.main import main as run
    except KeyboardInterrupt:
        sys.stderr.write("vidprov: interrupted\n")
        raise SystemExit(130) from None
    run()
