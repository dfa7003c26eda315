"""Fusion rules: a trusted AI manifest or a detected watermark wins; conflicts are reported."""

from __future__ import annotations

from dataclasses import replace

from vidprov.detector.fusion import fuse
from vidprov.detector.verdict import ClassifierResult, ClassifierSkipped, Segment

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def cls(score: float, segs: list[tuple[float, float, str, float]], thr: float = 0.5):
    s = tuple(Segment(a, b, lab, sc, "classifier") for a, b, lab, sc in segs)
    return ClassifierResult("toy", score, thr, (0.0,), (score,), s, 10.0)


def c2pa(state: str, dst: str | None) -> dict:
    return {"state": state, "digital_source_type": IPTC + dst if dst else None, "actions": []}


def created(dst: str) -> dict:
    """A ``c2pa.actions.v2`` assertion saying ``c2pa.created`` with source type ``dst``."""
    action = {"action": "c2pa.created", "digitalSourceType": IPTC + dst}
    return {"label": "c2pa.actions.v2", "data": {"actions": [action]}}


def wm(*spans: tuple[float, float]) -> dict:
    return {
        "detected": bool(spans),
        "payload": "ab" * 8 if spans else None,
        "segments": [{"start": a, "end": b, "payload": "ab" * 8} for a, b in spans],
    }


REAL_CLS = cls(0.1, [(0, 10, "real", 0.1)])
AI_CLS = cls(0.9, [(0, 10, "ai", 0.9)])


def test_trusted_ai_manifest_wins_over_classifier_and_reports_conflict() -> None:
    v = fuse("f", 10.0, c2pa("trusted", "trainedAlgorithmicMedia"), None, wm(), REAL_CLS)
    assert (v.label, v.decided_by, v.score) == ("ai", "c2pa", 1.0)
    assert any("classifier" in c for c in v.conflicts)


def test_untrusted_ai_claim_does_not_decide_but_is_noted() -> None:
    v = fuse("f", 10.0, c2pa("valid", "trainedAlgorithmicMedia"), None, wm(), REAL_CLS)
    assert (v.label, v.decided_by) == ("real", "classifier")
    assert v.conflicts == (
        "manifest claims trainedAlgorithmicMedia but is not trusted (valid), so not used: "
        "verdict real",
    )
    v = fuse("f", 10.0, c2pa("invalid", "digitalCapture"), None, wm(), AI_CLS)
    assert v.label == "ai" and "not trusted (invalid)" in v.conflicts[0]
    for claim, classifier in (("trainedAlgorithmicMedia", AI_CLS), ("digitalCapture", REAL_CLS)):
        v = fuse("f", 10.0, c2pa("valid", claim), None, wm(), classifier)
        assert v.conflicts == ()  # the claim agrees with the verdict: nothing to note


def test_recovered_manifest_decides_when_embedded_is_gone() -> None:
    raw = {"assertions": [created("trainedAlgorithmicMedia")]}
    rec = {"manifest": raw, "trusted": True}
    v = fuse("f", 10.0, c2pa("absent", None), rec, wm((0, 10)), REAL_CLS)
    assert (v.label, v.decided_by) == ("ai", "recovered-c2pa")
    # signed by a signer the anchors do not vouch for: the mark decides, not the manifest
    untrusted = fuse(
        "f", 10.0, c2pa("absent", None), {**rec, "trusted": False}, wm((0, 10)), REAL_CLS
    )
    assert (untrusted.label, untrusted.decided_by) == ("ai", "watermark")
    # found through a mark on the first 4 s only: it vouches for those, not for footage
    # appended after them (the classifier labels that)
    v = fuse("f", 10.0, c2pa("absent", None), rec, wm((0, 4)), REAL_CLS)
    assert (v.label, v.decided_by) == ("mixed", "recovered-c2pa")
    assert [(s.start, s.end, s.label) for s in v.segments] == [(0, 4, "ai"), (4, 10, "real")]


def test_a_weak_stretch_between_pieces_of_one_recovered_clip_is_part_of_it() -> None:
    """A 5 s clip re-encoded (HEVC CRF 28) lost its mark's strength for a second in the middle:
    the recovered manifest's soft binding says the clip marked with this payload lasted 5 s,
    so nothing else fits between its pieces, and that second was labelled ``real`` by the
    classifier (a helper's audit). Pieces of a 5 s clip 7 s apart, or 4 s from first to last,
    have other footage between them."""
    from vidprov.provenance.softbinding import payload_to_value

    value = payload_to_value("ab" * 8)
    raw = {
        "assertions": [
            created("trainedAlgorithmicMedia"),
            {
                "label": "c2pa.soft-binding",
                "data": {
                    "alg": "io.vidprov.watermark.ss64.v1",
                    "blocks": [
                        {"scope": {"timespan": {"start": k * 1000, "end": k * 1000 + 1000}},
                         "value": value}
                        for k in range(5)
                    ],
                },
            },
        ]
    }  # fmt: skip
    rec = {"manifest": raw, "trusted": True, "via": {"payload": "ab" * 8}}
    weak = wm((0, 2.47), (3.6, 5.0))
    weak["segments"][0]["payload"] = None  # too weak a piece to decode alone
    v = fuse("f", 5.0, c2pa("absent", None), rec, weak, REAL_CLS)
    assert (v.label, [(s.start, s.end, s.label) for s in v.segments]) == ("ai", [(0, 5, "ai")])
    # appended camera footage stays the classifier's; so does a weak stretch, when nothing
    # says how long the marked clip was
    v = fuse("f", 9.0, c2pa("absent", None), rec, wm((0, 2.47), (3.47, 4.8)), REAL_CLS)
    assert [(s.start, s.end, s.label) for s in v.segments] == [(0, 4.8, "ai"), (4.8, 9, "real")]
    unbound = {**rec, "manifest": {"assertions": raw["assertions"][:1]}}
    v = fuse("f", 5.0, c2pa("absent", None), unbound, weak, REAL_CLS)
    assert v.label == "mixed"
    # a concatenation A[0:2.5] + 3 s of camera + A[2.5:5]: its binding has a hole there
    concat = {**rec, "manifest": {"assertions": [raw["assertions"][0], {
        "label": "c2pa.soft-binding",
        "data": {"alg": "io.vidprov.watermark.ss64.v1", "blocks": [
            {"scope": {"timespan": {"start": 0, "end": 1000}}, "value": value},
            {"scope": {"timespan": {"start": 1000, "end": 2500}}, "value": value},
            {"scope": {"timespan": {"start": 5500, "end": 8000}}, "value": value},
        ]},
    }]}}  # fmt: skip
    v = fuse("f", 8.0, c2pa("absent", None), concat, wm((0, 2.5), (5.5, 8)), REAL_CLS)
    assert [s.label for s in v.segments] == ["ai", "real", "ai"]
    # blocks that overlap cover what they cover (the one before the gap is not the one that
    # reaches furthest)
    spread = [(0, 5000), (1000, 2000), (3000, 4000)]
    overlapping = {**rec, "manifest": {"assertions": [raw["assertions"][0], {
        "label": "c2pa.soft-binding",
        "data": {"alg": "io.vidprov.watermark.ss64.v1", "blocks": [
            {"scope": {"timespan": {"start": a, "end": b}}, "value": value} for a, b in spread
        ]},
    }]}}  # fmt: skip
    v = fuse("f", 5.0, c2pa("absent", None), overlapping, wm((0, 2), (3.2, 5)), REAL_CLS)
    assert [(s.start, s.end, s.label) for s in v.segments] == [(0, 5, "ai")]
    for far in (wm((0, 2.5), (9.5, 12)), wm((0, 1.5), (2.5, 4))):  # longer, shorter hulls
        v = fuse("f", 12.0, c2pa("absent", None), rec, far, REAL_CLS)
        assert [s.label for s in v.segments] == ["ai", "real", "ai", "real"][: len(v.segments)]
        assert len(v.segments) >= 3


def test_a_recovered_composite_claim_is_about_the_composite() -> None:
    """A marked clip later concatenated with camera footage led to the concatenation's
    manifest, whose composite claim made the clip itself read "mixed" though marked end to end."""
    raw = {"assertions": [created("compositeWithTrainedAlgorithmicMedia")]}
    rec = {"manifest": raw, "trusted": True, "content_matches": False}
    v = fuse("f", 3.0, c2pa("absent", None), rec, wm((0, 3)), REAL_CLS)
    assert (v.label, v.decided_by) == ("ai", "recovered-c2pa")
    assert [(s.start, s.end, s.label) for s in v.segments] == [(0, 3, "ai")]
    # the composite itself, its manifest stripped but its bytes the ones signed: mixed
    v = fuse("f", 5.0, c2pa("absent", None), {**rec, "content_matches": True}, wm((2, 5)), None)
    assert (v.label, v.decided_by) == ("mixed", "recovered-c2pa")


def test_full_watermark_wins_over_classifier() -> None:
    v = fuse("f", 10.0, c2pa("absent", None), None, wm((0.0, 9.8)), REAL_CLS)
    assert (v.label, v.decided_by) == ("ai", "watermark")
    assert [s.to_dict()["label"] for s in v.segments] == ["ai"]
    assert v.conflicts


def test_watermark_short_of_the_edges_still_covers_a_short_clip() -> None:
    v = fuse("f", 2.04, c2pa("absent", None), None, wm((0.375, 2.04)), REAL_CLS)
    assert v.label == "ai"


def test_partial_watermark_gives_mixed_with_timeline() -> None:
    v = fuse("f", 10.0, c2pa("absent", None), None, wm((3.0, 6.0)), REAL_CLS)
    assert v.label == "mixed" and v.decided_by == "watermark"
    spans = [(s.start, s.end, s.label, s.source) for s in v.segments]
    assert spans == [
        (0.0, 3.0, "real", "classifier"),
        (3.0, 6.0, "ai", "watermark"),
        (6.0, 10.0, "real", "classifier"),
    ]


def test_trusted_camera_claim_with_watermark_is_a_conflict() -> None:
    v = fuse("f", 10.0, c2pa("trusted", "digitalCapture"), None, wm((0, 10)), REAL_CLS)
    assert v.label == "ai"
    assert any("digitalCapture" in c for c in v.conflicts)


def test_classifier_alone_ai_mixed_real() -> None:
    assert fuse("f", 10.0, None, None, None, AI_CLS).label == "ai"
    assert fuse("f", 10.0, None, None, None, REAL_CLS).label == "real"
    mixed = cls(0.8, [(0, 4, "real", 0.1), (4, 7, "ai", 0.8), (7, 10, "real", 0.2)])
    v = fuse("f", 10.0, None, None, None, mixed)
    assert v.label == "mixed" and v.score == 0.8


def test_no_evidence_at_all_is_unknown_without_a_score() -> None:
    v = fuse("f", 10.0, c2pa("absent", None), None, None, None)
    assert (v.label, v.score, v.decided_by, v.segments) == ("unknown", None, "none", ())
    d = v.to_dict()
    assert set(d) >= {"file", "label", "score", "segments", "evidence"} and d["score"] is None
    assert v.score_text == "-"


def test_trusted_camera_claim_without_classifier_is_real() -> None:
    v = fuse("f", 10.0, c2pa("trusted", "digitalCapture"), None, None, None)
    assert (v.label, v.score, v.decided_by) == ("real", 0.0, "c2pa")
    assert [(s.start, s.end, s.label) for s in v.segments] == [(0.0, 10.0, "real")]


def test_a_skipped_classifier_decides_nothing_and_says_why() -> None:
    skipped = ClassifierSkipped("frames of 1x1 cannot be classified")
    cases = [
        (c2pa("trusted", "trainedAlgorithmicMedia"), wm(), ("ai", "c2pa")),
        (c2pa("absent", None), wm((3.0, 6.0)), ("mixed", "watermark")),
        (c2pa("trusted", "digitalCapture"), wm(), ("real", "c2pa")),
        (c2pa("absent", None), wm(), ("unknown", "none")),
    ]
    for manifest, mark, want in cases:
        v = fuse("f", 10.0, manifest, None, mark, skipped)
        alone = fuse("f", 10.0, manifest, None, mark, None)  # as without a classifier
        assert (v.label, v.decided_by) == want
        assert (v.score, v.segments, v.conflicts) == (alone.score, alone.segments, alone.conflicts)
        assert v.evidence["classifier"] == {
            "skipped": True,
            "reason": "frames of 1x1 cannot be classified",
        }


def test_a_splice_model_that_flags_every_shot_makes_the_clip_ai_not_mixed() -> None:
    splice = (Segment(0, 4, "ai", 0.98, "splice"), Segment(4, 10, "ai", 0.8, "splice"))
    result = ClassifierResult("toy", 0.6, 0.85, (0.0,), (0.6,), splice, 10.0)
    v = fuse("f", 10.0, c2pa("absent", None), None, wm(), result)
    assert (v.label, v.score) == ("ai", 0.98)  # "mixed" needs a real segment too
    one = (Segment(0, 4, "ai", 0.9, "splice"), Segment(4, 10, "real", 0.1, "splice"))
    v = fuse("f", 10.0, c2pa("absent", None), None, wm(), replace(result, segments=one))
    assert (v.label, v.score) == ("mixed", 0.9)


def test_without_a_classifier_unmarked_time_gets_no_segment() -> None:
    v = fuse("f", 10.0, c2pa("absent", None), None, wm((3.0, 6.0)), None)
    assert v.label == "mixed"  # part certainly AI, the rest not judged
    assert [(s.start, s.end, s.label, s.source) for s in v.segments] == [
        (3.0, 6.0, "ai", "watermark")
    ]
    composite = fuse(
        "f", 10.0, c2pa("trusted", "compositeWithTrainedAlgorithmicMedia"), None, wm(), None
    )
    assert (composite.label, composite.segments) == ("mixed", ())


def test_a_mark_ending_at_the_rounded_duration_leaves_no_sliver() -> None:
    # reports round span times to the millisecond; the clip lasts 5.958333 s
    for classifier in (None, cls(0.1, [(0.0, 5.958333, "real", 0.1)])):
        v = fuse("f", 5.958333, c2pa("absent", None), None, wm((3.042, 5.958)), classifier)
        assert v.segments[-1].end == 5.958333 and v.segments[-1].label == "ai"
        assert all(s.end - s.start > 0.5 for s in v.segments)


def test_a_mark_to_the_last_frame_covers_a_last_frame_shown_long() -> None:
    """The reading gives its last frame the usual frame gap (its frames end at 4.0 s); the
    clip's last frame is shown 3 s more. That time read ``real``, and the clip ``mixed``."""
    held = {**wm((0.0, 4.0)), "duration": 4.0}
    v = fuse("f", 6.967, c2pa("absent", None), None, held, REAL_CLS)
    assert v.label == "ai" and [(s.start, s.end) for s in v.segments] == [(0.0, 6.967)]
    early = {**wm((0.0, 2.0)), "duration": 4.0}  # a mark that ends before the last frame
    v = fuse("f", 6.967, c2pa("absent", None), None, early, REAL_CLS)
    assert v.label == "mixed" and v.segments[0].end == 2.0


def test_conflict_lines_tell_the_score_from_the_threshold_and_spare_a_composite() -> None:
    """ "classifier scored 0.85 (below 0.85)"; and a composite claim (mixed) was in conflict
    with a clip score under the threshold even when the classifier found the AI part."""
    v = fuse("f", 10.0, c2pa("trusted", "trainedAlgorithmicMedia"), None, wm(), cls(0.8469, [],
             thr=0.8527))  # fmt: skip
    assert v.conflicts == (
        "classifier scored 0.847 (below 0.853) but the manifest claims trainedAlgorithmicMedia",
    )
    composite = c2pa("trusted", "compositeWithTrainedAlgorithmicMedia")
    found = cls(0.4, [(0, 4, "ai", 0.9), (4, 10, "real", 0.1)])
    assert fuse("f", 10.0, composite, None, wm(), found).conflicts == ()
    v = fuse("f", 10.0, composite, None, wm(), REAL_CLS)  # nothing of it looks AI: a conflict
    assert v.label == "mixed" and "below 0.50" in v.conflicts[0]


def test_a_composite_claim_whose_every_moment_reads_generated_is_ai() -> None:
    """Two generated clips joined by an older concat (declared a composite): `mixed`, with one
    0-10 s `ai` segment."""
    composite = c2pa("trusted", "compositeWithTrainedAlgorithmicMedia")
    v = fuse("f", 10.0, composite, None, wm((0.0, 10.0)), REAL_CLS)
    assert v.label == "ai" and [(s.start, s.end, s.label) for s in v.segments] == [
        (0.0, 10.0, "ai")
    ]
    v = fuse("f", 10.0, composite, None, wm((0.0, 4.0)), AI_CLS)  # the classifier's word on
    assert v.label == "mixed"  # the rest does not outweigh the claim that some is not generated
    v = fuse("f", 10.0, composite, None, wm((0.0, 4.0)), REAL_CLS)
    assert v.label == "mixed" and [s.label for s in v.segments] == ["ai", "real"]
    v = fuse("f", 10.0, composite, None, wm((0.0, 4.0)), None)  # the rest unknown: mixed
    assert v.label == "mixed"
    # a second unmarked is a camera piece, not a lost mark (covers_clip would allow it)
    assert fuse("f", 10.0, composite, None, wm((0.0, 9.0)), REAL_CLS).label == "mixed"
    assert fuse("f", 3.0, composite, None, wm((0.0, 2.0)), None).label == "mixed"
    assert fuse("f", 10.0, composite, None, wm((0.2, 9.8)), None).label == "ai"  # ends unsure


def test_no_mark_covers_no_clip_however_short() -> None:
    """A clip of a second or less counted as covered by no span at all: a composite claim on
    an unmarked 0.8 s clip read `ai`, and a trim of an unmarked second declared generated."""
    from vidprov.watermark import covers_clip

    assert not covers_clip([], 0.8) and covers_clip([(0.0, 0.5)], 0.8) and covers_clip([], 0.0)
    # spans that overlap count their shared time once: 2-4 s twice is not 4 s of a 4 s clip
    assert not covers_clip([(2.0, 4.0), (2.0, 4.0)], 4.0, slack=0.5)
    assert covers_clip([(0.0, 2.5), (2.0, 4.0)], 4.0, slack=0.0)
    composite = c2pa("trusted", "compositeWithTrainedAlgorithmicMedia")
    assert fuse("f", 0.8, composite, None, wm(), None).label == "mixed"


def test_a_composite_that_records_its_pieces_stays_mixed_and_labels_them() -> None:
    """Its generated pieces are ai by the manifest; with our mark inside one, that time was
    counted twice and the clip read ai, and so did one whose camera piece was under the
    watermark's half-second slack."""
    comp = c2pa("trusted", "compositeWithTrainedAlgorithmicMedia")
    comp["composition"] = [
        {"start": 0.0, "end": 4.0, "kind": "unclaimed"},
        {"start": 4.0, "end": 6.0, "kind": "generated"},  # marked, inside
        {"start": 6.0, "end": 8.0, "kind": "generated"},  # another generator's: not marked
    ]
    v = fuse("f", 8.0, comp, None, wm((4.1, 5.9)), None)
    assert v.label == "mixed"
    assert [(s.start, s.end, s.label, s.source) for s in v.segments] == [(4.0, 8.0, "ai", "c2pa")]
    v = fuse("f", 8.0, comp, None, wm((3.0, 5.0)), cls(0.2, [(0, 8, "real", 0.2)]))
    assert [(s.start, s.end, s.label, s.source) for s in v.segments] == [
        (0.0, 3.0, "real", "classifier"),
        (3.0, 4.0, "ai", "watermark"),  # our mark reaches into the camera piece: said so
        (4.0, 8.0, "ai", "c2pa"),
    ]
    comp["composition"][2]["end"] = 80.0  # past the clip's end: cut to it
    v = fuse("f", 8.0, comp, None, wm(), None)
    assert [(s.start, s.end) for s in v.segments] == [(4.0, 8.0)]
    comp["composition"][0]["end"] = 0.4  # camera under the slack, the rest generated
    comp["composition"][1]["start"] = 0.4
    assert fuse("f", 8.0, comp, None, wm(), None).label == "mixed"
    # our mark over a generated piece counted its time twice: 2 + 6 + 6 s "covered" 8 s
    comp["composition"] = [
        {"start": 0.0, "end": 2.0, "kind": "unclaimed"},
        {"start": 2.0, "end": 8.0, "kind": "generated"},
    ]
    assert fuse("f", 8.0, comp, None, wm((2.0, 8.0)), None).label == "mixed"
    # pieces all generated in part, our mark over the rest: ai (an old concat of generated
    # clips, declared a composite, joined with another generated clip)
    comp["composition"] = [
        {"start": 0.0, "end": 4.0, "kind": "composite"},
        {"start": 4.0, "end": 8.0, "kind": "generated"},
    ]
    assert fuse("f", 8.0, comp, None, wm((0.1, 3.9)), None).label == "ai"
    assert fuse("f", 8.0, comp, None, wm((0.1, 2.0)), None).label == "mixed"
    # pieces one inside another: the timeline keeps the outer one's end
    comp["composition"] = [
        {"start": 0.0, "end": 6.0, "kind": "generated"},
        {"start": 1.0, "end": 2.0, "kind": "generated"},
        {"start": 6.0, "end": 8.0, "kind": "unclaimed"},
    ]
    v = fuse("f", 8.0, comp, None, wm(), None)
    assert [(s.start, s.end, s.source) for s in v.segments] == [(0.0, 6.0, "c2pa")]
    # without a recorded composition (an edit made before it), the old rule: our mark covering
    # all but half a second reads ai
    del comp["composition"]
    assert fuse("f", 8.0, comp, None, wm((0.3, 8.0)), None).label == "ai"
