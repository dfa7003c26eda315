"""Server settings: one frozen dataclass, built in code or from ``VIDPROV_API_*`` variables.

``vidprov serve`` turns its options into these variables so that every uvicorn worker process
builds the same settings (:func:`ApiSettings.from_env`).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from vidprov.config import home_dir
from vidprov.errors import ConfigError
from vidprov.fields import check_field_types

log = logging.getLogger(__name__)

ENV_PREFIX = "VIDPROV_API_"
_UNKNOWN: set[str] = set()  # unknown variables already reported (they went unsaid)
MB = 1024 * 1024


@dataclass(frozen=True)
class ApiSettings:
    """What the HTTP service allows and where it keeps its state.

    Args:
        api_keys_file: keys file (see :mod:`vidprov.api.auth`); default ``$VIDPROV_HOME/api_keys``
            when that file exists.
        api_keys: keys given inline (the keys-file format, entries separated by ``;`` or
            newlines), added to those of the file.
        state_dir: job database and generated files kept for download (default
            ``$VIDPROV_HOME/api``); shared by all worker processes.
        tmp_dir: where uploads are streamed (default: the system temp folder); each upload gets
            its own private folder, removed when its request or job ends.
        trust_anchors: PEM roots for C2PA verification (default: the home anchors).
        watermark_key_file: watermark key (default: the home key; without one the watermark
            is not read).
        max_upload_mb: largest accepted upload (413 beyond).
        max_duration_s: longest accepted clip (413 beyond).
        max_pixels: largest accepted frame, width x height (413 beyond).
        max_fps: most frames accepted per second of clip (at least this many in any clip; 413
            beyond): a scan decodes every frame, and a 5 s clip at 2,000 fps (9,800 frames,
            360 KB) took 12 times as long to scan as a 30 fps one.
        request_timeout_s: how long a synchronous request waits for its work; past it the
            answer is 504 with the id of the job that carries on.
        upload_idle_timeout_s: longest pause while receiving an upload (408 beyond).
        upload_timeout_s: longest time to receive a whole upload (408 beyond).
        header_timeout_s: longest time to receive a request's line and headers, from the
            connection's start or the end of its last answer: past it the connection is closed
            (with a 408 when part of a request came). uvicorn set no such limit: a client that
            connected and sent nothing, or half a header, held its connection for ever.
        max_concurrent: scans/verifications/generations run at once per worker process.
        max_queue: jobs waiting or running per worker process before new ones get 503.
        job_ttl_s: how long finished jobs and generated files are kept.
        shutdown_grace_s: how long a stopping server lets running jobs finish before it stops
            them at their next progress report (then as long again for them to end). A stop
            takes uvicorn's 10 s for open requests plus twice this, plus the time a running
            job takes to reach its next report: most of a scan, whose two stages each report
            once (docs/api.md), so a container's stop timeout should exceed the longest scan.
        generate_models: preset names clients may generate with (empty: every registered one).
        max_frames, max_side, max_steps: generation limits.
    """

    api_keys_file: Path | None = None
    api_keys: str | None = None
    state_dir: Path | None = None
    tmp_dir: Path | None = None
    trust_anchors: Path | None = None
    watermark_key_file: Path | None = None
    max_upload_mb: float = 512.0
    max_duration_s: float = 600.0
    max_pixels: int = 3840 * 2160
    max_fps: float = 240.0
    request_timeout_s: float = 300.0
    upload_idle_timeout_s: float = 30.0
    upload_timeout_s: float = 900.0
    header_timeout_s: float = 30.0
    max_concurrent: int = 2
    max_queue: int = 32
    job_ttl_s: float = 3600.0
    shutdown_grace_s: float = 5.0
    generate_models: tuple[str, ...] = ()
    max_frames: int = 121
    max_side: int = 1280
    max_steps: int = 50

    def __post_init__(self) -> None:
        self._coerce()
        positive = (
            "max_upload_mb",
            "max_duration_s",
            "max_pixels",
            "max_fps",
            "request_timeout_s",
            "upload_idle_timeout_s",
            "upload_timeout_s",
            "header_timeout_s",
            "max_concurrent",
            "max_queue",
            "job_ttl_s",
            "shutdown_grace_s",
            "max_frames",
            "max_side",
            "max_steps",
        )
        for name in positive:  # inf passed, then every upload failed (500) on its int()
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"API setting {name} must be a positive number, got {value}")

    def _coerce(self) -> None:
        """Take what a caller in code naturally passes: a ``str`` for a path, ``~`` expanded
        (an ``"a/b"`` state folder failed deep in the job store with a bare TypeError), one
        name, a comma-separated list (as ``VIDPROV_API_GENERATE_MODELS`` takes) or a list for
        ``generate_models`` (a name was read as its letters), any kind of number; then check
        every field's type (:func:`vidprov.fields.check_field_types`).

        Raises:
            ConfigError: a setting of the wrong type, an empty text path (the current folder),
                a ``~user`` path for no such user.
        """
        for f in fields(self):
            value, kind = getattr(self, f.name), str(f.type)
            if value is None:
                continue
            if kind.startswith("Path"):
                if not isinstance(value, str | os.PathLike) or not os.fspath(value):
                    raise ConfigError(f"API setting {f.name} must be a path, got {value!r}")
                value = _expanded(f.name, value)
            elif kind.startswith("tuple") and isinstance(value, str):
                value = tuple(s.strip() for s in value.split(",") if s.strip())
            elif kind.startswith("tuple") and isinstance(value, list):
                value = tuple(value)
            object.__setattr__(self, f.name, value)
        check_field_types(self, ConfigError)
        for name in (f.name for f in fields(self) if str(f.type).startswith("tuple")):
            if not all(isinstance(v, str) for v in getattr(self, name)):
                raise ConfigError(f"API setting {name} must be a list of names")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @property
    def state_path(self) -> Path:
        return self.state_dir if self.state_dir is not None else home_dir() / "api"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ApiSettings:
        """Settings from ``VIDPROV_API_<FIELD>`` variables (e.g. ``VIDPROV_API_MAX_UPLOAD_MB``).

        Raises:
            ConfigError: a variable does not parse as its field's type, or is out of range.
        """
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, str(f.type), raw)
        known = {ENV_PREFIX + f.name.upper() for f in fields(cls)}
        for name in sorted(n for n in env if n.startswith(ENV_PREFIX) and n not in known):
            if name not in _UNKNOWN:  # once per process: serve and its app both read them
                _UNKNOWN.add(name)
                log.warning("%s is not a setting (a misspelling?); ignored", name)
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The ``VIDPROV_API_*`` variables that rebuild these settings in another process."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == f.default:
                continue
            text = ",".join(value) if isinstance(value, tuple) else str(value)
            out[ENV_PREFIX + f.name.upper()] = text
        return out


def _expanded(name: str, value: str | os.PathLike[str]) -> Path:
    """``value`` as a path with ``~`` expanded.

    Raises:
        ConfigError: ``~user`` for a user there is no home folder for.
    """
    try:
        return Path(value).expanduser()
    except RuntimeError as exc:  # Path("~nosuch").expanduser()
        raise ConfigError(f"API setting {name}: {exc} ({os.fspath(value)})") from exc


def _parse(name: str, kind: str, raw: str) -> Any:
    try:
        if kind.startswith("Path"):
            return _expanded(name, raw)
        if kind.startswith("tuple"):
            return tuple(s.strip() for s in raw.split(",") if s.strip())
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from exc
    return raw
