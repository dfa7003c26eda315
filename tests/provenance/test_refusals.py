"""What signing and editing refuse, so provenance cannot be dropped, relabelled or laundered:
re-signing a signed clip, signing our watermarked output as camera footage, an edit of a
tampered source; and bad trust anchors or non-video files as errors, not verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidprov.errors import MediaError, ProvenanceError
from vidprov.media import EncodeOptions, make_clip, transcode
from vidprov.provenance import SignOptions, SignResult, sign_file, trim_file, verify_file
from vidprov.provenance.bmff import top_level_boxes


def test_a_signed_clip_is_not_signed_again(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    for options in (SignOptions(), SignOptions(ai=False)):
        with pytest.raises(ProvenanceError, match="already carries a C2PA manifest"):
            sign_file(signed.output, tmp_path / "again.mp4", options)
    assert not (tmp_path / "again.mp4").exists()


def test_our_watermark_is_not_signed_as_camera_footage(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    stripped = tmp_path / "stripped.mp4"  # a re-upload: manifest gone, watermark kept
    transcode(signed.output, stripped, EncodeOptions(crf=23))
    for binding in ("detect", "none"):
        with pytest.raises(ProvenanceError, match="carries the vidprov watermark"):
            sign_file(stripped, tmp_path / "cam.mp4", SignOptions(ai=False, soft_binding=binding))
    assert not (tmp_path / "cam.mp4").exists()
    # as AI output it may be signed again, and camera footage as camera footage
    assert sign_file(stripped, tmp_path / "ai.mp4").soft_binding
    camera = make_clip(tmp_path / "c.mp4", seconds=1.0, width=320, height=240, fps=25, seed=3)
    sign_file(camera, tmp_path / "c-signed.mp4", SignOptions(ai=False))


def test_an_edit_of_a_tampered_source_is_refused(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    data = bytearray(Path(signed.output).read_bytes())
    mdat = next(b for b in top_level_boxes(signed.output) if b.type == "mdat")
    data[mdat.offset + mdat.size // 2] ^= 0xFF
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(data)
    with pytest.raises(ProvenanceError, match=r"bmffHash\.mismatch") as err:
        trim_file(bad, tmp_path / "t.mp4", 0.0, 1.0)
    assert err.value.path == str(bad) and "untrusted" not in str(err.value)
    assert not (tmp_path / "t.mp4").exists()


def test_malformed_trust_anchors_are_an_error(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    pem = (env_home / "trust_anchors.pem").read_text().splitlines()
    pem[3] = "!!!!" + pem[3][4:]  # damage the base64 body, keep the BEGIN line
    anchors = tmp_path / "anchors.pem"
    anchors.write_text("\n".join(pem) + "\n")
    with pytest.raises(ProvenanceError, match="malformed PEM certificate"):
        verify_file(signed.output, anchors)


def test_verify_of_a_file_that_is_no_video_is_an_error(env_home: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 50)
    with pytest.raises(MediaError, match="not a readable video"):
        verify_file(text)
