"""Training windows and mixed clips keep only the frames they use, whatever the source's length."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from vidprov.media import make_clip

W, H, FPS = 320, 240, 30
FRAME = W * H * 3  # one decoded RGB frame

# Peak memory (max RSS) after a warm-up on a short clip, then after the same jobs on a long one:
# decoded frames live in FFmpeg's buffers, which tracemalloc does not see.
_JOBS = """
import json, resource, sys
from pathlib import Path
import numpy as np
from vidprov.detector.data import ClipEntry, NormaliseConfig, make_mixed, normalised_windows

def run(clip, tmp):
    e = ClipEntry(Path(clip), "real", "camera", "s", "g")
    cfg = NormaliseConfig(sizes=((160, 120),))
    normalised_windows(e, [Path(tmp, "w0.mp4"), Path(tmp, "w1.mp4")], np.random.default_rng(0), cfg)
    make_mixed(e, e, Path(tmp, "m.mp4"), np.random.default_rng(1), seconds=4.0)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

short, long, tmp = sys.argv[1:]
print(json.dumps([run(short, tmp), run(long, tmp)]))
"""


def test_windows_and_mixed_clips_hold_a_few_frames_not_the_clip(tmp_path: Path) -> None:
    short = make_clip(tmp_path / "short.mp4", seconds=2, width=W, height=H, fps=FPS)
    long = make_clip(tmp_path / "long.mp4", seconds=20, width=W, height=H, fps=FPS)
    p = subprocess.run(
        [sys.executable, "-c", _JOBS, str(short), str(long), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    after_short, after_long = json.loads(p.stdout)
    # the long clip decoded whole would be 600 frames (two of them for a mixed clip)
    assert after_long - after_short < 60 * FRAME
