"""A toy dataset whose classes differ the way camera and generated video do at their
simplest: 'real' clips carry sensor-like noise, 'ai' clips are smooth. Small enough to train
on in seconds; what it checks is the pipeline, not the shipped model's accuracy."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidprov.detector.data import NormaliseConfig
from vidprov.detector.models import Detector, load
from vidprov.detector.train import TrainConfig, train
from vidprov.media import EncodeOptions, VideoWriter, synth_frames

W, H, FPS = 320, 240, 24
# no augmentation: the toy classes differ only by fine noise, which resizing and CRF 35 erase;
# what the toy model tests is the pipeline, not robustness
GENTLE = NormaliseConfig(
    crf=(18, 18), abr_share=0.0, keep_scale_share=1.0, sizes=((W, H),), max_crop=0.0
)


def toy_frames(kind: str, n: int, seed: int) -> list[np.ndarray]:
    """``n`` frames of one toy clip; each seed has its own colour cast, so that two clips cut
    together make a shot change."""
    rng = np.random.default_rng(seed)
    cast = rng.uniform(-70, 70, 3)
    out = []
    for f in synth_frames(n, W, H, seed=seed):
        f = np.clip(f.astype(np.float32) + cast, 0, 255)
        if kind == "real":
            f = np.clip(f + rng.normal(0, 7, f.shape), 0, 255).astype(np.uint8)
        else:
            f = cv2.GaussianBlur(f.astype(np.uint8), (5, 5), 1.5)
        out.append(f)
    return out


def write(path: Path, frames: list[np.ndarray], fps: int = FPS) -> Path:
    with VideoWriter(path, W, H, fps, EncodeOptions(crf=18, preset="veryfast")) as w:
        for f in frames:
            w.write(f)
    return path


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("toydata")
    rows = []
    for kind in ("real", "ai"):
        (root / kind).mkdir()
        for i in range(6):
            name = f"{kind}/{kind}{i}.mp4"
            write(root / name, toy_frames(kind, 60, seed=100 * (kind == "ai") + i))
            gen = "" if kind == "real" else f"toygen{i % 2}"
            rows.append([name, kind, gen, f"toy/{kind}{i}", "HEAD", f"{kind}{i}/x.mp4"])
    with open(root / "index.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label", "generator", "source_repo", "source_commit", "source_path"])
        w.writerows(rows)
    return root


@pytest.fixture(scope="session")
def toy_model_file(toy_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toymodel") / "toy.joblib"
    cfg = TrainConfig(
        model="forensic-rf",
        windows_per_clip=2,
        splice_clips=12,
        splice_gif=False,  # the toy AI clips never were GIFs (and palettes of noise are slow)
        cv_folds=3,
        seed=0,
        normalise=GENTLE,
    )
    train(toy_data, out, cfg)
    return out


@pytest.fixture(scope="session")
def toy_model(toy_model_file: Path) -> Detector:
    return load(toy_model_file)
