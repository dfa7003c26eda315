"""Trim and concat keep lineage: ingredients, re-mapped soft bindings, surviving watermark."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.clicks import CLICKS, click_clip, click_times
from tests.provenance.conftest import PAYLOAD
from tests.streams import encoded, stream_copy
from vidprov.errors import ConfigError
from vidprov.media import (
    Display,
    EncodeOptions,
    VideoWriter,
    iter_frames,
    probe,
    synth_frames,
    transcode,
)
from vidprov.provenance import SignResult, concat_files, trim_file, verify_file
from vidprov.provenance.manifest import COMPOSITE_TRAINED, TRAINED


def test_trim_chain(env_home: Path, signed: SignResult, tmp_path: Path) -> None:
    out = trim_file(signed.output, tmp_path / "trim.mp4", 0.5, 2.5)
    assert out.input == str(signed.output)  # the clip trimmed, not the temp re-encode
    info = probe(out.output)
    assert info.frames == 60 and info.has_audio
    r = verify_file(out.output)
    assert r.c2pa.state == "trusted"
    assert [a["action"] for a in r.c2pa.actions] == ["c2pa.opened", "c2pa.edited"]
    (ing,) = r.c2pa.ingredients
    assert ing["relationship"] == "parentOf" and ing["manifest_id"] == signed.manifest_id
    assert r.c2pa.digital_source_type == TRAINED  # inherited from the parent
    # source blocks [0,1) [1,2) [2,3) s cut to [0.5, 2.5) and moved to 0
    assert [(b.start_ms, b.end_ms) for b in out.soft_binding] == [
        (0, 500),
        (500, 1500),
        (1500, 2000),
    ]
    assert r.watermark is not None and r.watermark.payload == PAYLOAD
    seg = r.watermark.segments[0]
    assert seg.start <= 0.1 and seg.end >= 1.9


def test_concat_chain(env_home: Path, signed: SignResult, clip_factory, tmp_path: Path) -> None:
    camera = clip_factory("cam.mp4", seconds=2.0, width=640, height=360, fps=25, seed=11)
    out = concat_files([camera, signed.output], tmp_path / "cat.mp4")
    assert out.input == f"{camera} + {signed.output}"
    r = verify_file(out.output)
    assert r.c2pa.state == "trusted"
    assert [i["relationship"] for i in r.c2pa.ingredients] == ["componentOf", "componentOf"]
    assert r.c2pa.ingredients[0]["manifest_id"] is None
    assert r.c2pa.ingredients[1]["manifest_id"] == signed.manifest_id
    assert r.c2pa.digital_source_type == COMPOSITE_TRAINED
    assert [(b.start_ms, b.end_ms) for b in out.soft_binding] == [
        (2000, 3000),
        (3000, 4000),
        (4000, 5000),
    ]
    assert r.watermark is not None
    (seg,) = [s for s in r.watermark.segments if s.payload]
    assert seg.payload == PAYLOAD
    assert abs(seg.start - 2.0) <= 0.5 and abs(seg.end - 5.0) <= 0.5


def test_concat_marks_again_a_source_it_fits_with_black_bars(
    env_home: Path, signed: SignResult, clip_factory, tmp_path: Path
) -> None:
    """Bars move a source's picture off the mark's grid: its mark read p = 1 in the output,
    whose manifest still declared its blocks, so a copy stripped of the manifest read as
    camera footage (and `sign --no-ai` took it)."""
    camera = clip_factory("wide.mp4", seconds=2.0, width=640, height=270, fps=25, seed=11)
    out = concat_files([camera, signed.output], tmp_path / "cat.mp4")  # 480x270 inside bars
    assert [(b.start_ms, b.end_ms) for b in out.soft_binding] == [
        (2000, 3000),
        (3000, 4000),
        (4000, 5000),
    ]
    r = verify_file(out.output)
    assert r.watermark is not None and r.watermark.payload == PAYLOAD, r.watermark
    (seg,) = [s for s in r.watermark.segments if s.payload]
    assert abs(seg.start - 2.0) <= 0.5 and abs(seg.end - 5.0) <= 0.5


def _noisy(path: Path, w: int, h: int, display: Display | None = None) -> Path:
    """1.2 s of a noisy flat colour (texture for the mark), RGB about (198, 58, 39)."""
    rng = np.random.default_rng(7)
    with VideoWriter(path, w, h, 25, display=display) as out:
        for _ in range(30):
            noise = rng.integers(-12, 13, (h, w, 1))
            out.write((np.array([198, 58, 39]) + noise).clip(0, 255).astype(np.uint8))
    return path


def test_concat_marks_again_in_the_colours_of_the_output(env_home: Path, tmp_path: Path) -> None:
    """The re-marked source was converted to YUV by BT.601 in video range whatever the output
    was tagged with: after a full-range BT.709 first source, its red read (199, 76, 45)."""
    from vidprov.keys import load_watermark_key
    from vidprov.watermark import embed_file

    first = _noisy(tmp_path / "a.mp4", 320, 180, Display(full_range=True, colour=(1, 1, 1)))
    marked = tmp_path / "b_marked.mp4"
    embed_file(_noisy(tmp_path / "b.mp4", 320, 240), marked, load_watermark_key(), PAYLOAD)
    out = concat_files([first, marked], tmp_path / "cat.mp4")
    assert out.soft_binding  # it was marked again (bars: 240x180 inside 320x180)
    frames = list(iter_frames(out.output))
    first_part, marked_part = (
        np.mean([f.rgb[40:140, 120:200].reshape(-1, 3).mean(0) for f in part], axis=0)
        for part in (frames[5:25], frames[35:55])  # the first source, then the re-marked one
    )
    assert np.abs(marked_part - first_part).max() < 3, (first_part, marked_part)
    bar = frames[45].rgb[:, :30]  # 40 px of bar each side
    assert bar.max() < 12, bar.max()  # black, not video-range grey (16)


def test_concat_declares_no_blocks_for_a_mark_its_bars_lost(
    env_home: Path, signed: SignResult, clip_factory, tmp_path: Path, caplog
) -> None:
    """Too small a picture to mark again: the output does not declare a mark it cannot carry
    (it declared the source's three blocks), and says so."""
    camera = clip_factory("small.mp4", seconds=1.0, width=96, height=48, fps=25, seed=11)
    out = concat_files([camera, signed.output], tmp_path / "cat.mp4")
    assert out.soft_binding == ()
    assert "with black bars, its watermark no longer reads" in caplog.text
    assert "too small to carry a watermark" in caplog.text


def test_a_trim_of_a_stripped_clip_marked_in_part_declares_only_that(
    env_home: Path, signed: SignResult, clip_factory, tmp_path: Path
) -> None:
    """A trim of a clip whose manifest was stripped declares what our mark shows of the trim:
    it declared the whole trim generated, so a scan read the camera footage in it ``ai``."""
    camera = clip_factory("cam3.mp4", seconds=2.0, width=640, height=360, fps=25, seed=13)
    cat = concat_files([signed.output, camera], tmp_path / "cat.mp4")  # marked 0-3 s, then 2 s
    stripped = tmp_path / "stripped.mp4"
    transcode(cat.output, stripped, EncodeOptions(crf=23))
    kinds = {}
    for name, a, b in (("part", 2.0, 4.5), ("camera", 3.5, 5.0)):  # whole: the test below
        out = trim_file(stripped, tmp_path / f"{name}.mp4", a, b)
        kinds[name] = verify_file(out.output).c2pa.digital_source_type
    assert kinds == {"part": COMPOSITE_TRAINED, "camera": None}


def test_concat_joins_the_sources_sound_each_at_its_place(env_home: Path, tmp_path: Path) -> None:
    """Concat left the sound out (with a warning). A source without sound is silence; one
    whose clock starts at 2 s, at 44.1 kHz, lands at its place all the same."""
    click_clip(first := tmp_path / "a.mp4", "aac", 48000)  # 2 s, clicks at 0.5, 1.0, 1.5
    with VideoWriter(silent := tmp_path / "b.mp4", 64, 64, 30) as w:  # 1 s
        for rgb in synth_frames(30, 64, 64):
            w.write(rgb)
    click_clip(late := tmp_path / "c.mov", "pcm_s16le", 44100, start=2.0)
    out = concat_files([first, silent, late], tmp_path / "cat.mp4")
    clicks, heard = click_times(out.output)
    assert clicks == pytest.approx([*CLICKS, *(3 + c for c in CLICKS)], abs=2e-3)
    assert heard == pytest.approx(5.0, abs=0.03) and probe(out.output).duration == 5.0
    out = concat_files([silent, silent], tmp_path / "quiet.mp4")
    assert not probe(out.output).has_audio  # no sound to join: no track


def test_concat_keeps_a_gap_and_gets_past_a_bad_packet(env_home: Path, tmp_path: Path) -> None:
    """A gap under a tenth of a second was closed (the sound after it ran early by its length),
    and an audio packet that did not decode silenced the rest of its source."""
    click_clip(gap := tmp_path / "gap.mp4", "aac", 48000, gap=(0.70, 0.77))
    click_clip(bad := tmp_path / "bad.mp4", "aac", 48000)
    data = bytearray(bad.read_bytes())
    with av.open(str(bad)) as c:  # garbage in place of the packet at 0.7 s
        for p in c.demux(c.streams.audio[0]):
            if p.size and p.pts is not None and 0.69 < float(p.pts * p.time_base) < 0.71:
                data[p.pos : p.pos + p.size] = b"\xff" * p.size
    bad.write_bytes(bytes(data))
    out = concat_files([gap, bad], tmp_path / "cat.mp4")
    clicks, _ = click_times(out.output)
    assert clicks == pytest.approx([*CLICKS, *(2 + c for c in CLICKS)], abs=2e-3)


def test_concat_places_a_source_cut_mid_gop_by_the_frames_it_shows(
    env_home: Path, tmp_path: Path
) -> None:
    """A stream copy cut mid-GOP: its header's 3.2 s counts frames never shown; the next
    source came 1.2 s late, after the last frame held that long."""
    options = {"g": "50", "keyint_min": "50"}
    full = encoded(tmp_path / "full.mp4", list(range(100)), Fraction(1, 25), options=options)
    # from inside the first GOP: 30 frames never shown, 50 shown
    cut = stream_copy(full, tmp_path / "cut.mp4", lambda i, keys, key: i >= 20)
    assert probe(cut).duration == pytest.approx(2.0)
    out = concat_files([cut, full], tmp_path / "cat.mp4")
    info = probe(out.output)
    assert info.frames == 150 and info.duration == pytest.approx(6.0)


def test_trim_bad_range(env_home: Path, signed: SignResult, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        trim_file(signed.output, tmp_path / "t.mp4", 2.0, 1.0)
    with pytest.raises(ConfigError, match="past the end") as ei:
        trim_file(signed.output, tmp_path / "t.mp4", 9.0, 10.0)
    assert ei.value.path == signed.output  # the CLI's line names the clip
    assert list(tmp_path.iterdir()) == []


def test_recovery_tells_a_clip_from_its_trim(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    """Both manifests declare the same payload; each stripped clip leads back to its own."""
    trim = trim_file(signed.output, tmp_path / "trim.mp4", 0.0, 1.5)  # the newer manifest
    for clip, expected in ((signed.output, signed.manifest_id), (trim.output, trim.manifest_id)):
        stripped = tmp_path / f"stripped-{Path(clip).name}"
        transcode(clip, stripped, EncodeOptions(crf=23))
        r = verify_file(stripped)
        assert r.c2pa.state == "absent" and r.recovered is not None
        assert r.recovered.manifest_id == expected
        assert set(r.recovered.candidates) >= {signed.manifest_id, trim.manifest_id}


def test_recovery_says_when_trims_of_one_length_cannot_be_told_apart(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    """The mark carries the payload, not where in the source a piece came from: a stripped
    copy of the second of two 1 s trims recovered the first one's manifest ("trimmed to
    0.000-1.000 s"), with nothing to say it could be the other."""
    from vidprov.provenance import ManifestStore

    store = ManifestStore(tmp_path / "own.sqlite")  # the module's holds other edits of it
    first = trim_file(signed.output, tmp_path / "t0.mp4", 0.0, 1.0, store=store)
    second = trim_file(signed.output, tmp_path / "t2.mp4", 2.0, 3.0, store=store)
    stripped = tmp_path / "stripped.mp4"
    transcode(second.output, stripped, EncodeOptions(crf=23))
    r = verify_file(stripped, store=store)
    assert r.recovered is not None and r.recovered.manifest_id == first.manifest_id  # the oldest
    assert r.recovered.ties == (second.manifest_id,)
    assert r.to_dict()["recovered"]["ties"] == [second.manifest_id]


def test_a_stripped_trim_is_decided_by_the_manifest_it_recovers(
    env_home: Path, signed: SignResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trim declares no source type itself (its action is c2pa.opened): scan read the
    recovered trim's own actions and said `decided_by: watermark` where verify recovered a
    trusted manifest whose lineage declares generated content."""
    import shutil

    from vidprov.detector import scan_file
    from vidprov.provenance.store import STORE_FILE

    # a home of the same keys whose store holds only this trim (the module's holds other
    # edits of the clip, one of which may fit as well)
    home = tmp_path / "home"
    shutil.copytree(env_home, home, ignore=shutil.ignore_patterns(f"{STORE_FILE}*"))
    monkeypatch.setenv("VIDPROV_HOME", str(home))
    trim = trim_file(signed.output, tmp_path / "t.mp4", 0.0, 2.0)
    stripped = tmp_path / "stripped.mp4"
    transcode(trim.output, stripped, EncodeOptions(crf=23))
    r = verify_file(stripped)
    assert r.recovered is not None and r.recovered.manifest_id == trim.manifest_id
    assert r.recovered.digital_source_type == TRAINED
    v = scan_file(stripped, classifier=False)
    assert (v.label, v.decided_by) == ("ai", "recovered-c2pa")


def test_recovery_prefers_the_original_over_an_edit_declaring_the_same_spans(
    env_home: Path, signed: SignResult, clip_factory, tmp_path: Path
) -> None:
    camera = clip_factory("cam2.mp4", seconds=1.0, width=640, height=360, fps=30, seed=12)
    cat = concat_files([signed.output, camera], tmp_path / "cat.mp4")  # starts with the clip
    stripped = tmp_path / "stripped.mp4"
    transcode(signed.output, stripped, EncodeOptions(crf=23))
    r = verify_file(stripped)
    assert r.recovered is not None and r.recovered.manifest_id == signed.manifest_id
    assert cat.manifest_id in r.recovered.candidates


def test_a_trim_of_a_stripped_marked_clip_declares_generated_content(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    stripped = tmp_path / "stripped.mp4"  # a re-upload: no manifest, our watermark kept
    transcode(signed.output, stripped, EncodeOptions(crf=23))
    out = trim_file(stripped, tmp_path / "t.mp4", 0.0, 2.0)
    r = verify_file(out.output)
    assert r.c2pa.digital_source_type == TRAINED  # as concat already declared it


def test_trim_and_concat_keep_a_portrait_clip_upright(env_home: Path, tmp_path: Path) -> None:
    src = tmp_path / "portrait.mp4"  # stored landscape, shown turned (a phone's clip)
    with VideoWriter(src, 96, 64, 25, display=Display(rotation=90)) as w:
        for rgb in synth_frames(50, 96, 64):
            w.write(rgb)
    assert probe(src).rotation == 90
    trimmed = trim_file(src, tmp_path / "trim.mp4", 0.4, 1.6).output
    joined = concat_files([src, src], tmp_path / "cat.mp4").output
    assert probe(trimmed).rotation == 90 and probe(joined).rotation == 90
    assert verify_file(trimmed).c2pa.state == "trusted"


def test_concat_turns_differently_shown_sources_upright_and_keeps_their_shape_and_timing(
    env_home: Path, tmp_path: Path
) -> None:
    """Every source was given the first's rotation (one of them played sideways), stretched to
    the first's size, and its last frame lasted the first source's frame length (the third
    source started at 4.167 s, not 4.0, after a 5 fps and a 30 fps source)."""

    def clip(name: str, fps: int, rotation: int) -> Path:
        path = tmp_path / name  # stored 96x64 with a white band along its top edge
        rgb = np.zeros((64, 96, 3), np.uint8)
        rgb[:8] = 255
        with VideoWriter(path, 96, 64, fps, display=Display(rotation=rotation)) as w:
            for _ in range(fps):  # 1 s
                w.write(rgb)
        return path

    turned, flat = clip("turned.mp4", 5, 90), clip("flat.mp4", 25, 0)
    out = concat_files([turned, flat, turned], tmp_path / "cat.mp4").output
    info = probe(out)
    assert (info.width, info.height, info.rotation) == (64, 96, 0)  # the first one, upright
    frames = list(iter_frames(out))
    assert len(frames) == 35
    times = [round(f.time, 3) for f in frames]
    assert times[4:7] == [0.8, 1.0, 1.04] and times[29:31] == [1.96, 2.0]  # was 1.96, 2.167
    first, middle = frames[0].rgb, frames[15].rgb
    assert first[:, :6].mean() > 200 and first[:, 12:].mean() < 30  # turned: the band at left
    # 96x64 fitted into 64x96: 64x43 between black bars, its band 5 rows deep (not stretched)
    assert middle[:22].mean() < 30 and middle[28:30].mean() > 200 and middle[34:].mean() < 30


def test_edits_of_edits_keep_the_ai_claim_of_the_whole_chain(
    env_home: Path, clip_factory, tmp_path: Path
) -> None:
    from vidprov.detector import scan_file
    from vidprov.provenance import SignOptions, load_signer, sign_file

    camera = clip_factory("cam.mp4", seconds=2.0, width=160, height=96, fps=25, seed=5)
    ai = sign_file(camera, tmp_path / "ai.mp4", SignOptions(ai=True), load_signer()).output
    once = trim_file(ai, tmp_path / "t1.mp4", 0.0, 1.6).output  # no watermark: the claim only
    twice = trim_file(once, tmp_path / "t2.mp4", 0.0, 1.2).output
    r = verify_file(twice)
    assert r.c2pa.state == "trusted" and r.c2pa.digital_source_type == TRAINED
    assert r.c2pa.ingredients[0]["digital_source_type"] == TRAINED  # t1, which inherits it
    other = clip_factory("cam2.mp4", seconds=1.0, width=160, height=96, fps=25, seed=6)
    joined = concat_files([twice, other], tmp_path / "cat.mp4").output
    assert verify_file(joined).c2pa.digital_source_type == COMPOSITE_TRAINED
    # generated clips joined: generated from end to end (it was a composite, scanned `mixed`)
    both = concat_files([twice, once], tmp_path / "both.mp4").output
    assert verify_file(both).c2pa.digital_source_type == TRAINED
    assert scan_file(both, classifier=False).label == "ai"
    v = scan_file(twice, classifier=False)
    assert (v.label, v.decided_by) == ("ai", "c2pa")


def test_a_concat_records_its_pieces_and_a_trim_of_one_declares_what_it_holds(
    env_home: Path, clip_factory, tmp_path: Path
) -> None:
    """A concatenation's manifest records what each piece's source was: a scan labels a
    generated piece that carries no mark of ours ``ai`` by it (it had no segment at all), and a
    trim of the camera piece declares no generated content (it inherited the composite claim,
    and a scan read it ``mixed``)."""
    from vidprov.detector import scan_file
    from vidprov.provenance import SignOptions, load_signer, sign_file
    from vidprov.provenance.composition import Piece
    from vidprov.provenance.manifest import COMPOSITE

    camera = clip_factory("cam.mp4", seconds=2.0, width=160, height=96, fps=25, seed=5)
    made = clip_factory("made.mp4", seconds=2.0, width=160, height=96, fps=25, seed=6)
    # another generator's clip: signed as generated, no mark of ours
    ai = sign_file(made, tmp_path / "ai.mp4", SignOptions(ai=True), load_signer()).output
    joined = concat_files([camera, ai], tmp_path / "cat.mp4").output

    def pieces(path: Path) -> tuple[str | None, list[tuple[float, float, str]]]:
        c = verify_file(path).c2pa
        return c.digital_source_type, [(p.start, p.end, p.kind) for p in c.composition]

    def timeline(path: Path) -> tuple[str, list[tuple[float, float, str, str]]]:
        v = scan_file(path, classifier=False)
        return v.label, [(s.start, s.end, s.label, s.source) for s in v.segments]

    assert pieces(joined) == (
        COMPOSITE_TRAINED,
        [(0.0, 2.0, "unclaimed"), (2.0, 4.0, "generated")],
    )
    assert timeline(joined) == ("mixed", [(2.0, 4.0, "ai", "c2pa")])
    camera_part = trim_file(joined, tmp_path / "t-cam.mp4", 0.0, 1.5).output
    assert pieces(camera_part) == (COMPOSITE, [(0.0, 1.52, "unclaimed")])  # 38 frames
    assert timeline(camera_part) == ("unknown", [])  # no claim, no mark, no classifier asked
    ai_part = trim_file(joined, tmp_path / "t-ai.mp4", 2.52, 3.52).output
    assert pieces(ai_part) == (TRAINED, [(0.0, 1.0, "generated")])
    assert timeline(ai_part) == ("ai", [(0.0, 1.0, "ai", "c2pa")])
    across = trim_file(joined, tmp_path / "t-both.mp4", 1.0, 3.0).output
    assert pieces(across) == (COMPOSITE_TRAINED, [(0.0, 1.0, "unclaimed"), (1.0, 2.0, "generated")])
    assert timeline(across) == ("mixed", [(1.0, 2.0, "ai", "c2pa")])
    # from a start between frames (1.96 s, 2.00 s), the trim's clock starts at its first frame:
    # its pieces were a fraction of a frame early, and this one read as a composite
    between = trim_file(joined, tmp_path / "t-between.mp4", 1.97, 2.5).output
    assert pieces(between) == (TRAINED, [(0.0, 0.52, "generated")])  # 2.00 to 2.48 + 0.04
    # pieces refine a composite's claim only: a clip declared generated that also lists an
    # unclaimed piece (another signer's, say) made a trim declared not generated at all
    odd = sign_file(
        clip_factory("odd.mp4", seconds=2.0, width=160, height=96, fps=25, seed=7),
        tmp_path / "odd-signed.mp4",
        SignOptions(ai=True, composition=(Piece(0.0, 2.0, "unclaimed"),)),
        load_signer(),
    ).output
    assert pieces(trim_file(odd, tmp_path / "t-odd.mp4", 0.0, 1.0).output) == (TRAINED, [])
    # and a concat of that trim with the generated clip keeps the pieces, flattened
    again = concat_files([across, ai], tmp_path / "again.mp4").output
    assert pieces(again)[1] == [(0.0, 1.0, "unclaimed"), (1.0, 2.0, "generated"),
                                (2.0, 4.0, "generated")]  # fmt: skip


def test_a_sources_pieces_are_stretched_over_its_length_by_less_than_a_frame() -> None:
    """An edit's recorded pieces end where its length was measured when it was made; placed
    in a concat whose measure of it is a few milliseconds longer, the gap was a sliver a scan
    labelled by itself."""
    from vidprov.provenance.composition import Piece
    from vidprov.provenance.edit import _spanning

    inner = (Piece(10.0, 12.0, "unclaimed"), Piece(12.0, 13.496, "generated"))
    assert _spanning(inner, 10.0, 3.5, 1 / 25) == (
        Piece(10.0, 12.0, "unclaimed"),
        Piece(12.0, 13.5, "generated"),
    )
    gap = (Piece(10.1, 13.5, "generated"),)  # more than a frame: as recorded
    assert _spanning(gap, 10.0, 3.5, 1 / 25) == gap


def test_pieces_are_checked_and_a_foreign_generation_assertion_is_no_crash() -> None:
    from vidprov.errors import ProvenanceError
    from vidprov.provenance.composition import Piece, composition_of
    from vidprov.provenance.manifest import GENERATION_LABEL
    from vidprov.provenance.verify import summarize

    for bad in ((0.0, 1.0, "bogus"), (2.0, 1.0, "generated"), (-1.0, 1.0, "unclaimed")):
        with pytest.raises(ProvenanceError, match="piece"):
            Piece(*bad)  # type: ignore[arg-type]
    # another signer's assertion under our label whose data is no object: read as none (it
    # was an AttributeError traceback from verify, scan and trim)
    manifest = {"assertions": [{"label": GENERATION_LABEL, "data": "AQI="}]}
    assert composition_of(manifest) == ()
    report = summarize({"active_manifest": "m", "manifests": {"m": manifest}}, "valid", [])
    assert report.composition == () and report.signed_at is None
    huge = {"assertions": [{"label": GENERATION_LABEL, "data": {"composition": [
        {"start": 0, "end": 10**400, "kind": "generated"}]}}]}  # fmt: skip
    assert composition_of(huge) == ()
