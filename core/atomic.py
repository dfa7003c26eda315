"""Atomic file output: write to a temp file in the target folder, rename on success."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vidprov.errors import MediaError


@contextlib.contextmanager
def atomic_path(target: str | Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` if the block succeeds.

    The temp file keeps ``target``'s suffix, so container formats are still guessed from it.
    On any exception the temp file is removed and ``target`` is left as it was.

    Args:
        target: the final path.
        mode: optional permission bits applied before the rename (e.g. ``0o600``).

    Raises:
        MediaError: the target folder does not exist or is not writable.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise MediaError("output folder does not exist", target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=folder)
    except OSError as exc:
        raise MediaError(f"cannot write here ({exc.strerror})", target) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
