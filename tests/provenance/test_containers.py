"""MOV signing and fragmented MP4: signed and verified like plain MP4."""

from __future__ import annotations

from pathlib import Path

import av

from vidprov.provenance import SignOptions, sign_file, verify_file


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
