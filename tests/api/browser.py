"""Finding (or installing) the system Chromium for the page test: Debian's ``chromium``
package, installed with apt-get when missing and allowed; Playwright drives it (no browser
download)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

log = logging.getLogger(__name__)

NAMES = ("chromium", "chromium-browser")


def _found() -> str | None:
    return next((p for p in map(shutil.which, NAMES) if p), None)


def chromium() -> tuple[str | None, str]:
    """The Chromium executable, installing Debian's package if needed; else None and why."""
    path = _found()
    if path:
        return path, "found"
    if not shutil.which("apt-get"):
        return None, "no chromium on PATH and no apt-get to install it"
    if os.geteuid() != 0:
        return None, "no chromium on PATH and not root, so apt-get cannot install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
    )
    for cmd in steps:
        log.warning("installing the browser for the page test: %s", " ".join(cmd))
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"{' '.join(cmd)} failed: {exc}"
        if r.returncode != 0:
            return None, f"{' '.join(cmd)} failed: {r.stderr.strip()[-300:]}"
    path = _found()
    return (path, "installed") if path else (None, "apt-get installed no chromium binary")
