"""Detector model registry (``register`` / ``create`` / ``list_models``), loading and the
model shipped with vidprov (``load_default``)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidprov.detector.models.base import Detector, Encoded, load_blob, restore
from vidprov.detector.models.cnn import CnnDetector
from vidprov.detector.models.forensic import ForensicDetector
from vidprov.errors import DetectorError

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "default"
DEFAULT_FILE = DEFAULT_DIR / "model.joblib"
DEFAULT_CARD = DEFAULT_DIR / "model.json"


@dataclass(frozen=True)
class ModelSpec:
    """A registered model name: its class and config overrides."""

    name: str
    cls: type[Detector]
    config: dict[str, Any] = field(default_factory=dict)
    description: str = ""


_REGISTRY: dict[str, ModelSpec] = {}
_KINDS: dict[str, type[Detector]] = {c.kind: c for c in (ForensicDetector, CnnDetector)}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model name to the registry (replacing one of the same name)."""
    _REGISTRY[spec.name] = spec
    return spec


def list_models() -> list[ModelSpec]:
    """Registered model specs, by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def create(name: str, **overrides: Any) -> Detector:
    """An untrained detector for a registered name.

    Raises:
        DetectorError: unknown name.
    """
    spec = _REGISTRY.get(name)
    if spec is None:
        raise DetectorError(
            f"unknown detector model {name!r} (known: {', '.join(sorted(_REGISTRY))})"
        )
    return spec.cls(name, {**spec.config, **overrides})


def _kind(kind: str) -> type[Detector]:
    if kind not in _KINDS:
        raise DetectorError(f"unknown detector kind {kind!r}")
    return _KINDS[kind]


def load(path: str | Path, expect_sha256: str | None = None) -> Detector:
    """Load a saved detector (checksum checked against ``<path>.sha256`` when present).

    Raises:
        DetectorError: missing, corrupt, or not a vidprov model file, or trained on another
            version's features.
    """
    blob = load_blob(path, expect_sha256)
    try:
        det = restore(_kind, blob)
    except DetectorError as exc:
        if exc.path is None:
            raise DetectorError(exc.message, path) from exc
        raise
    det.sha256 = blob["file_sha256"]  # a verdict says which model file scored it
    return det


@functools.lru_cache(maxsize=1)
def load_default() -> Detector:
    """The model shipped inside the package, its checksum checked against its model card.

    Raises:
        DetectorError: the shipped model is missing or does not match its checksum.
    """
    if not DEFAULT_CARD.is_file():
        raise DetectorError("the shipped detector model card is missing", DEFAULT_CARD)
    card = json.loads(DEFAULT_CARD.read_text())
    return load(DEFAULT_FILE, card["sha256"])


def default_card() -> dict[str, Any]:
    """The shipped model's card: checksum, training config and evaluation report."""
    return json.loads(DEFAULT_CARD.read_text()) if DEFAULT_CARD.is_file() else {}


register(
    ModelSpec("forensic-rf", ForensicDetector, {}, "windowed forensic features + random forest")
)
register(
    ModelSpec("timm-resnet10t", CnnDetector, {"arch": "resnet10t"}, "timm ResNet-10t from scratch")
)
register(
    ModelSpec(
        "timm-cnn-cpu",
        CnnDetector,
        {"arch": "resnet10t", "train_crop": 64},
        "timm ResNet-10t from scratch, 64-pixel training crops (CPU config)",
    )
)
register(
    ModelSpec(
        "tiny-cnn",
        CnnDetector,
        {"arch": "test_efficientnet", "crop": 64, "train_crop": 48, "epochs": 1, "batch": 16},
        "tiny timm network for smoke tests",
    )
)

__all__ = [
    "Detector",
    "Encoded",
    "ModelSpec",
    "create",
    "default_card",
    "list_models",
    "load",
    "load_default",
    "register",
]
