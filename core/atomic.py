"""Atomic file output: write to a temp file in the target folder, rename on success."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import signal
import tempfile
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

from vidprov.errors import MediaError

log = logging.getLogger(__name__)

STALE_S = 3600.0  # a dead writer's temp file untouched this long is swept


def _umask() -> int:
    """The process umask: from ``/proc`` where there is one (reading it there changes
    nothing), else by setting it and putting it straight back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


_TARGETS: dict[Path, Path] = {}  # live temp files -> the file each will become


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


_SWEPT: set[tuple[Path, str]] = set()  # (folder, name) swept by this process


def _sweep(folder: Path, name: str, suffix: str, now: float) -> None:
    """Remove the temp files that writers of ``folder/name`` killed outright (kill -9, a power
    cut) left behind: those named for processes that no longer run and untouched for
    :data:`STALE_S` before ``now`` (the new temp file's own time: the folder's clock, which on
    a network share is the server's). A live writer's file, or one from another machine
    sharing the folder that is still being written, is never old enough. Temp files of those
    temp files (a writer that writes atomically onto another's temp file, as embedding does)
    go too. Once per folder and name in a process: a folder of many files is listed once."""
    if (folder, name) in _SWEPT:
        return
    if len(_SWEPT) >= 4096:  # a server writing a new name per job: keep memory flat
        _SWEPT.clear()
    _SWEPT.add((folder, name))
    rand, sfx, n = r"[a-z0-9_]{8}", re.escape(suffix), re.escape(name)
    pattern = re.compile(
        rf"\.{n}\.(\d+)\.{rand}{sfx}|\.\.{n}\.(\d+)\.{rand}{sfx}\.(\d+)\.{rand}{sfx}"
    )
    try:
        entries = [e for e in os.scandir(folder) if e.name.lstrip(".").startswith(f"{name}.")]
    except OSError:
        return
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        try:
            if (
                m is None
                or not entry.is_file(follow_symlinks=False)
                or now - entry.stat(follow_symlinks=False).st_mtime < STALE_S
                or any(_alive(int(pid)) for pid in m.groups() if pid is not None)
            ):
                continue
            os.unlink(entry.path)
            log.info("removed %s, left by a writer that was killed", entry.path)
        except OSError:
            continue


def fsync(path: Path) -> None:
    """Flush the file or folder ``path`` to the disk; a file system that cannot (some network
    or FUSE mounts) is not an error."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def shown_as(path: str | Path) -> Path:
    """The name to show the user for ``path``: the target, if it is one of our live temp files
    (followed through temp files of temp files), else ``path`` itself."""
    p = Path(path)
    while p in _TARGETS:
        p = _TARGETS[p]
    return p


class AtomicFile:
    """A temp file beside ``target`` (same suffix, so formats are still guessed from it) that
    becomes ``target`` on :meth:`commit` or disappears on :meth:`discard`. A symbolic link is
    written through, as a shell's ``>`` would: the file it points to is replaced, the link kept
    (even one that points to no file yet). The temp file's name carries the process id, and
    temp files that a killed writer of the same target left behind are removed first
    (:func:`_sweep`).

    ``durable`` flushes the file and its folder to the disk on :meth:`commit`, so that a crash
    or power cut right after leaves the old file or the whole new one, never an empty one: for
    keys, key lists and models, which cannot be made again. Videos are not flushed (as ``cp``
    and FFmpeg do not): it would cost about 1 s per GB written, and a lost output can be made
    again.

    Raises:
        MediaError: the target folder does not exist or is not writable, or the target is a
            folder.
    """

    def __init__(self, target: str | Path, *, durable: bool = False) -> None:
        self.target = self.dest = Path(target)
        self.durable = durable
        if isinstance(target, str) and target.endswith(("/", os.sep)) and target.strip("/"):
            # Path() drops the slash: "newdir/" was written as a file called newdir
            raise MediaError("names a folder (it ends with /), not a file", target)
        try:
            if self.target.is_symlink():  # the file goes where the link points
                self.dest = Path(os.path.realpath(target))
                if self.dest.is_symlink():  # still a link: they point round in a loop
                    raise MediaError("symbolic link loop", self.target)
            folder = self.dest.parent
            if not folder.is_dir():
                what = "is a file, not a folder" if folder.exists() else "does not exist"
                link = f" (the link points to {self.dest})" if self.dest != self.target else ""
                raise MediaError(f"output folder {what}{link}", self.target)
            if self.target.is_dir():
                raise MediaError("is a folder, not a file", self.target)
        except OSError as exc:  # a name too long, a folder on the way that cannot be searched
            raise MediaError(f"cannot write here ({exc.strerror})", self.target) from exc
        suffix = self.target.suffix
        try:
            try:
                fd, name = tempfile.mkstemp(
                    prefix=f".{self.dest.name}.{os.getpid()}.", suffix=suffix, dir=folder
                )
            except OSError as exc:  # the process id made the name too long: a shorter one
                if exc.errno != errno.ENAMETOOLONG:
                    raise
                fd, name = tempfile.mkstemp(prefix=".", suffix=suffix, dir=folder)
        except OSError as exc:
            raise MediaError(f"cannot write here ({exc.strerror})", self.target) from exc
        try:
            now = os.fstat(fd).st_mtime
        finally:
            os.close(fd)
        _sweep(folder, self.dest.name, suffix, now)
        self.tmp = Path(name)
        _TARGETS[self.tmp] = self.target
        # dropped without commit or discard (a writer never closed), or still open when the
        # interpreter exits: the temp file goes (it used to stay, hidden, beside the target)
        self._drop = weakref.finalize(self, _remove, self.tmp)

    def commit(self, mode: int | None = None) -> None:
        """Set the permission bits and rename the temp file onto the target (flushing both to
        the disk first if ``durable``).

        ``mode`` when given; otherwise those of the file being replaced, or for a new file what
        an ordinary ``open`` would give (0o666 less the umask): the temp file itself is created
        private (0o600), which a finished output should not stay."""
        if mode is None:
            try:
                mode = self.target.stat().st_mode & 0o7777
            except OSError:
                mode = 0o666 & ~_umask()
        os.chmod(self.tmp, mode)
        if self.durable:
            fsync(self.tmp)
        os.replace(self.tmp, self.dest)
        _TARGETS.pop(self.tmp, None)
        self._drop.detach()
        if self.durable:
            fsync(self.dest.parent)

    def discard(self) -> None:
        """Remove the temp file; the target is left as it was."""
        self._drop.detach()
        _remove(self.tmp)


def _remove(tmp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    _TARGETS.pop(tmp, None)


@contextlib.contextmanager
def atomic_path(
    target: str | Path, mode: int | None = None, *, durable: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` if the block succeeds.

    On any exception the temp file is removed and ``target`` is left as it was.

    Args:
        target: the final path.
        mode: optional permission bits applied before the rename (e.g. ``0o600``).
        durable: flush the file and its folder to the disk (see :class:`AtomicFile`).

    Raises:
        MediaError: the target folder does not exist or is not writable.
    """
    out = AtomicFile(target, durable=durable)
    try:
        yield out.tmp
        out.commit(mode)
    except BaseException:
        out.discard()
        raise


def check_writable(target: str | Path) -> Path:
    """Fail now, not after a long job, if ``target`` could not be written atomically.

    Raises:
        MediaError: the target folder does not exist or is not writable, or the target is a
            folder.
    """
    AtomicFile(target).discard()
    return Path(target)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP that arrive inside the block take effect when it ends, as
    they would have (an ignored one stays ignored): for native code that calls back into
    Python (c2pa's signer callback), where an exception raised mid-call is swallowed or turns
    into a bad signature. Only in the main thread (the only one that receives signals);
    elsewhere the block runs as is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = [
        s
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        if signal.getsignal(s) is not signal.SIG_IGN  # nohup: a hang-up is not an exit
    ]
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if caught:
        handler = previous[caught[0]]
        if callable(handler):
            handler(caught[0], None)
        elif handler == signal.SIG_DFL:
            if caught[0] == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + caught[0])
