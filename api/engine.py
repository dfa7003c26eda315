"""The library calls behind the routes, injected into the app so tests can replace them.

The scan itself is a :data:`Scanner`: ``scanner(path, progress) -> Verdict`` (with
``threshold=P`` as well when a request sets the classifier's threshold). By default it is
:class:`DefaultScanner`, i.e. :func:`vidprov.detector.scan.scan_file` with the model shipped
with vidprov (loaded once, on first use).
"""

from __future__ import annotations

import inspect
import logging
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vidprov.api.errors import ApiError
from vidprov.api.settings import ApiSettings
from vidprov.errors import (
    DetectorError,
    KeyError_,
    ModelUnavailableError,
    ProvenanceError,
)

if TYPE_CHECKING:
    from vidprov.detector.models import Detector
    from vidprov.detector.verdict import Verdict
    from vidprov.generator import GenerationResult, SignedGenerator

log = logging.getLogger(__name__)

ProgressFn = Callable[[float], None] | None


class Scanner(Protocol):
    """Scans one clip: ``scanner(path, progress) -> Verdict``; a request that sets the
    classifier's threshold calls ``scanner(path, progress, threshold=P)``."""

    def __call__(
        self, path: Path, progress: ProgressFn, threshold: float | None = None
    ) -> Verdict: ...


class KeySource:
    """The watermark key, read once; None when the server has none."""

    def __init__(self, key_file: Path | None) -> None:
        self.key_file = key_file
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def get(self) -> bytes | None:
        from vidprov.keys import load_watermark_key

        with self._lock:
            if self._key is None:
                try:
                    self._key = load_watermark_key(self.key_file)
                except KeyError_:
                    return None
            return self._key

    def require(self) -> bytes:
        """The key.

        Raises:
            KeyError_: the server has no watermark key (answered as 503).
        """
        key = self.get()
        if key is None:
            raise KeyError_("this server has no watermark key (run `vidprov keys init`)")
        return key


class DefaultScanner:
    """Manifest + watermark + the shipped classifier, fused (``scan_file``'s defaults)."""

    def __init__(self, settings: ApiSettings, keys: KeySource) -> None:
        self.settings, self.keys = settings, keys
        self._detector: Detector | None = None
        self._lock = threading.Lock()

    def detector(self) -> Detector:
        """The shipped classifier, loaded on first use.

        Raises:
            DetectorError: no model is installed, or it fails its checksum.
        """
        with self._lock:
            if self._detector is None:
                try:
                    from vidprov.detector.models import load_default
                except ImportError as exc:
                    raise DetectorError(f"no classifier installed ({exc})") from exc
                self._detector = load_default()
                log.info("classifier loaded")
            return self._detector

    def __call__(self, path: Path, progress: ProgressFn, threshold: float | None = None) -> Verdict:
        from vidprov.detector.scan import scan_file

        return scan_file(
            path,
            detector=self.detector(),
            trust_anchors=self.settings.trust_anchors,
            key=self.keys.get(),
            progress=progress,
            threshold=threshold,
        )


class Engine:
    """What the routes call: scan, verify, detect, generate."""

    def __init__(self, settings: ApiSettings, scanner: Scanner | None = None) -> None:
        self.settings = settings
        self.keys = KeySource(settings.watermark_key_file)
        self.scanner: Scanner = scanner or DefaultScanner(settings, self.keys)
        self._generators: dict[str, tuple[threading.Lock, SignedGenerator]] = {}
        self._gen_lock = threading.Lock()

    def redact(self, value: Any) -> Any:
        """``value`` with the server's own folders (home, state, temp, key and anchor files)
        named generically: a response says ``$VIDPROV_HOME/watermark.key``, never where."""
        from vidprov.api.uploads import replace_text
        from vidprov.config import home_dir

        s = self.settings
        names = {
            str(home_dir()): "$VIDPROV_HOME",
            str(s.state_path): "<state>",
            str(s.tmp_dir or tempfile.gettempdir()): "<tmp>",
        }
        for path, label in ((s.trust_anchors, "<trust-anchors>"), (s.watermark_key_file, "<key>")):
            if path is not None:
                names[str(path)] = label
        return replace_text(value, {k: v for k, v in names.items() if len(k) > 1})

    @property
    def takes_threshold(self) -> bool:
        """Whether the scanner takes ``threshold=`` (a custom one given to ``create_app`` may
        not: asked for one, it failed with a 500)."""
        try:
            params = inspect.signature(self.scanner).parameters.values()
        except (TypeError, ValueError):
            return False
        return any(p.name == "threshold" or p.kind is p.VAR_KEYWORD for p in params)

    def scan(
        self, path: Path, progress: ProgressFn, threshold: float | None = None
    ) -> dict[str, Any]:
        """``threshold``: the classifier's P(ai) from which the clip or a segment reads
        ``ai`` (None: the model's own); passed on only when set."""
        if threshold is None:
            return self.scanner(path, progress).to_dict()
        return self.scanner(path, progress, threshold=threshold).to_dict()

    def verify(self, path: Path, progress: ProgressFn) -> dict[str, Any]:
        from vidprov.provenance.verify import verify_file

        report = verify_file(
            path, self.settings.trust_anchors, key=self.keys.get(), progress=progress
        )
        return report.to_dict()

    def detect(self, path: Path, progress: ProgressFn) -> dict[str, Any]:
        from vidprov.watermark import detect_file

        return detect_file(path, self.keys.require(), progress=progress).to_dict()

    def models(self) -> list[str]:
        """Preset names clients may generate with."""
        from vidprov.generator import list_presets

        names = [p.name for p in list_presets()]
        allowed = self.settings.generate_models
        return [n for n in names if n in allowed] if allowed else names

    def generator(self, model: str) -> tuple[threading.Lock, SignedGenerator]:
        """A generator for a preset name (built once) and the lock that serialises its use.

        Raises:
            ApiError: 422 for a model not offered here; 503 without keys or certificates, or
                without the preset's weights (the client gets no setup instructions; the log
                does).
        """
        if model not in self.models():
            raise ApiError(
                422,
                "unknown_model",
                f"model {model!r} is not offered here (choose one of: {', '.join(self.models())})",
            )
        from vidprov.generator import SignedGenerator

        with self._gen_lock:
            if model not in self._generators:
                try:
                    gen = SignedGenerator(model, key=self.keys.require())
                except ModelUnavailableError as exc:
                    log.warning("model %s unavailable: %s", model, exc)
                    raise ApiError(
                        503,
                        "model_unavailable",
                        f"model {model!r} is not installed on this server (its weights are "
                        "missing); ask its operator, or choose another",
                    ) from exc
                except (KeyError_, ProvenanceError) as exc:
                    log.warning("generation unavailable: %s", exc)
                    raise ApiError(
                        503,
                        "not_configured",
                        "this server cannot sign clips: its watermark key, signing "
                        "certificate or manifest store is missing or unusable (its operator "
                        "will find which in the server log)",
                    ) from exc
                self._generators[model] = (threading.Lock(), gen)
            return self._generators[model]

    def generate(
        self, model: str, prompt: str, out: Path, options: dict[str, Any], progress: ProgressFn
    ) -> GenerationResult:
        """One signed clip at ``out``.

        Raises:
            GeneratorError: a request this model cannot make (sizes it refuses, a mark that
                would not survive), or out of memory for it (``GeneratorMemoryError``, a 503):
                the library says so itself.
            ApiError: see :meth:`generator`.

        Anything else (a ``RuntimeError`` from torch, a thread pool refusing work while the
        server stops) goes up as it is: it is not the request's fault, so it must not read as
        a 422.
        """
        lock, gen = self.generator(model)
        with lock:
            return gen.generate(prompt, out, progress=progress, **options)
