"""The console script's entry point, kept apart from :mod:`vidprov.cli.main` so that a Ctrl-C
while the command line is still loading can be caught."""

from __future__ import annotations

import signal
import sys
from typing import Any


def main() -> None:
    """Run the ``vidprov`` command line. A Ctrl-C while it is still loading (its imports take
    a second or more) ends as one during a command does: one line on stderr and exit code 130,
    not a traceback."""
    # SIGTERM and SIGHUP while it loads: the exit codes they get later (143, 129), where
    # they killed it outright (-15, -1); an ignored SIGHUP (nohup) stays ignored
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, exit_on_signal)
    try:
        from vidprov.cli.main import main as run
    except KeyboardInterrupt:
        sys.stderr.write("vidprov: interrupted\n")
        raise SystemExit(130) from None
    run()


def exit_on_signal(signum: int, frame: Any) -> None:
    """A stop signal unwinds like an exception (temp files removed), exit code 128 + its
    number: 143 for SIGTERM, 129 for SIGHUP."""
    raise SystemExit(128 + signum)
