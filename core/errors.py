"""One exception hierarchy for the whole library.

Every error a user can cause (bad file, bad key, bad payload, ...) is a :class:`VidprovError`
subclass whose message names the file and the problem. The CLI turns these into a one-line
message and exit code 2; the API into a 4xx JSON body.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any


class VidprovError(Exception):
    """Base class of every error vidprov raises on purpose.

    Args:
        message: what went wrong, in one sentence.
        path: the file concerned, if any; it is prefixed to the message (one of our live temp
            files is named as its target: :func:`vidprov.atomic.shown_as`).
    """

    code = "vidprov_error"

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        if path is not None:  # a temp file is named as the file it will become
            from vidprov.atomic import shown_as

            path = shown_as(path)
        self.path = str(path) if path is not None else None
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)

    def to_dict(self) -> dict[str, str | None]:
        """The error as a JSON-ready dict: ``{"error", "message", "path"}``."""
        return {"error": self.code, "message": str(self), "path": self.path}


class MediaError(VidprovError):
    """A video file is missing, empty, unreadable, truncated, or cannot be written."""

    code = "media_error"


class KeyError_(VidprovError):
    """A key file is missing, malformed, or would be overwritten."""

    code = "key_error"


class ConfigError(VidprovError):
    """An option or setting has an invalid value."""

    code = "config_error"


class WatermarkError(VidprovError):
    """A watermark payload, key or input cannot be used (bad hex, wrong length, tiny frames)."""

    code = "watermark_error"


class ProvenanceError(VidprovError):
    """Signing or verification cannot proceed: missing or bad certificates, an unsupported
    container, an unreadable manifest, or a signer that failed."""

    code = "provenance_error"


class GeneratorError(VidprovError):
    """A generation request cannot be served: unknown model, weights not present offline,
    out of memory, or an option that would let an unmarked clip out (e.g. latent output)."""

    code = "generator_error"


class OptionError(GeneratorError):
    """A generation option out of its limits or one the preset cannot make; ``option`` names
    it as the library does (``frames``, ``num_videos``), so a front end can name its own flag.
    The JSON code stays ``generator_error``."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option

    def __reduce__(self) -> tuple[type[OptionError], tuple[str, str]]:
        return (type(self), (self.option, self.message))  # pickles across processes


class ModelUnavailableError(GeneratorError):
    """A known model whose weights are not on this machine (nothing is downloaded unless
    allowed), or fail to load: the machine's setup, not the request, is at fault."""

    code = "model_unavailable"


class GeneratorMemoryError(GeneratorError):
    """The machine ran out of memory making this request: the options are within limits but
    too big for what is free now; a smaller request (or a quieter machine) may succeed."""

    code = "out_of_memory"


class DetectorError(VidprovError):
    """A detector model cannot be loaded, trained or evaluated: missing or corrupt model file
    (checksum mismatch), unknown model name, or a dataset without usable clips."""

    code = "detector_error"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(s: str) -> str:
    """``s`` without lone surrogates, which strict JSON parsers refuse: a file name's bytes
    that are not UTF-8 (Python keeps them as surrogates) become ``\\xNN`` text."""
    if not _SURROGATE.search(s):
        return s
    try:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def printable(text: str) -> str:
    """``text`` with control characters escaped (a newline in a file name becomes ``\\n``),
    so a message stays on one line and a log line stays one line; a file name's bytes that
    are not UTF-8 as ``\\xNN``, as in JSON output (:func:`json_safe`)."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in _text(text))


def json_safe(value: Any) -> Any:
    """``value`` (inside dicts and lists too) as strict JSON can carry it: NaN and infinities
    as ``None`` (JSON has no such numbers) and strings without lone surrogates (the CLI's and
    the API's output)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
