"""Atomic writes: all or nothing, and the finished file gets ordinary permissions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vidprov.atomic import atomic_path, check_writable


def test_new_file_gets_the_umask_not_the_temp_files_0600(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        with atomic_path(tmp_path / "out.txt") as tmp:
            tmp.write_text("done")
    finally:
        os.umask(old)
    assert (tmp_path / "out.txt").read_text() == "done"
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o640


def test_replaced_file_keeps_its_mode_and_explicit_mode_wins(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o604)
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.stat().st_mode & 0o777 == 0o604
    with atomic_path(tmp_path / "key", mode=0o600) as tmp:
        tmp.write_text("secret")
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600


def test_failure_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_folder_or_a_missing_folder_is_refused_before_any_work(tmp_path: Path) -> None:
    from vidprov.atomic import check_writable
    from vidprov.errors import MediaError

    with pytest.raises(MediaError, match="is a folder, not a file"):
        check_writable(tmp_path)
    with pytest.raises(MediaError, match="output folder does not exist"):
        check_writable(tmp_path / "no" / "x.bin")
    assert check_writable(tmp_path / "x.bin") == tmp_path / "x.bin"
    # a name ending in a slash is a folder to the user; Path() drops the slash, and a model
    # trained with --out newdir/ was saved as a file called newdir
    with pytest.raises(MediaError, match="names a folder"):
        check_writable(f"{tmp_path}/newdir/")
    assert list(tmp_path.iterdir()) == []  # no temp file left behind


def test_a_link_is_written_through_and_kept(tmp_path: Path) -> None:
    from vidprov.errors import MediaError

    store = tmp_path / "store"
    store.mkdir()
    (store / "plot.png").write_text("old")
    link, dangling = tmp_path / "plot.png", tmp_path / "new.png"
    link.symlink_to(store / "plot.png")
    dangling.symlink_to(store / "new.png")  # points to no file yet, as `>` would create
    for name in (link, dangling):
        with atomic_path(name) as tmp:
            tmp.write_text(f"written via {name.name}")
        assert name.is_symlink()  # the link was replaced by a plain file
    assert (store / "plot.png").read_text() == "written via plot.png"
    assert (store / "new.png").read_text() == "written via new.png"
    assert sorted(p.name for p in store.iterdir()) == ["new.png", "plot.png"]  # no temp left
    loop, back = tmp_path / "loop.png", tmp_path / "back.png"
    loop.symlink_to(back)
    back.symlink_to(loop)
    with pytest.raises(MediaError, match="symbolic link loop"):
        check_writable(loop)  # a shell's > fails too; it became a plain file
    assert loop.is_symlink() and back.is_symlink()
    nowhere = tmp_path / "nowhere.png"
    nowhere.symlink_to(tmp_path / "gone" / "x.png")
    with pytest.raises(MediaError, match=r"does not exist \(the link points to .*gone/x\.png\)"):
        check_writable(nowhere)


def test_signals_held_take_effect_when_the_block_ends() -> None:
    import os
    import signal

    from vidprov.atomic import signals_held

    # Python's own SIGINT handler, whatever the run inherited: a shell's background job starts
    # with SIGINT ignored, and Python then keeps it ignored
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        done = []
        with pytest.raises(KeyboardInterrupt), signals_held():
            os.kill(os.getpid(), signal.SIGINT)  # delivered here, acted on at the end
            done.append("finished")
        assert done == ["finished"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        # an ignored SIGINT stays ignored: held, then dropped as it would have been
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("again")
        assert done == ["finished", "again"]
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_a_live_temp_file_is_shown_as_its_target(tmp_path: Path) -> None:
    from vidprov.atomic import AtomicFile, shown_as
    from vidprov.errors import MediaError

    outer = AtomicFile(tmp_path / "out.mp4")
    inner = AtomicFile(outer.tmp)  # a writer that writes atomically onto a temp file
    assert shown_as(inner.tmp) == shown_as(outer.tmp) == tmp_path / "out.mp4"
    assert MediaError("no frames", inner.tmp).path == str(tmp_path / "out.mp4")  # in messages
    inner.discard()
    outer.discard()
    assert shown_as(outer.tmp) == outer.tmp  # no longer ours


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid  # reaped: no process has this id until the counter wraps


def test_a_killed_writers_old_temp_file_is_swept_and_nothing_else(tmp_path: Path) -> None:
    from vidprov.atomic import STALE_S

    dead, old = _dead_pid(), 0.0
    left = tmp_path / f".out.mp4.{dead}.abc_1234.mp4"  # what kill -9 left mid-write
    inner = tmp_path / f".{left.name}.{dead}.def45678.mp4"  # a writer's, onto that temp file
    young = tmp_path / f".out.mp4.{dead}.young123.mp4"  # as fresh as a live writer's
    live = tmp_path / f".out.mp4.{os.getpid()}.live9999.mp4"  # ours: still being written
    other = tmp_path / f".other.mp4.{dead}.abc12345.mp4"  # another target's
    mine = tmp_path / ".out.mp4.notapid.mp4"  # not a name we make
    # a temp file of the target "out.mp4.77.mp4" (digits in a name are not a process id)
    digits = tmp_path / f".out.mp4.77.mp4.{dead}.abc12345.mp4"
    for p in (left, inner, young, live, other, mine, digits):
        p.write_bytes(b"partial")
    for p in (left, inner, live, other, mine, digits):
        os.utime(p, (old, old))
    assert old < STALE_S
    with atomic_path(tmp_path / "out.mp4") as tmp:
        assert tmp.name.startswith(f".out.mp4.{os.getpid()}.")
        tmp.write_bytes(b"done")
    assert (tmp_path / "out.mp4").read_bytes() == b"done"
    assert not left.exists() and not inner.exists()
    assert young.exists() and live.exists() and other.exists() and mine.exists()
    assert digits.exists()


def test_a_name_the_process_id_makes_too_long_still_writes(tmp_path: Path) -> None:
    """A 240-character name left no room for the process id in its temp file's name."""
    target = tmp_path / ("x" * 240 + ".mp4")
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"done")
    assert target.read_bytes() == b"done" and len(list(tmp_path.iterdir())) == 1


def test_a_durable_commit_flushes_the_file_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stat

    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        synced.append("folder" if stat.S_ISDIR(st.st_mode) else f"file {st.st_size}")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with atomic_path(tmp_path / "key", durable=True) as tmp:
        tmp.write_text("done")
        assert synced == []
    assert synced == ["file 4", "folder"]
    with atomic_path(tmp_path / "video.mp4") as tmp:  # not durable: a video can be made again
        tmp.write_text("frames")
    assert synced == ["file 4", "folder"]


def test_new_keys_are_flushed_to_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vidprov.keys import init_keys
    from vidprov.provenance.pki import PkiPaths

    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    init_keys(tmp_path)
    names = [Path(p).name for p in synced]
    for made in (tmp_path / "watermark.key", *PkiPaths.under(tmp_path).all()):
        # written as itself or as a temp file named for it, then renamed into place
        assert any(n == made.name or n.startswith(f".{made.name}.") for n in names), made
    # the folders the keys were renamed into
    assert {str(tmp_path), str(PkiPaths.under(tmp_path).signer_key.parent)} <= set(synced)


def test_a_temp_file_never_committed_goes_with_its_object(tmp_path: Path) -> None:
    """A writer dropped without close() left its hidden temp file for good."""
    import gc

    import numpy as np

    from vidprov.atomic import AtomicFile
    from vidprov.media import VideoWriter

    kept = AtomicFile(tmp_path / "kept.bin")
    kept.tmp.write_bytes(b"x")
    kept.commit()
    dropped = AtomicFile(tmp_path / "dropped.bin")
    dropped.tmp.write_bytes(b"half")
    w = VideoWriter(tmp_path / "o.mp4", 64, 48, 30)
    w.open()
    w.write(np.zeros((48, 64, 3), np.uint8))
    del dropped, w
    gc.collect()
    assert [p.name for p in tmp_path.iterdir()] == ["kept.bin"]
