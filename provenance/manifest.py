"""The manifest definitions vidprov signs: what was made, by which model, how, with which mark."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidprov import __version__
from vidprov.errors import MediaError, ProvenanceError
from vidprov.fields import check_field_types
from vidprov.provenance.composition import Piece
from vidprov.provenance.softbinding import SoftBindingBlock, to_assertion

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC + "trainedAlgorithmicMedia"
COMPOSITE_TRAINED = IPTC + "compositeWithTrainedAlgorithmicMedia"
CAPTURE = IPTC + "digitalCapture"
COMPOSITE = IPTC + "composite"
GENERATION_LABEL = "io.vidprov.generation"


@dataclass(frozen=True)
class Container:
    """A container format as a file's first bytes identify it.

    Args:
        name: what to call it in messages ("MP4", "WebM", ...).
        suffix: its usual file suffix.
        mime: the MIME type c2pa reads and embeds manifests with; None for a container C2PA
            is not read from.
    """

    name: str
    suffix: str
    mime: str | None = None


MP4 = Container("MP4", ".mp4", "video/mp4")
QUICKTIME = Container("QuickTime", ".mov", "video/quicktime")
AVI = Container("AVI", ".avi", "video/x-msvideo")

# Containers c2pa can embed a manifest in, by suffix.
CONTAINER_BY_SUFFIX = {".mp4": MP4, ".m4v": MP4, ".mov": QUICKTIME, ".avi": AVI}
MIME_BY_SUFFIX = {s: str(c.mime) for s, c in CONTAINER_BY_SUFFIX.items()}
#: bytes :func:`container_of` reads: an MPEG-TS is told by its second packet's sync byte
HEAD_BYTES = 192
_TS_PACKET = 188


def sniff_container(head: bytes) -> Container | None:
    """The container a file's first bytes (:data:`HEAD_BYTES` of them, fewer will do for all
    but MPEG-TS) say it is; None when they start no container we know.

    The C2PA family (ISO BMFF as MP4 or QuickTime, RIFF AVI) is told apart from the video
    containers C2PA is not read from (Matroska, WebM, GIF, MPEG-TS/PS, Ogg, FLV, ASF), so that a
    file is read as what it is, whatever its name.
    """
    if head[4:8] == b"ftyp":
        return QUICKTIME if head[8:12] == b"qt  " else MP4
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return AVI
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML; the DocType comes within the first bytes
        return Container("WebM", ".webm") if b"webm" in head[:64] else Container("Matroska", ".mkv")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Container("GIF", ".gif")
    if head[:1] == b"G" and head[_TS_PACKET : _TS_PACKET + 1] == b"G":
        return Container("MPEG-TS", ".ts")
    if head[:4] == b"\x00\x00\x01\xba":
        return Container("MPEG-PS", ".mpg")
    if head[:4] == b"OggS":
        return Container("Ogg", ".ogv")
    if head[:3] == b"FLV":
        return Container("FLV", ".flv")
    if head[:8] == b"\x30\x26\xb2\x75\x8e\x66\xcf\x11":
        return Container("ASF", ".wmv")
    return None


def container_of(path: Path) -> Container | None:
    """What ``path`` holds, decided by its first bytes: a WebM named ``.mp4`` is a WebM, an MP4
    named ``.avi`` an MP4. Only bytes that start no known container fall back to the suffix
    (a C2PA container's, else None): a damaged header still gets c2pa's reading.

    Raises:
        MediaError: the file cannot be read.
    """
    from vidprov.media._open import stat_reason

    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as exc:
        raise MediaError(stat_reason(exc), path) from exc
    return sniff_container(head) or CONTAINER_BY_SUFFIX.get(path.suffix.lower())


def mime_of(path: Path) -> str:
    """The MIME type c2pa reads the existing file ``path`` with, decided by its bytes
    (:func:`container_of`), not its name.

    Raises:
        MediaError: the file cannot be read.
        ProvenanceError: a container C2PA is not read from or embedded in (named, with what
            its bytes are when its suffix says otherwise).
    """
    container = container_of(path)
    if container is not None and container.mime is not None:
        return container.mime
    if container is None:
        return mime_for(path)  # raises: neither its bytes nor its suffix are a C2PA container
    named = (
        f", whatever its {path.suffix} name says" if path.suffix.lower() in MIME_BY_SUFFIX else ""
    )
    raise ProvenanceError(
        f"is a {container.name} file{named}; C2PA is only read from and embedded in MP4, "
        "QuickTime (.mov) and AVI",
        path,
    )


def mime_for(path: Path) -> str:
    """The MIME type c2pa uses for ``path``, by its suffix: for outputs, which take the
    container their name says (an existing file: :func:`mime_of`).

    Raises:
        ProvenanceError: a container c2pa cannot carry a manifest in.
    """
    mime = MIME_BY_SUFFIX.get(path.suffix.lower())
    if mime is None:
        raise ProvenanceError(
            f"unsupported container {path.suffix or '(no suffix)'!r} for C2PA "
            f"(use one of {', '.join(sorted(MIME_BY_SUFFIX))})",
            path,
        )
    return mime


@dataclass(frozen=True)
class SignOptions:
    """What a signed manifest says about the clip.

    Args:
        title: the asset title (default: the output file name).
        ai: the clip was made by a model (digitalSourceType trainedAlgorithmicMedia); false
            declares a camera capture.
        model: the generating model's name.
        prompt_sha256: SHA-256 hex of the prompt (the prompt itself is never stored).
        parameters: further generation parameters (seed, steps, ...), JSON-ready values.
        soft_binding: ``"detect"`` (read the watermark back from the clip), ``"none"``, or the
            blocks to declare.
        tsa_url: an RFC 3161 timestamp authority; None signs without a trusted time.
        composition: an edit's timeline, piece by piece, with what each piece's source was
            (:mod:`vidprov.provenance.composition`); recorded in vidprov's assertion.
    """

    title: str | None = None
    ai: bool = True
    model: str | None = None
    prompt_sha256: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    soft_binding: str | tuple[SoftBindingBlock, ...] = "detect"
    tsa_url: str | None = None
    composition: tuple[Piece, ...] = ()

    def __post_init__(self) -> None:
        check_field_types(self, ProvenanceError)
        if isinstance(self.soft_binding, str) and self.soft_binding not in ("detect", "none"):
            raise ProvenanceError(
                f"soft_binding must be 'detect', 'none' or blocks, not {self.soft_binding!r}"
            )
        if self.prompt_sha256 is not None:
            h = self.prompt_sha256.lower()
            if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
                raise ProvenanceError("prompt hash must be 64 hex digits (SHA-256)")


def generation_assertion(
    options: SignOptions, watermark_key_id: str | None, payloads: list[str]
) -> dict[str, Any]:
    """vidprov's own assertion: model, prompt hash, parameters, claimed signing time, mark."""
    data: dict[str, Any] = {
        "claimed_signing_time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "ai_generated": options.ai,
    }
    if options.model:
        data["model"] = options.model
    if options.prompt_sha256:
        data["prompt_sha256"] = options.prompt_sha256.lower()
    if options.parameters:
        data["parameters"] = dict(options.parameters)
    if payloads:
        data["watermark"] = {"payloads": payloads, "key_id": watermark_key_id}
    if options.composition:
        data["composition"] = [p.to_dict() for p in options.composition]
    return {"label": GENERATION_LABEL, "data": data}


def utf8_clean(value: Any) -> Any:
    """``value`` (strings inside dicts and lists too) with what cannot be UTF-8 replaced by
    U+FFFD: a file name or argument in another encoding arrives as lone surrogates
    (``surrogateescape``), which the manifest's JSON cannot carry."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {utf8_clean(k): utf8_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [utf8_clean(v) for v in value]
    return value


def definition(
    title: str,
    mime: str,
    actions: list[dict[str, Any]],
    extra: list[dict[str, Any]],
    blocks: tuple[SoftBindingBlock, ...],
) -> dict[str, Any]:
    """A manifest definition for ``c2pa.Builder`` (text made valid UTF-8: :func:`utf8_clean`)."""
    assertions = [{"label": "c2pa.actions.v2", "data": {"actions": actions}}, *extra]
    if blocks:
        assertions.append(to_assertion(blocks))
    return utf8_clean(
        {
            "claim_generator_info": [{"name": "vidprov", "version": __version__}],
            "title": title,
            "format": mime,
            "assertions": assertions,
        }
    )


def created_action(options: SignOptions) -> dict[str, Any]:
    action: dict[str, Any] = {
        "action": "c2pa.created",
        "digitalSourceType": TRAINED if options.ai else CAPTURE,
    }
    if options.model:
        action["softwareAgent"] = {"name": options.model}
    return action


def actions_of(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The actions a manifest (c2pa reader JSON) declares, in order."""
    return [
        act
        for a in manifest.get("assertions", [])
        if str(a.get("label", "")).startswith("c2pa.actions")
        for act in a.get("data", {}).get("actions", [])
    ]


def source_type(manifest: dict[str, Any]) -> str | None:
    """The first digitalSourceType among a manifest's actions, if any."""
    for a in actions_of(manifest):
        if a.get("digitalSourceType"):
            return str(a["digitalSourceType"])
    return None


def lineage_source_type(store: dict[str, Any], label: str | None, depth: int = 32) -> str | None:
    """The digitalSourceType a manifest declares, else the first its ingredients' manifests
    declare or inherit, down the whole chain: a trim of a trim of a generated clip declares
    nothing itself (its action is ``c2pa.opened``) and is still generated content.

    ``store`` is c2pa's reader JSON (every manifest in the chain, by label); ``depth`` bounds
    the walk (a store is a tree, but it is the file's to say so).
    """
    manifests = store.get("manifests") or {}
    m = manifests.get(label) if label else None
    if not m or depth <= 0:
        return None
    own = source_type(m)
    if own is not None:
        return own
    for ing in m.get("ingredients", []):
        found = lineage_source_type(store, ing.get("active_manifest"), depth - 1)
        if found is not None:
            return found
    return None
