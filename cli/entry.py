"""The console script's entry point, kept apart from :mod:`vidprov.cli.main` so that a Ctrl-C
while the command line is still loading can be caught."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from typing import Any

#: set by the console script's :func:`vidprov.cli.main.main`; the group run in-process (tests,
#: ``CliRunner``) leaves the caller's signal handlers alone
CONSOLE = {"on": False, "done": False}


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
    from the thread shutdown, click's "Aborted!" and exit 1, or death by SIGINT, -2), and
    :func:`leave` skips the teardown."""
    if not CONSOLE["on"]:
        return

    def quit_now(signum: int, frame: Any) -> None:
        _exit_now(code)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, quit_now)
    CONSOLE["done"] = True


def leave(exc: SystemExit) -> None:
    """Exit now, as ``exc`` would, without the interpreter's teardown, once :func:`finished`
    has been called: its output is written and flushed, the ``atexit`` handlers (logging's,
    the temp files' finalizers) run, and the modules are not torn down one object at a time
    (3.1 s after `generate` had printed its result, 0.6 s after a scan; now 0.2 and 0.06 s).
    Returns, for the usual exit, when another thread still runs (it would be killed) or the
    command did not finish."""
    if not CONSOLE.get("done"):
        return
    others = (t for t in threading.enumerate() if t is not threading.main_thread())
    if any(t.is_alive() and not t.daemon for t in others):
        return
    atexit._run_exitfuncs()
    _exit_now(exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1)


def _exit_now(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def exit_on_signal(signum: int, frame: Any) -> None:
    """A stop signal unwinds like an exception (temp files removed), exit code 128 + its
    number: 143 for SIGTERM, 129 for SIGHUP."""
    raise SystemExit(128 + signum)
