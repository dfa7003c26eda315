"""MOV signing and fragmented MP4: signed and verified like plain MP4; a file is read as the
container its bytes say, whatever its name."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from vidprov.errors import ProvenanceError
from vidprov.media import make_clip
from vidprov.provenance import SignOptions, SignResult, sign_file, trim_file, verify_file
from vidprov.provenance.manifest import HEAD_BYTES, container_of, sniff_container


def _remux(src: Path, dst: Path, options: dict[str, str] | None = None) -> Path:
    with av.open(str(src)) as i, av.open(str(dst), "w", options=options or {}) as o:
        s = o.add_stream_from_template(i.streams.video[0])
        for p in i.demux(i.streams.video[0]):
            if p.dts is None:
                continue
            p.stream = s
            o.mux(p)
    return dst


def test_mov(env_home: Path, marked: Path, tmp_path: Path) -> None:
    mov = _remux(marked, tmp_path / "in.mov")
    out = sign_file(mov, tmp_path / "signed.mov", SignOptions())
    assert out.format == "video/quicktime" and out.soft_binding
    assert verify_file(out.output).c2pa.state == "trusted"


def test_fragmented_mp4(env_home: Path, marked: Path, tmp_path: Path) -> None:
    frag = _remux(
        marked, tmp_path / "frag.mp4", {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
    )
    out = sign_file(frag, tmp_path / "signed.mp4", SignOptions())
    r = verify_file(out.output)
    assert r.c2pa.state == "trusted"
    assert r.watermark is not None and r.watermark.detected


def test_containers_are_told_by_their_bytes(tmp_path: Path) -> None:
    heads = {
        b"\0\0\0\x20ftypisom": ("MP4", "video/mp4"),
        b"\0\0\0\x14ftypqt  ": ("QuickTime", "video/quicktime"),
        b"RIFF\0\0\0\0AVI LIST": ("AVI", "video/x-msvideo"),
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm": ("WebM", None),
        b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska": ("Matroska", None),
        b"GIF89a\x10\0": ("GIF", None),
        (b"G" + bytes(187)) * 2: ("MPEG-TS", None),
        b"OggS\0\x02": ("Ogg", None),
    }
    for head, (name, mime) in heads.items():
        c = sniff_container(head[:HEAD_BYTES])
        assert c is not None and (c.name, c.mime) == (name, mime), head
    assert sniff_container(b"not a container") is None
    # bytes that start no known container: the suffix decides (a damaged MP4 header is still
    # read by c2pa as MP4, and reported invalid if it is)
    odd = tmp_path / "odd.mov"
    odd.write_bytes(b"\xff" * 64)
    c = container_of(odd)
    assert c is not None and c.name == "QuickTime"
    assert container_of(odd.rename(tmp_path / "odd.bin")) is None


def test_a_mislabelled_webm_is_absent_not_invalid(env_home: Path, tmp_path: Path) -> None:
    """A WebM named .mp4 was read as a broken MP4 manifest: ``invalid`` with raw bytes in the
    note, and ``sign`` called it tampered. It is a WebM: no manifest is read from it."""
    webm = make_clip(tmp_path / "vp9.webm", seconds=0.5, width=160, height=120, codec="libvpx-vp9")
    fake = tmp_path / "fake_webm.mp4"
    fake.write_bytes(webm.read_bytes())
    for path in (fake, webm):
        c = verify_file(path, watermark=False).c2pa
        assert (c.state, c.codes) == ("absent", ("vidprov.container.unsupported",)), c
        assert c.note is not None and c.note.startswith("C2PA is not read from WebM files")
    for attempt in (
        lambda: sign_file(fake, tmp_path / "x.mp4"),
        lambda: trim_file(fake, tmp_path / "x.mp4", 0.0, 0.2),
    ):
        with pytest.raises(ProvenanceError, match=r"a WebM file, whatever its \.mp4 name") as err:
            attempt()
        assert err.value.path == str(fake) and "tampered" not in str(err.value)
    assert not (tmp_path / "x.mp4").exists()


def test_a_signed_mp4_named_avi_is_read_as_mp4(
    env_home: Path, signed: SignResult, marked: Path, tmp_path: Path
) -> None:
    """The suffix neither hides a manifest nor picks the parser: a signed MP4 renamed .avi still
    verifies, goes into an edit as an ingredient, and an unsigned one signs as MP4."""
    renamed = tmp_path / "signed.avi"
    renamed.write_bytes(Path(signed.output).read_bytes())
    r = verify_file(renamed, watermark=False)
    assert (r.c2pa.state, r.c2pa.manifest_id) == ("trusted", signed.manifest_id)
    trim = trim_file(renamed, tmp_path / "trim.mp4", 0.0, 1.0)
    c = verify_file(trim.output, watermark=False).c2pa
    assert c.state == "trusted" and c.ingredients[0]["manifest_id"] == signed.manifest_id
    unsigned = tmp_path / "marked.avi"
    unsigned.write_bytes(marked.read_bytes())
    assert sign_file(unsigned, tmp_path / "s.mp4").format == "video/mp4"
    with pytest.raises(ProvenanceError, match="signing keeps the container"):
        sign_file(unsigned, tmp_path / "s.avi")  # MP4 bytes under an AVI name
    assert not (tmp_path / "s.avi").exists()
