"""Evidence fusion: C2PA manifest, watermark and classifier into one verdict.

Rules, strongest first:

1. A *trusted* manifest whose ``c2pa.created`` action says ``trainedAlgorithmicMedia`` decides
   ``ai`` for the whole clip; a trusted one recovered through the watermark (the clip's own
   is gone, or does not name it) vouches for the time the mark covers, the rest labelled as
   in rule 2. A composite-with-AI claim decides ``mixed``, when it is the clip's own (embedded,
   or recovered with a hash binding that holds for these bytes): a concatenation's claim,
   recovered for one of its marked sources, says nothing about that source.
2. A detected watermark is certain for the time it covers: segments the mark covers are ``ai``;
   if it covers (nearly) the whole clip the clip is ``ai``, otherwise ``mixed``.
3. Otherwise the classifier's segments decide: ``mixed`` when they hold both labels, else
   their one label (the clip score's side when there are none); the score is the clip score,
   or a flagged segment's when higher (a splice score is per shot). Without a classifier, a trusted
   ``digitalCapture`` claim decides ``real``; with nothing at all to go on the label is
   ``unknown`` and the score ``None`` (our mark being absent says nothing about a clip).
   A classifier that was skipped (:class:`ClassifierSkipped`: frames it cannot work on) counts
   as no classifier; the evidence says it was skipped and why.

Disagreements (a trusted camera claim with a detected mark, a classifier that scores a
watermarked clip as real, ...) never change the rule order; they are listed in ``conflicts``.
So is a manifest that is signed and intact but not trusted, or tampered with, whose claim
disagrees with the verdict: it decides nothing, but a reader should know it is there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from vidprov.detector.verdict import ClassifierResult, ClassifierSkipped, Segment, Verdict
from vidprov.provenance import manifest
from vidprov.provenance.composition import Piece, composition_of, pieces_from, remap_pieces
from vidprov.provenance.manifest import source_type
from vidprov.provenance.softbinding import ALG, from_manifest, payload_to_value
from vidprov.watermark import covers_clip

SNAP_S = 2e-3  # span ends this close to the clip's ends are taken as the ends

# digital source type names as :func:`_claim` gives them (the URI without the IPTC prefix)
TRAINED, COMPOSITE_TRAINED, CAPTURE = (
    uri.removeprefix(manifest.IPTC)
    for uri in (manifest.TRAINED, manifest.COMPOSITE_TRAINED, manifest.CAPTURE)
)


def _claim(manifest: dict[str, Any] | None) -> str | None:
    """The digital source type name from a C2PA report dict, or from a raw manifest as
    recovered from the store."""
    if not manifest:
        return None
    dst = manifest.get("digital_source_type") or source_type(manifest)
    return str(dst).rsplit("/", 1)[-1] if dst else None


def _merge(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for s in sorted(segments, key=lambda s: s.start):
        if s.end - s.start < 1e-3:  # shorter than the to_dict rounding: a sliver
            continue
        prev = out[-1] if out else None
        if prev and prev.label == s.label and prev.source == s.source and s.start - prev.end < 1e-3:
            end = max(prev.end, s.end)  # one inside the other (a signer's overlapping pieces)
            out[-1] = Segment(prev.start, end, s.label, max(prev.score, s.score), s.source)
        else:
            out.append(s)
    return out


def _pieces(manifest: dict[str, Any] | None, claim: str | None) -> tuple[Piece, ...]:
    """The pieces a composite's manifest (a report dict when ``claim`` is its own embedded
    one, else a raw recovered manifest) records (:mod:`vidprov.provenance.composition`)."""
    if not manifest:
        return ()
    return pieces_from(manifest.get("composition")) if claim else composition_of(manifest)


def _fill(
    marked: list[tuple[float, float]],
    cls: ClassifierResult | None,
    duration: float,
    declared: Sequence[tuple[float, float]] = (),
) -> list[Segment]:
    """Watermarked spans as ``ai``, and ``declared`` ones (a manifest's generated pieces, source
    ``c2pa``, taking precedence where both lie); the gaps between them labelled by the
    classifier's segments (clipped to the gap), or left without a segment when there is no
    classifier (the absence of our mark says nothing). Span ends within :data:`SNAP_S` of the
    clip's are moved to them (a report's times are rounded to the millisecond)."""

    def snap(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        return [
            (0.0 if a < SNAP_S else a, duration if b > duration - SNAP_S else b) for a, b in spans
        ]

    marked, declared = snap(marked), snap(declared)
    segs = [Segment(a, b, "ai", 1.0, "c2pa") for a, b in declared]
    segs += [Segment(a, b, "ai", 1.0, "watermark") for a, b in _minus(marked, declared)]
    marked = marked + declared
    cursor = 0.0
    gaps = []
    for a, b in [*sorted(marked), (duration, duration)]:
        if a > cursor:
            gaps.append((cursor, a))
        cursor = max(cursor, b)
    for a, b in gaps if cls is not None else ():
        for s in cls.segments:
            lo, hi = max(a, s.start), min(b, s.end)
            if hi > lo:
                segs.append(Segment(lo, hi, s.label, s.score, s.source))
    return _merge(segs)


def _minus(
    spans: list[tuple[float, float]], cut: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """``spans`` with the time of ``cut`` taken out."""
    out = []
    for a, b in spans:
        parts = [(a, b)]
        for c, d in cut:
            parts = [q for x, y in parts for q in ((x, min(y, c)), (max(x, d), y)) if q[1] > q[0]]
        out += parts
    return out


def _two(score: float, threshold: float) -> tuple[str, str]:
    """A score and a threshold to as many decimals as it takes to tell them apart (2 to 4):
    0.8469 against 0.8527 read "0.85 (below 0.85)"."""
    for digits in (2, 3):
        a, b = f"{score:.{digits}f}", f"{threshold:.{digits}f}"
        if a != b:
            return a, b
    return f"{score:.4f}", f"{threshold:.4f}"


def _marked(
    spans: list[tuple[float, float]], cls: ClassifierResult | None, duration: float, source: str
) -> tuple[str, list[Segment]]:
    """Label and timeline of a clip our mark covers in ``spans``: ``ai`` from end to end when
    they cover it (:func:`~vidprov.watermark.covers_clip`), else the marked spans ``ai`` and
    the rest as :func:`_fill` labels it (``mixed`` unless that is ``ai`` too; ``mixed``
    without a classifier: part of it is certainly AI, the rest was not judged)."""
    if covers_clip(spans, duration):
        return "ai", [Segment(0.0, duration, "ai", 1.0, source)]
    segs = _fill(spans, cls, duration)
    return ("ai" if cls and all(s.label == "ai" for s in segs) else "mixed"), segs


def fuse(
    file: str,
    duration: float,
    c2pa: dict[str, Any] | None,
    recovered: dict[str, Any] | None,
    watermark: dict[str, Any] | None,
    classifier: ClassifierResult | ClassifierSkipped | None,
    conflicts: tuple[str, ...] = (),
) -> Verdict:
    """Combine the evidence for one file into a :class:`Verdict` (see the module rules).
    ``conflicts``: those the evidence already found (``verify``'s), listed first.

    ``classifier`` is the classifier's result, ``None`` when it was not asked for, or a
    :class:`ClassifierSkipped` when it was asked for but could not run: then it decides nothing,
    as with ``None``, and ``evidence["classifier"]`` gives the reason."""
    verdict = _decide(file, duration, c2pa, recovered, watermark, classifier)
    note = _untrusted_claim(c2pa, verdict.label)
    found = (*conflicts, *verdict.conflicts, *((note,) if note else ()))
    return replace(verdict, conflicts=found) if found != verdict.conflicts else verdict


# the labels each digital source type agrees with
_AGREES = {TRAINED: ("ai",), COMPOSITE_TRAINED: ("mixed", "ai"), CAPTURE: ("real",)}


def _untrusted_claim(c2pa: dict[str, Any] | None, label: str) -> str | None:
    """A note when a manifest that decided nothing (not trusted) claims otherwise."""
    if c2pa is None or c2pa.get("state") in ("trusted", "absent", None):
        return None
    claim = _claim(c2pa)
    if claim not in _AGREES or label in _AGREES[claim]:
        return None
    state = c2pa["state"]
    return f"manifest claims {claim} but is not trusted ({state}), so not used: verdict {label}"


def _decide(
    file: str,
    duration: float,
    c2pa: dict[str, Any] | None,
    recovered: dict[str, Any] | None,
    watermark: dict[str, Any] | None,
    given: ClassifierResult | ClassifierSkipped | None,
) -> Verdict:
    evidence: dict[str, Any] = {
        "c2pa": c2pa,
        "recovered": recovered,
        "watermark": watermark,
        "classifier": given.to_dict() if given else None,
    }
    classifier = given if isinstance(given, ClassifierResult) else None  # a skip tells nothing
    conflicts: list[str] = []
    cls_ai = classifier is not None and classifier.clip_score >= classifier.threshold
    wm_on = bool(watermark and watermark.get("detected"))
    trusted = c2pa is not None and c2pa.get("state") == "trusted"
    claim = _claim(c2pa) if trusted else None
    # a recovered manifest from a signer the anchors do not vouch for decides nothing
    # by its lineage: a trim's own action declares no source type, its source's does (scan
    # said `decided_by: watermark` where verify recovered a trusted AI manifest)
    rec_claim = (
        _claim(recovered) or _claim(recovered.get("manifest"))
        if recovered and recovered.get("trusted")
        else None
    )

    if claim in (TRAINED, COMPOSITE_TRAINED) or (
        claim is None and rec_claim in (TRAINED, COMPOSITE_TRAINED)
    ):
        used = claim or rec_claim
        source = "c2pa" if claim else "recovered-c2pa"
        label = "ai" if used == TRAINED else "mixed"
        # a composite's clip score may well sit under the threshold: it disagrees only when
        # none of the classifier's segments is labelled ai either
        found_ai = classifier is not None and any(s.label == "ai" for s in classifier.segments)
        if classifier is not None and not cls_ai and not (used == COMPOSITE_TRAINED and found_ai):
            score, thr = _two(classifier.clip_score, classifier.threshold)
            conflicts.append(
                f"classifier scored {score} (below {thr}) but the manifest claims {used}"
            )
        # a recovered manifest describes the clip the mark was minted for, or an edit of it
        # (a concatenation's composite claim is about the concatenation): it vouches for the
        # marked time only, unless its hash binding holds for these very bytes
        own = claim is not None or bool(recovered and recovered.get("content_matches"))
        if not own:
            spans = _bridged(_wm_spans(watermark, duration), recovered, watermark)
            label, segs = _marked(spans, classifier, duration, source)
        elif label == "mixed":
            marked = _wm_spans(watermark, duration)
            # the pieces the manifest itself records as generated are ai whether or not they
            # carry our mark (another generator's clip in a concatenation)
            pieces = _pieces(c2pa if claim else (recovered or {}).get("manifest"), claim)
            # within the clip: a signer's pieces could say anything
            declared = [
                (p.start, p.end)
                for p in remap_pieces(pieces, 0.0, duration)
                if p.kind == "generated"
            ]
            segs = _fill(marked, classifier, duration, declared)
            # a composite our mark (and its generated pieces) cover from end to end, but for the
            # mark's uncertain ends, is not mixed: generated clips joined by a concat made
            # before concats declared them generated. Not one that records an unclaimed piece:
            # with the slack, a camera piece under half a second read ai. A tighter slack than
            # covers_clip's (a second, a tenth), which would take a 1 s camera piece for a lost
            # mark: the classifier's word on an unmarked stretch is not enough against the claim
            # that something in it is not generated
            unclaimed = any(p.kind == "unclaimed" for p in pieces)
            if not unclaimed and covers_clip(marked + declared, duration, BRIDGE_SLACK_S):
                label = "ai"
        else:
            segs = [Segment(0.0, duration, "ai", 1.0, source)]
        return Verdict(file, label, 1.0, tuple(segs), duration, evidence, source, tuple(conflicts))

    if claim is not None and wm_on:
        conflicts.append(f"trusted manifest claims {claim} but our watermark is present")

    if wm_on:
        spans = _wm_spans(watermark, duration)
        label, segs = _marked(spans, classifier, duration, "watermark")
        if classifier is not None and not cls_ai and covers_clip(spans, duration):
            conflicts.append(
                f"classifier scored {classifier.clip_score:.2f} but the watermark is present"
            )
        return Verdict(
            file, label, 1.0, tuple(segs), duration, evidence, "watermark", tuple(conflicts)
        )

    if classifier is None:
        if claim == CAPTURE:  # a trusted manifest that says a camera made it
            segs = (Segment(0.0, duration, "real", 0.0, "c2pa"),)
            return Verdict(file, "real", 0.0, segs, duration, evidence, "c2pa", tuple(conflicts))
        # no classifier and no mark or manifest: the absence of our evidence is not evidence
        return Verdict(file, "unknown", None, (), duration, evidence, "none", tuple(conflicts))
    segs = list(classifier.segments)
    labels = {s.label for s in segs}
    if labels == {"ai", "real"}:
        label = "mixed"
    elif labels:  # the splice model may flag every shot of a clip scored under the threshold
        label = labels.pop()
    else:
        label = "ai" if cls_ai else "real"
    # P(some of it is AI) is at least any flagged segment's (a splice score is per shot)
    score = max([classifier.clip_score, *(s.score for s in segs if s.label == "ai")])
    if claim is not None and label != "real":
        conflicts.append(f"trusted manifest claims {claim} but the classifier says {label}")
    return Verdict(
        file,
        label,
        score,
        tuple(segs),
        duration,
        evidence,
        "classifier",
        tuple(conflicts),
    )


def _wm_spans(watermark: dict[str, Any] | None, duration: float) -> list[tuple[float, float]]:
    """The marked spans; one that runs to the end of the reading's frames runs to the clip's
    end (``duration``). The reading gives its last frame the usual frame gap, the clip its own
    length: a clip marked to its last frame, shown 3 s, read ``mixed``, its end ``real``."""
    if not watermark:
        return []
    last = float(watermark.get("duration") or 0.0)
    spans = [(float(s["start"]), float(s["end"])) for s in watermark.get("segments", ())]
    return [(a, duration if last and b >= last - SNAP_S else b) for a, b in spans]


BRIDGE_SLACK_S = 0.5  # the marked spans' ends may each sit a quarter second off


def _bridged(
    spans: list[tuple[float, float]],
    recovered: dict[str, Any] | None,
    watermark: dict[str, Any] | None,
) -> list[tuple[float, float]]:
    """The marked spans, joined into one where they run from first to last over the whole
    clip that was marked with this payload: its length, from the recovered manifest's soft
    binding (one unbroken run of blocks: a concatenation's binding covers its marked pieces
    only), within :data:`BRIDGE_SLACK_S`. The mark is the same in every frame, so it cannot
    tell a stretch where a re-encode weakened it too far to read (HEVC CRF 28: a p-value of
    0.68 over 1.2 s in the middle of a 5 s clip, which the classifier then labelled ``real``
    inside the very clip the manifest says is generated) from footage put between two pieces
    of the clip; only the length can. Footage that replaced a stretch of the same length is
    the case this reads wrong. Spans of another payload, or a hull longer or shorter than the
    marked clip (pieces of it with other footage between them), are left as they are."""
    if len(spans) < 2 or not recovered or not watermark:
        return spans
    payload = (recovered.get("via") or {}).get("payload")
    payloads = {s.get("payload") for s in watermark.get("segments", ())} - {None}
    if not payload or payloads - {payload}:
        return spans
    value = payload_to_value(payload)
    blocks = [
        b
        for b in from_manifest(recovered.get("manifest") or {})
        if (b.alg, b.value) == (ALG, value)
    ]
    if not blocks:
        return spans
    blocks.sort(key=lambda b: b.start_ms)
    reach = blocks[0].end_ms
    for b in blocks[1:]:
        if b.start_ms > reach:  # pieces only (a concatenation's): other footage between
            return spans
        reach = max(reach, b.end_ms)
    marked_s = (reach - blocks[0].start_ms) / 1000
    first, last = min(a for a, _ in spans), max(b for _, b in spans)
    if abs((last - first) - marked_s) > BRIDGE_SLACK_S:
        return spans
    return [(first, last)]
