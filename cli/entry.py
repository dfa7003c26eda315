"""The console script's entry point, kept apart from :mod:`vidprov.cli.main` so that a Ctrl-C
while the command line is still loading can be caught."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
from typing import Any

#: set by the console script's :func:`vidprov.cli.main.main`; the group run in-process (tests,
#: ``CliRunner``) leaves the caller's signal handlers alone
CONSOLE = {"on": False}


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


def finished(code: int) -> None:
    """The command has printed its result (or its error) and exits with ``code``. What is left
    is the interpreter's teardown, which takes seconds once torch is loaded: a stop signal from
    here on ends the process at once with that code (before, a Ctrl-C then gave a traceback
    from the thread shutdown, click's "Aborted!" and exit 1, or death by SIGINT, -2), and the
    objects made so far are left out of the teardown's garbage collections (``gc.freeze``;
    the memory goes back with the process), which took 2-4 s of it with torch, diffusers and
    transformers loaded."""
    if not CONSOLE["on"]:
        return

    def leave(signum: int, frame: Any) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, leave)
    gc.freeze()


def exit_on_signal(signum: int, frame: Any) -> None:
    """A stop signal unwinds like an exception (temp files removed), exit code 128 + its
    number: 143 for SIGTERM, 129 for SIGHUP."""
    raise SystemExit(128 + signum)
