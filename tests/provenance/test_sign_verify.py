"""Sign → verify against trust anchors; tampering; recovery through the watermark."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from tests.provenance.conftest import PAYLOAD
from vidprov.media import EncodeOptions, VideoReader, VideoWriter, transcode
from vidprov.provenance import ManifestStore, SignResult, create_dev_pki, verify_file
from vidprov.provenance.bmff import hashed_ranges, top_level_boxes
from vidprov.provenance.manifest import TRAINED
from vidprov.provenance.softbinding import ALG, payload_to_value


def test_trusted_round_trip(env_home: Path, signed: SignResult) -> None:
    r = verify_file(signed.output)
    c = r.c2pa
    assert c.state == "trusted"
    assert c.manifest_id == signed.manifest_id
    assert c.signer == "vidprov development signer"
    assert c.digital_source_type == TRAINED
    assert c.claim_generator and c.claim_generator.startswith("vidprov")
    assert [a["action"] for a in c.actions] == ["c2pa.created"]
    assert c.signed_at and c.signed_at_source == "claimed" and c.note
    assert r.watermark is not None and r.watermark.payload == PAYLOAD
    assert r.recovered is None and r.established
    # one soft-binding block per second, each carrying the payload read back from the clip
    assert [(b.start_ms, b.end_ms) for b in signed.soft_binding] == [
        (0, 1000),
        (1000, 2000),
        (2000, 3000),
    ]
    assert signed.payloads == [PAYLOAD]


def test_manifest_stored_and_resolvable(env_home: Path, signed: SignResult) -> None:
    store = ManifestStore()
    assert signed.manifest_id in store.find(ALG, payload_to_value(PAYLOAD))
    stored = store.get(signed.manifest_id)
    assert stored is not None and stored.manifest["label"] == signed.manifest_id
    assert store.find(ALG, payload_to_value("ffffffffffffffff")) == []


def test_untrusted_without_anchors(env_home: Path, signed: SignResult, tmp_path: Path) -> None:
    other = tmp_path / "other"
    create_dev_pki(other, org="someone else")
    r = verify_file(signed.output, other / "trust_anchors.pem", watermark=False)
    assert r.c2pa.state == "valid"
    assert "signingCredential.untrusted" in r.c2pa.codes


def test_untrusted_in_empty_home(
    signed: SignResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDPROV_HOME", str(tmp_path / "empty"))
    r = verify_file(signed.output)
    assert r.c2pa.state == "valid"
    assert r.watermark is None and "keys init" in (r.watermark_note or "")


def _flip(src: str, dst: Path, offset: int) -> Path:
    data = bytearray(Path(src).read_bytes())
    data[offset] ^= 0xFF
    dst.write_bytes(data)
    return dst


def test_flipped_byte_in_media_is_invalid(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    mdat = next(b for b in top_level_boxes(signed.output) if b.type == "mdat")
    r = verify_file(_flip(signed.output, tmp_path / "t.mp4", mdat.offset + mdat.size // 2))
    assert r.c2pa.state == "invalid"
    assert any("mismatch" in c or "bmffHash" in c for c in r.c2pa.codes)


def test_random_flips_in_hashed_bytes_never_verify(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    ranges = hashed_ranges(signed.output)
    boxes = {b.type for b in top_level_boxes(signed.output) if b.hashed}
    assert boxes >= {"moov", "mdat"}
    rng = random.Random(7)
    states = []
    for i in range(16):
        lo, hi = ranges[i % len(ranges)]
        out = _flip(signed.output, tmp_path / f"f{i}.mp4", rng.randrange(lo, hi))
        states.append(verify_file(out, watermark=False).c2pa.state)
    assert states == ["invalid"] * len(states)


def test_flip_in_claim_signature_is_invalid(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    data = Path(signed.output).read_bytes()
    at = data.index(b"c2pa.signature") + 64  # inside the COSE signature, before its padding
    r = verify_file(_flip(signed.output, tmp_path / "sig.mp4", at), watermark=False)
    assert r.c2pa.state == "invalid" and not r.established


def test_recovery_after_strip_and_reencode(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    re = tmp_path / "re.mp4"
    transcode(signed.output, re, EncodeOptions(crf=28))
    r = verify_file(re)
    assert r.c2pa.state == "absent"
    assert r.recovered is not None
    assert r.recovered.manifest_id == signed.manifest_id
    assert r.recovered.content_matches is False
    assert r.recovered.payload == PAYLOAD
    assert r.established and r.to_dict()["established"] is True


def test_recovery_after_half_resize(env_home: Path, signed: SignResult, tmp_path: Path) -> None:
    out = tmp_path / "half.mp4"
    with VideoReader(signed.output) as rd, VideoWriter(out, 320, 180, rd.info.fps) as w:
        for f in rd.frames("rgb24"):
            w.write(f.rgb[::2, ::2].copy())
    r = verify_file(out)
    assert r.recovered is not None and r.recovered.manifest_id == signed.manifest_id


def test_unmarked_unsigned_clip_is_absent_with_no_recovery(
    env_home: Path, clip_factory, tmp_path: Path
) -> None:
    plain = clip_factory("plain.mp4", seconds=2.0, width=640, height=360, fps=30, seed=9)
    r = verify_file(plain)
    assert r.c2pa.state == "absent" and r.recovered is None
    assert r.watermark is not None and not r.watermark.detected


def test_signed_copy_identical_bytes_matches_store(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    # the signed file itself verifies; no recovery is attempted for a valid manifest
    copy = tmp_path / "copy.mp4"
    shutil.copy(signed.output, copy)
    assert verify_file(copy).recovered is None


def test_non_utf8_names_and_arguments_are_signed(env_home: Path, tmp_path: Path) -> None:
    import os

    from vidprov.media import make_clip
    from vidprov.provenance import SignOptions, sign_file, trim_file

    src = make_clip(tmp_path / "s.mp4", seconds=1.0, width=160, height=120, fps=30)
    # names and arguments in another encoding reach Python as lone surrogates
    dst = tmp_path / os.fsdecode(b"out\xff.mp4")
    r = sign_file(src, dst, SignOptions(model=os.fsdecode(b"m\xfe")))
    v = verify_file(dst, watermark=False)
    assert v.c2pa.state == "trusted" and v.c2pa.manifest_id == r.manifest_id
    trim = trim_file(dst, tmp_path / os.fsdecode(b"t\xfd.mp4"), 0.0, 0.5)
    v = verify_file(trim.output, watermark=False)
    assert v.c2pa.state == "trusted"
    assert [i["title"] for i in v.c2pa.ingredients] == ["out\ufffd.mp4"]


def test_signed_file_cut_inside_its_moov_is_invalid_not_unreadable(
    env_home: Path, signed: SignResult, marked: Path, tmp_path: Path
) -> None:
    """Cut short past its manifest box, a signed file cannot be probed any more; its manifest
    box is still there, so the verdict is a broken manifest, not "not a readable video"."""
    from vidprov.errors import MediaError

    moov = next(b for b in top_level_boxes(signed.output) if b.type == "moov")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(Path(signed.output).read_bytes()[: moov.offset + 100])
    r = verify_file(cut)
    assert r.c2pa.state == "invalid" and not r.established
    assert r.watermark is None and r.watermark_note and "not checked" in r.watermark_note
    # an unsigned file cut the same way has nothing to report on: an error
    boxes = top_level_boxes(marked)
    plain = tmp_path / "plain.mp4"
    plain.write_bytes(
        marked.read_bytes()[: next(b for b in boxes if b.type == "moov").offset + 100]
    )
    with pytest.raises(MediaError):
        verify_file(plain)
