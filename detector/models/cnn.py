"""``timm-cnn``: a timm convolutional network trained here from scratch (no downloaded
weights) on high-pass residual crops of the sampled frames."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import cv2
import numpy as np

from vidprov.detector.models.base import Detector, Encoded
from vidprov.errors import DetectorError


def _residual_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    y0, x0 = (h - size) // 2, (w - size) // 2
    crop = rgb[y0 : y0 + size, x0 : x0 + size].astype(np.float32)
    res = crop - cv2.GaussianBlur(crop, (3, 3), 0)
    return np.clip(res * 8.0 + 128.0, 0, 255).astype(np.uint8).transpose(2, 0, 1)


class CnnDetector(Detector):
    """timm model (``arch``) on ``crop``-pixel residual crops; logits averaged per frame."""

    kind = "timm-cnn"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "arch": "resnet10t",
        "crop": 160,
        "train_crop": 96,
        "epochs": 8,
        "batch": 64,
        "lr": 2e-3,
        "threads": 2,
    }

    def __init__(self, name: str, config: dict[str, Any] | None = None) -> None:
        super().__init__(name, {**self.DEFAULTS, **(config or {})})
        self.net: Any = None

    def _build(self) -> Any:
        import timm

        return timm.create_model(self.config["arch"], pretrained=False, num_classes=1, in_chans=3)

    def init_net(self) -> None:
        """The network at its initial (random) weights, untrained: training starts here, and
        timing or shape checks can run on it (a forward pass costs the same whatever the
        weights)."""
        self.net = self._build()

    def encode_frames(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([_residual_crop(f, self.config["crop"]) for f in frames])

    def _forward(self, x: np.ndarray) -> np.ndarray:
        import torch

        t = (torch.from_numpy(x).float() - 128.0) / 32.0
        with torch.no_grad():
            return self.net(t).squeeze(1).numpy().astype(np.float64)

    def raw_logits(self, enc: Encoded) -> np.ndarray:
        x = enc.x
        if self.net is None:
            raise DetectorError(f"model {self.name!r} is not trained")
        self.net.eval()
        return np.concatenate([self._forward(x[i : i + 64]) for i in range(0, len(x), 64)])

    def fit_frames(self, clips: list[Encoded], y: np.ndarray, seed: int) -> None:
        import torch

        torch.manual_seed(seed)
        torch.set_num_threads(int(self.config["threads"]))
        rng = np.random.default_rng(seed)
        x = np.concatenate([c.x for c in clips])
        yy = np.concatenate([np.full(len(c.x), y[i], np.float32) for i, c in enumerate(clips)])
        self.init_net()
        opt = torch.optim.AdamW(self.net.parameters(), lr=self.config["lr"], weight_decay=1e-4)
        epochs, bs, tc = (
            int(self.config["epochs"]),
            int(self.config["batch"]),
            int(self.config["train_crop"]),
        )
        steps = epochs * max(1, len(x) // bs)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, self.config["lr"], total_steps=steps)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        full = x.shape[-1]
        self.net.train()
        for _ in range(steps):
            idx = rng.integers(0, len(x), bs)
            oy, ox = rng.integers(0, full - tc + 1, 2)
            batch = x[idx, :, oy : oy + tc, ox : ox + tc]
            if rng.random() < 0.5:
                batch = batch[..., ::-1]
            t = (torch.from_numpy(np.ascontiguousarray(batch)).float() - 128.0) / 32.0
            loss = loss_fn(self.net(t).squeeze(1), torch.from_numpy(yy[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        self.net.eval()

    def state(self) -> dict[str, Any]:
        return {k: v.detach().cpu().numpy() for k, v in self.net.state_dict().items()}

    def load_state(self, state: dict[str, Any]) -> None:
        import torch

        self.net = self._build()
        self.net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
        self.net.eval()
