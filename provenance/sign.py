"""Sign a clip: embed a C2PA manifest, store it, and bind it to the clip's watermark."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidprov.atomic import AtomicFile, signals_held
from vidprov.errors import ProvenanceError, WatermarkError
from vidprov.media.reader import VideoReader
from vidprov.provenance.manifest import (
    SignOptions,
    created_action,
    definition,
    generation_assertion,
    mime_for,
    mime_of,
    utf8_clean,
)
from vidprov.provenance.signer import CallbackSigner, cert_info, load_signer
from vidprov.provenance.softbinding import SoftBindingBlock, blocks_from_reading
from vidprov.provenance.store import ManifestStore
from vidprov.watermark.results import WatermarkReading

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ingredient:
    """A source clip an edit was made from (``parentOf`` for trims, ``componentOf`` for
    the pieces of a concatenation)."""

    path: Path
    relationship: str = "parentOf"
    title: str | None = None


@dataclass(frozen=True)
class SignResult:
    """What ``sign_file`` wrote."""

    input: str
    output: str
    manifest_id: str
    format: str
    signer: str | None
    alg: str
    timestamped: bool
    soft_binding: tuple[SoftBindingBlock, ...]
    ingredients: tuple[str, ...] = field(default=())
    #: why there is no soft binding: "no watermark key", "no watermark read back", "not asked for"
    soft_binding_note: str | None = None

    @property
    def payloads(self) -> list[str]:
        return sorted({b.payload for b in self.soft_binding})

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "manifest_id": self.manifest_id,
            "format": self.format,
            "signer": self.signer,
            "alg": self.alg,
            "timestamped": self.timestamped,
            "note": None
            if self.timestamped
            else "no timestamp authority: certificate validity is checked at verification time",
            "payloads": self.payloads,
            "soft_binding": [b.to_dict() for b in self.soft_binding],
            "ingredients": list(self.ingredients),
            "soft_binding_note": self.soft_binding_note,
        }


def _read_watermark(path: Path, key: bytes | None) -> WatermarkReading | None:
    """Our watermark read from ``path`` with ``key`` (default: the home key); None without a
    key or when the frames cannot carry it (logged).

    Raises:
        WatermarkError: a ``key`` that is not 256 bits. KeyError_: a corrupt home key file.
    """
    from vidprov.keys import optional_watermark_key
    from vidprov.watermark import detect_file

    key = optional_watermark_key(key)  # broken: an error, not a silently unbound manifest
    if key is None:
        log.warning("%s: no soft binding: no watermark key (run `vidprov keys init`)", path)
        return None
    try:
        return detect_file(path, key)
    except WatermarkError as exc:
        log.warning("no soft binding: %s", exc)
        return None


def read_back_blocks(
    path: Path, key: bytes | None, duration: float
) -> tuple[SoftBindingBlock, ...]:
    """Soft-binding blocks from the watermark read back from ``path`` (none without a key)."""
    reading = _read_watermark(path, key)
    return blocks_from_reading(reading, duration) if reading is not None else ()


def _signer_and_errors(signer: CallbackSigner, tsa_url: str | None) -> tuple[Any, list]:
    """The c2pa signer, with the callback's exceptions kept (c2pa only sees a failure code)."""
    from vidprov.provenance.signer import to_c2pa

    errors: list[BaseException] = []

    class _Keep:
        alg = signer.alg
        certificate_chain_pem = signer.certificate_chain_pem

        def sign(self, data: bytes) -> bytes:
            try:
                return signer.sign(data)
            except Exception as exc:
                errors.append(exc)
                raise

    return to_c2pa(_Keep(), tsa_url), errors


def sign_file(
    src: str | Path,
    dst: str | Path,
    options: SignOptions | None = None,
    signer: CallbackSigner | None = None,
    *,
    actions: list[dict[str, Any]] | None = None,
    ingredients: tuple[Ingredient, ...] = (),
    key: bytes | None = None,
    store: ManifestStore | None = None,
) -> SignResult:
    """Write ``dst``: ``src`` with an embedded, signed C2PA manifest; store the manifest.

    The output appears only once it is signed and its manifest reads back; on any failure
    nothing is left at ``dst`` (never an unsigned file under the signed name).

    Args:
        src: the clip (MP4, MOV or AVI).
        dst: the signed clip; same container family as ``src``.
        options: what the manifest declares (default: AI-generated, soft binding read back).
        signer: the key holder (default: the development signer under VIDPROV_HOME).
        actions: replaces the default ``c2pa.created`` action (edits pass their own).
        ingredients: source clips, embedded as ingredients with their manifests.
        key: the watermark key for reading back the soft binding (default: the home key).
        store: where to keep the manifest (default: the home store).

    Raises:
        MediaError: ``src`` is not a readable video.
        ProvenanceError: unsupported container, missing/bad certificates, signing failed;
            ``src`` already carries a manifest (a plain sign, not an edit); ``options.ai`` is
            false but ``src`` carries our watermark.
        WatermarkError: a ``key`` that is not 256 bits (a missing home key only means no
            soft binding; a corrupt one is a ``KeyError_``).
    """
    import c2pa

    from vidprov.keys import optional_watermark_key
    from vidprov.media._open import check_file

    src, dst = check_file(src), Path(dst)  # a FIFO or a folder: refused before it is opened
    options = options or SignOptions()
    mime = mime_for(dst)
    if mime_of(src) != mime:  # by its bytes: a WebM or an MP4 may be misnamed
        raise ProvenanceError(f"signing keeps the container; {src.name} is not {mime}", dst)
    with VideoReader(src) as r:
        duration = r.info.duration
    signer = signer or load_signer()
    detect = options.soft_binding == "detect"
    if key is not None or detect or not options.ai:  # a given key names itself (key_id)
        key = optional_watermark_key(key)
    reading = _read_watermark(src, key) if detect else None  # no key: says so, reads nothing
    if isinstance(options.soft_binding, tuple):
        blocks = options.soft_binding
    else:
        blocks = blocks_from_reading(reading, duration) if reading is not None else ()
    if actions is None and not ingredients:
        refuse_manifest(
            src,
            "signing it again would drop that history",
            "derive a signed clip with `vidprov edit trim`, which keeps it as an ingredient",
            "its manifest is broken (tampered?), so neither signing nor editing can vouch for it",
        )
    if not options.ai:
        if not blocks and not detect and key is not None:  # not read yet: is it marked?
            reading = _read_watermark(src, key)
        if blocks:
            payload: str | None = blocks[0].payload
        elif reading is not None and reading.detected:
            payload = reading.payload or "not decoded"
        else:
            payload = None
        if payload:
            raise ProvenanceError(
                f"carries the vidprov watermark (payload {payload}), which marks generated "
                "video: refusing to sign it as camera footage",
                src,
            )
    payloads = sorted({b.payload for b in blocks})
    key_id = hashlib.sha256(b"vidprov-key-id" + key).hexdigest()[:16] if key else None
    manifest_def = definition(
        options.title or dst.name,
        mime,
        actions or [created_action(options)],
        [generation_assertion(options, key_id, payloads)],
        blocks,
    )
    c2pa_signer, errors = _signer_and_errors(signer, options.tsa_url)
    context = _ingredient_context() if ingredients else None
    out = AtomicFile(dst)
    try:
        try:
            builder = c2pa.Builder(manifest_def, context=context)
            for i, ing in enumerate(ingredients):
                meta = {
                    "title": utf8_clean(ing.title or ing.path.name),
                    "relationship": ing.relationship,
                    "label": f"ingredient{i}",
                }
                with open(ing.path, "rb") as f:
                    builder.add_ingredient_from_stream(json.dumps(meta), mime_of(ing.path), f)
            # "r+b": the temp file exists and is empty; truncating it ("w+b") would make ext4
            # flush the whole file on close (auto_da_alloc), about 20% of the signing time.
            # Ctrl-C or SIGTERM inside c2pa's native call back into the signer could be
            # swallowed or leave a bad signature: they take effect once the output is final
            with signals_held():
                with open(src, "rb") as fin, open(out.tmp, "r+b") as fout:
                    store_bytes = builder.sign(c2pa_signer, mime, fin, fout)
                manifest_id, manifest = _read_back(bytes(store_bytes), dst)
                store = store if store is not None else ManifestStore()
                store.add(
                    manifest_id, manifest, bytes(store_bytes), blocks, title=manifest.get("title")
                )
                out.commit()
        except c2pa.C2paError as exc:
            why = f"signer failed: {errors[0]}" if errors else str(exc).splitlines()[0]
            if not errors and options.tsa_url is None and "certificate" in why.lower():
                raise _refused_certificate(signer, why, dst) from exc
            if why.startswith("Io") and _disk_full(Path(dst)):
                # c2pa says "Io: Other: UntrackedPointer: 0x2" for a full disk
                why = f"no space left on the device ({why})"
            raise ProvenanceError(f"signing failed ({why})", dst) from exc
    except BaseException:
        out.discard()
        raise
    leaf = getattr(signer, "certs", None)
    cn = cert_info(leaf[0]).common_name if leaf else None
    log.info("signed %s -> %s (%s)", src, dst, manifest_id)
    return SignResult(
        input=str(src),
        output=str(dst),
        manifest_id=manifest_id,
        format=mime,
        signer=cn,
        alg=str(signer.alg).lower(),
        timestamped=options.tsa_url is not None,
        soft_binding=blocks,
        ingredients=tuple(str(i.path) for i in ingredients),
        soft_binding_note=_no_binding_reason(options.soft_binding, blocks, key),
    )


def _refused_certificate(signer: CallbackSigner, why: str, dst: Path) -> ProvenanceError:
    """c2pa refused the signer's certificate: name the certificate file (not the output) and
    its extended key usages, the usual cause once :func:`check_chain` has passed it."""
    from cryptography import x509

    certs = getattr(signer, "certs", None)
    usages = "unknown"
    if certs:
        try:
            eku = certs[0].extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            usages = ", ".join(getattr(u, "_name", None) or u.dotted_string for u in eku)
        except x509.ExtensionNotFound:
            usages = "none"
    return ProvenanceError(
        f"c2pa refused the signer certificate ({why}); its extended key usage: {usages} "
        "(a C2PA signer needs one such as emailProtection)",
        getattr(signer, "cert_path", None) or dst,
    )


def _ingredient_context() -> Any:
    """A c2pa context with the home trust anchors: each ingredient's manifest is validated
    when it is added, and its validation results (``signingCredential.untrusted`` for a
    source whose signer these anchors do not vouch for) are recorded in the edit's manifest.

    Raises:
        ProvenanceError: the home trust anchors are malformed.
    """
    from vidprov.provenance.verify import load_trust_anchors, trust_context

    return trust_context(load_trust_anchors(None))


def _no_binding_reason(
    asked: str | tuple[SoftBindingBlock, ...],
    blocks: tuple[SoftBindingBlock, ...],
    key: bytes | None,
) -> str | None:
    """Why a signed clip has no soft binding (None: it has one); ``asked`` is
    ``SignOptions.soft_binding``."""
    if blocks:
        return None
    if asked == "none":
        return "not asked for"
    if isinstance(asked, tuple):  # an edit: its sources' blocks, re-mapped
        # "its sources carry none" was wrong for a trim of a marked clip's unmarked part
        return "none of its sources' marked time is in it"
    return "no watermark key" if key is None else "no watermark read back"


def refuse_manifest(src: Path, would: str, instead: str, broken: str) -> None:
    """Refuse ``src`` when it carries a C2PA manifest, whatever its state: the operation would
    drop that history (and could relabel the clip).

    Args:
        src: the source clip.
        would: what the operation would do to the manifest.
        instead: what to do instead, for a manifest that reads; ``broken``: for a tampered one.

    Raises:
        ProvenanceError: ``src`` carries a C2PA manifest.
    """
    from vidprov.provenance.verify import read_c2pa

    report = read_c2pa(src, None)
    if report.state == "absent":
        return
    state = "invalid" if report.state == "invalid" else "signed"  # trust is not checked here
    what = state + (f", {report.manifest_id}" if report.manifest_id else "")
    hint = broken if report.tampered else instead
    raise ProvenanceError(f"already carries a C2PA manifest ({what}); {would}: {hint}", src)


def _read_back(store_bytes: bytes, dst: Path) -> tuple[str, dict[str, Any]]:
    """The active manifest's id and JSON, parsed from the signed manifest store itself."""
    import c2pa

    try:
        store = json.loads(c2pa.Reader("application/c2pa", io.BytesIO(store_bytes)).json())
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"signed manifest does not read back ({exc})", dst) from exc
    label = store.get("active_manifest")
    if not label:
        raise ProvenanceError("signed output has no active manifest", dst)
    return label, store["manifests"][label]


def _disk_full(dst: Path) -> bool:
    """Whether the folder ``dst`` is written to is full (under a megabyte left, the failed
    copy still in it: a write that ran out of room leaves next to nothing)."""
    try:
        st = os.statvfs(dst.resolve().parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 1 << 20
