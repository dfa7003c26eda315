"""What signing, editing and watermarking refuse, so provenance cannot be dropped, relabelled or
laundered: re-signing a signed clip, signing our watermarked output as camera footage, an edit
of a tampered source, watermarking a signed clip; and bad trust anchors or non-video files as
errors, not verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import run
from vidprov.errors import ConfigError, KeyError_, MediaError, ProvenanceError, WatermarkError
from vidprov.keys import load_watermark_key
from vidprov.media import EncodeOptions, make_clip, transcode
from vidprov.provenance import (
    SignOptions,
    SignResult,
    concat_files,
    sign_file,
    trim_file,
    verify_file,
)
from vidprov.provenance.bmff import top_level_boxes
from vidprov.watermark import embed_file


def test_a_signed_clip_is_not_signed_again(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    for options in (SignOptions(), SignOptions(ai=False)):
        # "signed", not "valid": the refusal reads the manifest without the trust anchors, so
        # a clip that verify calls trusted must not be called merely valid here
        with pytest.raises(ProvenanceError, match=r"already carries a C2PA manifest \(signed, "):
            sign_file(signed.output, tmp_path / "again.mp4", options)
    assert not (tmp_path / "again.mp4").exists()


def test_signing_onto_a_full_disk_says_so(env_home: Path, marked: Path, tmp_path: Path) -> None:
    """c2pa reports a full disk as "Io: Other: UntrackedPointer: 0x2"; the error now says
    that the device has no space left, and nothing is left at the target."""
    import subprocess

    full = tmp_path / "full"
    full.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(full)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        with pytest.raises(ProvenanceError, match="no space left on the device"):
            sign_file(marked, full / "out.mp4", SignOptions(soft_binding="none"))
        assert not list(full.iterdir())
    finally:
        subprocess.run(["umount", str(full)], check=True)


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


def _tampered(signed: SignResult, dst: Path) -> Path:
    """A copy of the signed clip with one byte of its media flipped (its manifest: invalid)."""
    data = bytearray(Path(signed.output).read_bytes())
    mdat = next(b for b in top_level_boxes(signed.output) if b.type == "mdat")
    data[mdat.offset + mdat.size // 2] ^= 0xFF
    dst.write_bytes(data)
    return dst


def test_an_edit_of_a_tampered_source_is_refused(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    bad = _tampered(signed, tmp_path / "bad.mp4")
    with pytest.raises(ProvenanceError, match=r"bmffHash\.mismatch") as err:
        trim_file(bad, tmp_path / "t.mp4", 0.0, 1.0)
    assert err.value.path == str(bad) and "untrusted" not in str(err.value)
    assert not (tmp_path / "t.mp4").exists()


def test_an_edit_of_a_file_that_is_no_video_says_so(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.mp4"  # random bytes under a video's name: not "a tampered source"
    junk.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(MediaError, match="not a readable video"):
        concat_files([signed.output, junk], tmp_path / "c.mp4")
    with pytest.raises(MediaError, match="not a readable video"):
        trim_file(junk, tmp_path / "t.mp4", 0.0, 1.0)
    assert not (tmp_path / "c.mp4").exists() and not (tmp_path / "t.mp4").exists()


def test_a_broken_watermark_key_is_an_error_not_a_missing_soft_binding(
    env_home: Path, marked: Path, signed: SignResult, tmp_path: Path
) -> None:
    """Skipped, a bad key signed the clip without its soft binding (recovery lost, silently)
    and verified a marked clip as unmarked; only a missing key skips the watermark."""
    with pytest.raises(WatermarkError, match="256 bits"):
        sign_file(marked, tmp_path / "s.mp4", key=b"x")
    with pytest.raises(WatermarkError, match="256 bits"):
        verify_file(signed.output, key=b"x")
    with pytest.raises(WatermarkError, match="256 bits"):  # no read-back, yet it names the key
        sign_file(marked, tmp_path / "s.mp4", SignOptions(soft_binding="none"), key=b"x")
    with pytest.raises(WatermarkError, match="256 bits as bytes, got str"):  # before the encode
        trim_file(signed.output, tmp_path / "t.mp4", 0.5, 2.0, key="00" * 32)  # type: ignore[arg-type]
    assert not (tmp_path / "t.mp4").exists()
    good = (env_home / "watermark.key").read_text()
    try:
        (env_home / "watermark.key").write_text("00ff\n")
        with pytest.raises(KeyError_, match="not a 256-bit key"):
            sign_file(marked, tmp_path / "s.mp4")
        with pytest.raises(KeyError_, match="not a 256-bit key"):
            verify_file(signed.output)
    finally:
        (env_home / "watermark.key").write_text(good)
    assert not (tmp_path / "s.mp4").exists()
    assert verify_file(signed.output, watermark=False, key=b"x").watermark is None  # not used
    with pytest.raises(ConfigError, match="got one path"):
        concat_files(signed.output, tmp_path / "c.mp4")  # type: ignore[arg-type]


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


def test_a_signed_clip_is_not_watermarked(
    env_home: Path, signed: SignResult, tmp_path: Path
) -> None:
    """Embedding re-encodes the clip, which drops its manifest: with a weak mark that does not
    read back, ``sign --no-ai`` then made a trusted camera manifest of an AI clip. Refused for
    any manifest, valid or not, whatever the file is named; nothing is written."""
    renamed = tmp_path / "signed.avi"  # an MP4 under another container's name
    renamed.write_bytes(Path(signed.output).read_bytes())
    bad = _tampered(signed, tmp_path / "bad.mp4")
    out = tmp_path / "out.mp4"
    key = load_watermark_key()
    for src, state in ((Path(signed.output), "signed"), (renamed, "signed"), (bad, "invalid")):
        with pytest.raises(ProvenanceError, match=rf"carries a C2PA manifest \({state}") as err:
            embed_file(src, out, key, "1111111111111111", read_back=False)
        assert err.value.path == str(src)
    assert "vidprov edit trim" in str(err.value) or "tampered" in str(err.value)
    p = run("watermark", "embed", signed.output, str(out), "--payload", "1111111111111111",
            env={"VIDPROV_HOME": str(env_home)})  # fmt: skip
    assert p.returncode == 2
    assert p.stderr.startswith(f"vidprov: error: {signed.output}: already carries")
    assert len(p.stderr.strip().splitlines()) == 1
    assert sorted(f.name for f in tmp_path.iterdir()) == ["bad.mp4", "signed.avi"]


def test_signing_without_a_watermark_key_says_there_is_no_soft_binding(
    env_home: Path, marked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    import shutil

    home = tmp_path / "home"
    shutil.copytree(env_home, home)
    (home / "watermark.key").unlink()
    monkeypatch.setenv("VIDPROV_HOME", str(home))
    result = sign_file(marked, tmp_path / "s.mp4")
    assert result.soft_binding == () and "no soft binding: no watermark key" in caplog.text
    assert result.to_dict()["soft_binding_note"] == "no watermark key"  # not "none read back"
