"""Verify a clip: its embedded C2PA manifest, its watermark, and, when the manifest is gone
or broken, the original manifest recovered through the watermark's soft binding."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vidprov.config import home_dir
from vidprov.errors import MediaError, ProvenanceError, WatermarkError
from vidprov.media import probe
from vidprov.media._open import check_file
from vidprov.provenance.bmff import has_manifest_box
from vidprov.provenance.composition import Piece, pieces_from
from vidprov.provenance.manifest import (
    COMPOSITE_TRAINED,
    GENERATION_LABEL,
    MIME_BY_SUFFIX,
    TRAINED,
    Container,
    actions_of,
    container_of,
    lineage_source_type,
)
from vidprov.provenance.pki import TRUST_ANCHORS_FILE
from vidprov.provenance.softbinding import ALG, payload_to_value
from vidprov.provenance.store import ManifestStore
from vidprov.watermark.results import WatermarkReading

log = logging.getLogger(__name__)

_ACTION_KEYS = ("action", "digitalSourceType", "softwareAgent", "description")
# The signer is not vouched for (not chaining to an anchor; its certificate expired with no
# trusted timestamp to say it was valid when it signed): the manifest is not broken
CREDENTIAL_CODES = {"signingCredential.untrusted", "signingCredential.expired"}


def is_credential_failure(code: str) -> bool:
    """Whether a failure code is about the signer's credential (not vouched for: untrusted,
    or expired with no trusted timestamp) rather than a broken manifest or binding."""
    return code in CREDENTIAL_CODES


AI_TYPES = (TRAINED, COMPOSITE_TRAINED)
NO_TSA_NOTE = "no trusted timestamp: certificate validity was checked at verification time"


@dataclass(frozen=True)
class C2paReport:
    """The embedded manifest's verdict. ``state``: ``trusted`` (valid, signer chains to a
    trust anchor), ``valid`` (valid, signer not trusted or its certificate expired),
    ``invalid``, or ``absent``. ``organization`` is the signer certificate's own organization
    (its subject O, as the signer chose it), not the CA that issued it."""

    state: str
    manifest_id: str | None = None
    signer: str | None = None
    organization: str | None = None
    signed_at: str | None = None
    signed_at_source: str | None = None
    claim_generator: str | None = None
    digital_source_type: str | None = None
    actions: tuple[dict[str, Any], ...] = ()
    ingredients: tuple[dict[str, Any], ...] = ()
    codes: tuple[str, ...] = ()
    note: str | None = None
    #: the failure codes among ``codes`` (not in :meth:`to_dict`: ``codes`` holds them all)
    failures: tuple[str, ...] = ()
    #: every manifest id in the file's manifest store: the active one and its ingredients'
    lineage: tuple[str, ...] = ()
    #: whether a manifest in that store recorded an ingredient whose signer its own signer's
    #: trust anchors did not vouch for (``signingCredential.untrusted``), at any depth
    unvouched_lineage: bool = False
    #: an edit's timeline as its manifest records it (:mod:`~vidprov.provenance.composition`)
    composition: tuple[Piece, ...] = ()

    @property
    def tampered(self) -> tuple[str, ...]:
        """The failures that say the manifest or the content it binds was altered or cannot
        be read, leaving out the signer's credential (untrusted, since expired): those make a
        manifest unvouched-for, not tampered."""
        return tuple(c for c in self.failures if not is_credential_failure(c))

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "manifest_id": self.manifest_id,
            "signer": self.signer,
            "organization": self.organization,
            "signed_at": self.signed_at,
            "signed_at_source": self.signed_at_source,
            "claim_generator": self.claim_generator,
            "digital_source_type": self.digital_source_type,
            "actions": list(self.actions),
            "ingredients": list(self.ingredients),
            "codes": list(self.codes),
            "note": self.note,
            "unvouched_lineage": self.unvouched_lineage,
            "composition": [p.to_dict() for p in self.composition],
        }


@dataclass(frozen=True)
class Recovered:
    """A manifest found through the watermark: it describes the clip these bytes came from,
    not these bytes (``content_matches`` says whether the file is the one that was signed)."""

    manifest_id: str
    manifest: dict[str, Any]
    content_matches: bool
    payload: str
    candidates: tuple[str, ...]
    #: its signer chains to the trust anchors and its credential holds (its hash binding
    #: aside: that is ``content_matches``)
    trusted: bool = False
    #: as :attr:`C2paReport.unvouched_lineage`, for the stored manifest's own store
    unvouched_lineage: bool = False
    #: other candidates that fit the marked spans as well as this one (two trims of one clip
    #: of the same length, say): the mark cannot tell them apart, and the oldest is shown
    ties: tuple[str, ...] = ()
    #: the digitalSourceType its lineage declares (a trim's own action declares none; its
    #: source's does), as :attr:`C2paReport.digital_source_type`
    digital_source_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest_id": self.manifest_id,
            "manifest": self.manifest,
            "content_matches": self.content_matches,
            "trusted": self.trusted,
            "unvouched_lineage": self.unvouched_lineage,
            "via": {"alg": ALG, "payload": self.payload, "value": payload_to_value(self.payload)},
            "candidates": list(self.candidates),
            "ties": list(self.ties),
            "digital_source_type": self.digital_source_type,
        }


@dataclass(frozen=True)
class VerifyReport:
    """Everything ``verify_file`` found."""

    file: str
    c2pa: C2paReport
    watermark: WatermarkReading | None
    watermark_note: str | None
    recovered: Recovered | None
    #: where the evidence disagrees (the watermark links the clip to a stored manifest that
    #: its embedded one neither names nor agrees with by declaring AI content)
    conflicts: tuple[str, ...] = ()

    @property
    def _vouching(self) -> C2paReport | Recovered | None:
        """The manifest that would vouch for the origin: the clip's own when ``trusted``, or,
        when it has none, a *trusted* one recovered through the watermark."""
        if self.c2pa.state == "trusted":
            return self.c2pa
        rec = self.recovered
        return rec if self.c2pa.state == "absent" and rec is not None and rec.trusted else None

    @property
    def unvouched_origin(self) -> bool:
        """Whether that manifest's lineage holds a source from a signer not vouched for: it
        vouches for its own step (a trim, say), not for the origin it inherits (a trusted trim
        of a self-signed camera claim read as established)."""
        vouching = self._vouching
        return vouching is not None and vouching.unvouched_lineage

    @property
    def established(self) -> bool:
        """Whether the clip's origin is vouched for, with no conflict: its own manifest is
        ``trusted``, or it has none and a *trusted* stored manifest was recovered through the
        watermark. An ``invalid`` manifest (altered after signing), a ``valid`` one from an
        untrusted signer, one (embedded or recovered) whose lineage holds a source from an
        untrusted signer (:attr:`unvouched_origin`), or one the watermark contradicts is not
        enough."""
        return not self.conflicts and self._vouching is not None and not self.unvouched_origin

    def to_dict(self) -> dict[str, Any]:
        wm: dict[str, Any] | None = self.watermark.to_dict() if self.watermark else None
        if wm is None and self.watermark_note:
            wm = {"detected": None, "note": self.watermark_note}
        return {
            "file": self.file,
            "c2pa": self.c2pa.to_dict(),
            "watermark": wm,
            "recovered": self.recovered.to_dict() if self.recovered else None,
            "conflicts": list(self.conflicts),
            "established": self.established,
        }


def trust_context(trust_anchors: str | None) -> Any:
    """A c2pa context that validates against ``trust_anchors`` (PEM text; None: no anchors) and
    never fetches remote manifests.

    Raises:
        c2pa.C2paError: c2pa cannot parse the anchors (:func:`load_trust_anchors` checks).
    """
    import c2pa

    cfg: dict[str, Any] = {"verify": {"verify_trust": True, "remote_manifest_fetch": False}}
    if trust_anchors:
        cfg["trust"] = {"trust_anchors": trust_anchors}
    return c2pa.Context.from_dict(cfg)


def load_trust_anchors(path: Path | None) -> str | None:
    """The trust anchors' PEM text, checked: ``path``, else ``VIDPROV_HOME/trust_anchors.pem``
    when present, else None (no anchors: a good signature is ``valid``, not ``trusted``).

    Raises:
        ProvenanceError: unreadable, no certificate in it, or a malformed one.
    """
    if path is None:
        default = home_dir() / TRUST_ANCHORS_FILE
        if not default.is_file():
            return None
        path = default
    try:
        pem = path.read_text(errors="replace")
    except OSError as exc:
        raise ProvenanceError(f"cannot read trust anchors ({exc.strerror})", path) from exc
    if "BEGIN CERTIFICATE" not in pem:
        raise ProvenanceError("trust anchors file holds no PEM certificate", path)
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        why = str(exc).split(". See ")[0]
        raise ProvenanceError(f"trust anchors: a malformed PEM certificate ({why})", path) from exc
    import c2pa

    try:  # c2pa's parser is stricter (a dangling BEGIN line, indented lines)
        trust_context(pem)
    except c2pa.C2paError as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ProvenanceError(f"trust anchors: C2PA cannot read them ({why})", path) from exc
    return pem


def _codes(results: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    am = (results or {}).get("activeManifest") or {}
    failures = [f["code"] for f in am.get("failure", [])]
    others = [c["code"] for k in ("success", "informational") for c in am.get(k, [])]
    return failures, others


def _integrity_failures(failures: list[str]) -> list[str]:
    """Failure codes that break the manifest or its binding (the signer's credential does not)."""
    return [c for c in failures if not is_credential_failure(c)]


def summarize(store: dict[str, Any], state: str, codes: list[str]) -> C2paReport:
    """A :class:`C2paReport` from c2pa's reader JSON."""
    label = store.get("active_manifest")
    m = (store.get("manifests") or {}).get(label, {})
    actions = actions_of(m)
    generation: Any = next(
        (a.get("data", {}) for a in m.get("assertions", []) if a.get("label") == GENERATION_LABEL),
        {},
    )
    if not isinstance(generation, dict):  # another signer's assertion under our label: not ours
        generation = {}
    sig = m.get("signature_info") or {}
    gen = (m.get("claim_generator_info") or [{}])[0]
    source = lineage_source_type(store, label)
    ingredients = []
    for ing in m.get("ingredients", []):
        ingredients.append(
            {
                "title": ing.get("title"),
                "relationship": ing.get("relationship"),
                "manifest_id": ing.get("active_manifest"),
                "digital_source_type": lineage_source_type(store, ing.get("active_manifest")),
                # against the signer's trust anchors (signingCredential.untrusted: none of them)
                "failures": _added_failures(ing),
            }
        )
    signed_at, when = sig.get("time"), "timestamp" if sig.get("time") else None
    if signed_at is None and generation.get("claimed_signing_time"):
        signed_at, when = generation["claimed_signing_time"], "claimed"
    return C2paReport(
        state=state,
        manifest_id=label,
        signer=sig.get("common_name"),
        organization=sig.get("issuer"),  # c2pa names the signer's subject O "issuer"
        signed_at=signed_at,
        signed_at_source=when,
        claim_generator=f"{gen.get('name', '?')} {gen.get('version', '')}".strip() if gen else None,
        digital_source_type=source,
        actions=tuple({k: a[k] for k in _ACTION_KEYS if k in a} for a in actions),
        ingredients=tuple(ingredients),
        codes=tuple(dict.fromkeys(codes)),
        note=None if when == "timestamp" else NO_TSA_NOTE,
        lineage=tuple(store.get("manifests") or ()),
        unvouched_lineage=_unvouched(store),
        composition=pieces_from(generation.get("composition")),
    )


def _unvouched(store: dict[str, Any]) -> bool:
    """Whether any manifest in c2pa's reader JSON recorded an ingredient whose signer its own
    signer's trust anchors did not vouch for (``signingCredential.untrusted``)."""
    return any(
        "signingCredential.untrusted" in _added_failures(ing)
        for manifest in (store.get("manifests") or {}).values()
        for ing in manifest.get("ingredients", [])
    )


def _added_failures(ingredient: dict[str, Any]) -> list[str]:
    """What the signer's c2pa found wrong with an ingredient's manifest when it was added."""
    results = (ingredient.get("validation_results") or {}).get("activeManifest") or {}
    return [f.get("code") for f in results.get("failure", [])]


def _not_read(path: Path, container: Container | None) -> C2paReport:
    """``absent``: ``path`` is not in a container C2PA is read from."""
    if container is None:
        note = f"C2PA is not read from {path.suffix or 'suffix-less'} files"
    else:
        note = f"C2PA is not read from {container.name} files"
        if path.suffix.lower() in MIME_BY_SUFFIX:
            note += f" (the bytes are {container.name}, whatever the {path.suffix} name says)"
    return C2paReport("absent", codes=("vidprov.container.unsupported",), note=note)


def read_c2pa(path: Path, trust_anchors: str | None) -> C2paReport:
    """Validate the manifest embedded in ``path`` (no network: remote manifests not fetched).

    The container is decided by the file's bytes, not its name (:func:`container_of`): a file
    in a container C2PA is not read from is ``absent`` whatever its suffix, and a mislabelled
    MP4 gets its real reading.

    Raises:
        MediaError: the file cannot be read.
    """
    import c2pa

    container = container_of(path)
    if container is None or container.mime is None:
        return _not_read(path, container)
    mime = container.mime
    if MIME_BY_SUFFIX.get(path.suffix.lower()) != mime:
        log.info("%s: read as %s (its bytes), not by its suffix", path, container.name)
    try:
        ctx = trust_context(trust_anchors)
        with open(path, "rb") as f:
            reader = c2pa.Reader(mime, f, context=ctx)
            store = json.loads(reader.json())
            state = (reader.get_validation_state() or "Invalid").lower()
            failures, others = _codes(reader.get_validation_results())
    except c2pa.C2paError as exc:
        name = type(exc).__name__.lstrip("_").removeprefix("C2pa")
        if "ManifestNotFound" in name:
            return C2paReport("absent", codes=("manifest.notFound",))
        # The manifest is there but cannot be parsed or its structure is broken.
        code = f"manifest.unreadable.{name or 'error'}"
        note = str(exc).splitlines()[0][:300] if str(exc) else None
        return C2paReport("invalid", codes=(code,), note=note, failures=(code,))
    # An untrusted signer is not a broken manifest: the claim is well formed and its signature
    # and hashes check, only the signer does not chain to an anchor (C2PA's "valid" state).
    if _integrity_failures(failures) or state not in ("trusted", "valid", "invalid"):
        state = "invalid"
    elif failures:
        state = "valid"
    return replace(summarize(store, state, failures + others), failures=tuple(failures))


def verify_file(
    path: str | Path,
    trust_anchors: str | Path | None = None,
    *,
    watermark: bool = True,
    key: bytes | None = None,
    store: ManifestStore | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify ``path``'s C2PA manifest against trust anchors, detect its watermark, and
    recover the original manifest through the watermark.

    A recovered manifest is reported when the embedded one is absent or invalid, or when a
    readable embedded manifest does not name it (itself or as an ingredient). When that
    manifest also does not declare AI content (trainedAlgorithmicMedia, or a composite with
    it), the clip was re-signed over our mark: ``conflicts`` says so, and its origin is not
    established.
    The recovered manifest is checked against the same trust anchors (``Recovered.trusted``).

    Args:
        path: the clip.
        trust_anchors: PEM file of trusted roots (default: ``VIDPROV_HOME/trust_anchors.pem``
            when present; without anchors a good signature is ``valid``, not ``trusted``).
        watermark: also detect the watermark (needs the watermark key).
        key: watermark key (default: the home key; without one the watermark is skipped).
        store: manifest store for recovery (default: the home store, opened read-only;
            none there means nothing to recover).
        progress: called with the number of frames the watermark pass has decoded since
            the last call; whatever it raises stops the verification.

    Raises:
        MediaError: the file is missing, empty, or not a readable video and carries no
            manifest (a damaged file whose manifest is found is reported ``invalid``).
        ProvenanceError: unreadable or malformed trust anchors; a home manifest store that
            cannot be read.
        WatermarkError: (``watermark``) a ``key`` that is not 256 bits.
        KeyError_: (``watermark``, no ``key``) a home key file that is there but corrupt;
            a missing one only skips the watermark.
    """
    path = check_file(path)
    if watermark:
        from vidprov.keys import optional_watermark_key

        key = optional_watermark_key(key)  # before any work
    anchors = load_trust_anchors(Path(trust_anchors) if trust_anchors is not None else None)
    report = read_c2pa(path, anchors)
    if report.state == "absent" or all(c.startswith("manifest.unreadable") for c in report.codes):
        try:
            probe(path)  # not a video and no manifest to report on: an error, not a verdict
        except MediaError:
            # a signed file damaged past reading (cut short inside its moov) whose manifest box
            # is still there: its manifest is broken, which is the verdict
            if report.state == "absent" or not has_manifest_box(path):
                raise
    return mark_evidence(
        path, report, anchors, key if watermark else None, store, watermark, progress
    )


def mark_evidence(
    path: Path,
    report: C2paReport,
    anchors: str | None,
    key: bytes | None,
    store: ManifestStore | None,
    watermark: bool = True,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """The rest of :func:`verify_file` for a manifest already read (``report``, against
    ``anchors``): the watermark read with ``key`` (None: not checked, and the report says
    why when ``watermark``), the manifest recovered through it and the conflict rule.
    ``progress`` as :func:`verify_file`'s.

    Raises:
        ProvenanceError: a home manifest store that cannot be read.
    """
    reading, note = None, None
    if watermark:
        reading, note = _watermark(path, key, progress)
    recovered, conflicts = None, ()
    if reading is not None and reading.detected:
        named = report.lineage if report.state in ("valid", "trusted") else ()
        recovered = _recover(path, reading, store, anchors, named)
        # an embedded manifest that does not name ours but declares AI content agrees with the
        # mark (another vidprov home, or an honest re-signer without our key); one that claims
        # anything else over our mark is the conflict
        if recovered is not None and named and report.digital_source_type not in AI_TYPES:
            conflicts = (
                f"the watermark links this clip to stored manifest {recovered.manifest_id}, "
                "which its embedded manifest does not name (neither as itself nor as an "
                f"ingredient) while claiming {report.digital_source_type or 'no source type'}: "
                "it was signed again over a marked, generated clip",
            )
    return VerifyReport(str(path), report, reading, note, recovered, conflicts)


def _watermark(
    path: Path, key: bytes | None, progress: Callable[[int], None] | None = None
) -> tuple[WatermarkReading | None, str | None]:
    from vidprov.watermark import detect_file

    if key is None:  # none at home (a broken one was an error: skipping it would mislead)
        return None, "not checked: no watermark key (run `vidprov keys init`)"
    try:
        return detect_file(path, key, progress=progress), None
    except (MediaError, WatermarkError) as exc:
        return None, f"not checked: {exc}"


def _recover(
    path: Path,
    reading: WatermarkReading,
    store: ManifestStore | None,
    anchors: str | None,
    named: tuple[str, ...] = (),
) -> Recovered | None:
    """The stored manifest the watermark's payload(s) lead to, or None. A payload whose stored
    manifests include one of ``named`` (the embedded manifest and its ingredients) is
    accounted for and skipped."""
    store = store if store is not None else ManifestStore.lookup()
    if store is None:
        return None
    payloads = [s.payload for s in reading.segments if s.payload] or [reading.payload]
    for payload in dict.fromkeys(p for p in payloads if p):
        value = payload_to_value(payload)
        ids = store.find(ALG, value)
        if not ids or set(ids) & set(named):
            continue
        seen = [(s.start, s.end) for s in reading.segments if s.payload == payload]
        fit = {i: _mismatch(seen, store.spans(i, ALG, value)) for i in ids}
        # ties go to the oldest: the clip the payload was minted for, not a later edit that
        # declares the same spans (a concatenation that starts with it)
        ranked = sorted(ids, key=fit.__getitem__)  # stable: ``find`` lists oldest first
        best = store.get(ranked[0])
        assert best is not None
        matches, trusted, unvouched, kind = _check_stored(path, best.manifest_store, anchors)
        ties = tuple(i for i in ranked[1:] if fit[i] == fit[ranked[0]])
        if ties:
            log.info(
                "%s: %d stored manifests fit the mark equally well; the oldest, %s, is shown",
                path, len(ties) + 1, best.manifest_id,
            )  # fmt: skip
        return Recovered(
            best.manifest_id,
            best.manifest,
            matches,
            payload,
            tuple(ranked),
            trusted,
            unvouched,
            ties,
            kind,
        )
    return None


def _mismatch(
    seen: list[tuple[float, float]], declared_ms: list[tuple[int, int]]
) -> tuple[float, float]:
    """How badly a candidate manifest's declared blocks fit the marked spans read here.

    A payload can be declared by several manifests (a clip and its trims or concatenations
    all carry the source's mark). Closest marked duration first (to the half second), then
    the best time overlap (to 0.05: fits that differ by less, such as by a clip's short last
    block, are ties, which go to the oldest manifest).
    """
    declared = [(a / 1000, b / 1000) for a, b in declared_ms]
    length = sum(b - a for a, b in seen)
    gap = round(abs(sum(b - a for a, b in declared) - length) * 2) / 2
    inter = sum(max(0.0, min(b, d) - max(a, c)) for a, b in seen for c, d in declared)
    union = length + sum(b - a for a, b in declared) - inter
    return gap, -round((inter / union if union > 0 else 0.0) * 20) / 20


def _binding_code(code: str) -> bool:
    """A failure of the hash binding to the content (``assertion.bmffHash.mismatch``, ...)."""
    return code.startswith("assertion.") and "Hash." in code


def _check_stored(
    path: Path, manifest_store: bytes, anchors: str | None
) -> tuple[bool, bool, bool, str | None]:
    """Validate a stored manifest against ``path`` as a sidecar: whether its hash binding
    holds for these bytes, whether it is otherwise sound with a trusted signer, whether
    its lineage recorded a source from a signer not vouched for (:func:`_unvouched`), and the
    digitalSourceType its lineage declares. For a
    container C2PA does not read (our clip re-wrapped as Matroska), the manifest is validated
    on its own: its binding cannot match, its signer can still be trusted."""
    import c2pa

    container = container_of(path)
    readable = container is not None and container.mime is not None
    try:
        ctx = trust_context(anchors)
        with open(path, "rb") if readable else io.BytesIO(manifest_store) as f:
            if readable:
                reader = c2pa.Reader(container.mime, f, manifest_data=manifest_store, context=ctx)
            else:
                reader = c2pa.Reader("application/c2pa", f, context=ctx)
            results = reader.get_validation_results()
            store = json.loads(reader.json())
    except c2pa.C2paError:
        return False, False, False, None
    failures, _ = _codes(results)
    matches = readable and not _integrity_failures(failures)
    trusted = anchors is not None and all(_binding_code(c) for c in failures)
    kind = lineage_source_type(store, store.get("active_manifest"))
    return matches, trusted, _unvouched(store), kind
