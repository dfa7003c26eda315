"""Memory stays flat with clip length; interrupted writes leave nothing behind."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from vidprov.media import VideoReader, VideoWriter, make_clip, synth_frames


def _peak_while_reading(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    tracemalloc.reset_peak()
    n = 0
    with VideoReader(path) as r:
        for chunk in r.chunks(size=8, fmt="yuv420p"):
            n += len(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return n, peak


def test_memory_is_flat_in_clip_length(tmp_path: Path) -> None:
    short = make_clip(tmp_path / "short.mp4", seconds=1, width=320, height=240, fps=30)
    long = make_clip(tmp_path / "long.mp4", seconds=20, width=320, height=240, fps=30)
    n_short, peak_short = _peak_while_reading(short)
    n_long, peak_long = _peak_while_reading(long)
    assert (n_short, n_long) == (30, 600)
    frame_bytes = 320 * 240 * 3 // 2
    # 20x the frames, yet the peak stays within a few chunks of frames of the short clip's.
    assert peak_long < peak_short + 4 * 8 * frame_bytes
    assert peak_long < 600 * frame_bytes / 4


class Boom(Exception):
    pass


@pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt])
def test_interrupted_write_leaves_no_file(tmp_path: Path, exc: type[BaseException]) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(exc), VideoWriter(out, 64, 48, 30) as w:
        for i, f in enumerate(synth_frames(40, 64, 48)):
            w.write(f)
            if i == 20:
                raise exc()
    assert list(tmp_path.iterdir()) == []


def test_existing_file_untouched_by_failed_write(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous")
    with pytest.raises(Boom), VideoWriter(out, 64, 48, 30) as w:
        w.write(np.zeros((48, 64, 3), np.uint8))
        raise Boom()
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_writer_with_no_frames_leaves_no_file(tmp_path: Path) -> None:
    from vidprov.errors import MediaError

    out = tmp_path / "empty.mp4"
    with pytest.raises(MediaError, match="no frames"), VideoWriter(out, 64, 48, 30):
        pass
    assert list(tmp_path.iterdir()) == []
