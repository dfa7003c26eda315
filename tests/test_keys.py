"""Watermark key loading: typed errors for missing and malformed keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidprov.errors import KeyError_
from vidprov.keys import init_keys, load_watermark_key


def test_round_trip(home: Path) -> None:
    r = init_keys()
    assert Path(r.watermark_key).parent == home
    assert len(load_watermark_key()) == 32


def test_init_makes_only_what_is_wholly_missing(home: Path, caplog) -> None:
    """A home that lost its PKI gets a new one and keeps its watermark key (the marks made
    with it must still read); a partial PKI, or everything present, is refused."""
    import shutil

    from vidprov.provenance.pki import PkiPaths

    init_keys()
    key = (home / "watermark.key").read_bytes()
    old_anchors = (home / "trust_anchors.pem").read_bytes()
    shutil.rmtree(home / "c2pa")
    (home / "trust_anchors.pem").unlink()
    r = init_keys()
    assert (home / "watermark.key").read_bytes() == key
    assert str(home / "watermark.key") not in r.created
    assert all(p.is_file() for p in PkiPaths.under(home).all())
    assert (home / "trust_anchors.pem").read_bytes() != old_anchors
    assert "kept the watermark key" in caplog.text
    (home / "watermark.key").unlink()  # lost the key: a new one, the PKI kept
    signer = PkiPaths.under(home).signer_chain.read_bytes()
    assert init_keys().created == (str(home / "watermark.key"),)
    assert "marks made with the old key can no longer be read" in caplog.text
    assert PkiPaths.under(home).signer_chain.read_bytes() == signer
    with pytest.raises(KeyError_, match="keys exist"):
        init_keys()
    (home / "trust_anchors.pem").unlink()  # part of the PKI: refused, nothing touched
    key = (home / "watermark.key").read_bytes()
    with pytest.raises(KeyError_, match=r"PKI is incomplete \(1 of its 7 files") as err:
        init_keys()
    assert err.value.path == str(home / "trust_anchors.pem")
    assert (home / "watermark.key").read_bytes() == key


def test_missing_key(home: Path) -> None:
    with pytest.raises(KeyError_, match="keys init"):
        load_watermark_key()


@pytest.mark.parametrize("text", ["zz" * 32, "ab" * 31, ""])
def test_malformed_key(tmp_path: Path, text: str) -> None:
    p = tmp_path / "k"
    p.write_text(text)
    with pytest.raises(KeyError_, match="256-bit") as ei:
        load_watermark_key(p)
    assert str(p) in str(ei.value)


def test_renew_signer_replaces_an_expired_signer_only(home: Path, tmp_path: Path) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from vidprov.errors import ProvenanceError
    from vidprov.keys import renew_signer
    from vidprov.media import make_clip
    from vidprov.provenance import SignOptions, load_signer, sign_file, verify_file
    from vidprov.provenance.pki import PkiPaths, _issue, _name, _pem

    init_keys()
    pki = PkiPaths.under(home)
    kept = {p: p.read_bytes() for p in (home / "watermark.key", pki.root_cert, pki.trust_anchors)}
    # let the development signer expire: a certificate whose validity ends as it is issued
    inter = x509.load_pem_x509_certificate(pki.intermediate_cert.read_bytes())
    inter_key = serialization.load_pem_private_key(pki.intermediate_key.read_bytes(), None)
    leaf_key = serialization.load_pem_private_key(pki.signer_key.read_bytes(), None)
    expired = _issue(_name("old signer", "t"), leaf_key, inter.subject, inter_key,  # type: ignore[arg-type]
                     ca=False, path_length=None, days=0)  # fmt: skip
    pki.signer_chain.write_bytes(_pem(expired) + _pem(inter))
    with pytest.raises(ProvenanceError, match="expired"):
        load_signer()

    r = renew_signer(days=30)
    assert r.note is None
    assert {p: p.read_bytes() for p in kept} == kept  # watermark key and anchors untouched
    assert (
        r.signer_chain == str(pki.signer_chain)
        and r.not_after > expired.not_valid_after_utc.isoformat()
    )
    clip = make_clip(tmp_path / "c.mp4", seconds=1.0, width=160, height=120, fps=30)
    out = sign_file(clip, tmp_path / "s.mp4", SignOptions(), load_signer())
    assert verify_file(out.output, watermark=False).c2pa.state == "trusted"
    longer = renew_signer(days=3650)  # past the intermediate's five years: cut short, and said
    end = dt.datetime.fromisoformat(longer.not_after)
    assert dt.timedelta(0) <= inter.not_valid_after_utc - end <= dt.timedelta(days=1)
    assert longer.note is not None and "not 3650" in longer.note


def test_renew_signer_without_a_development_ca(home: Path) -> None:
    from vidprov.keys import renew_signer

    with pytest.raises(KeyError_, match="keys init") as ei:
        renew_signer()
    assert "intermediate-ca" in str(ei.value)


def test_an_interrupt_while_keys_move_into_place_waits_for_the_last(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``keys init --force`` renames seven files into the home one by one: a Ctrl-C after the
    second left the new signer certificate beside the old signer key, and every later sign
    failed ("private key does not match the certificate"). The interrupt now takes effect
    once every file is in place."""
    import os
    import signal

    from vidprov.provenance.pki import PkiPaths
    from vidprov.provenance.signer import FileSigner

    init_keys()
    moved: list[str] = []
    real = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        real(src, dst)
        if ".keys-init-" not in str(dst):
            moved.append(str(dst))
            if len(moved) == 2:
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr("vidprov.keys.os.replace", replace)
    # Ctrl-C as at a terminal: a suite started in the background has SIGINT ignored, and an
    # ignored signal stays ignored while the keys move
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            init_keys(force=True)
    finally:
        signal.signal(signal.SIGINT, before)
    pki = PkiPaths.under(home)
    assert len(moved) == len(pki.all()) + 1  # the PKI and the watermark key, all moved
    FileSigner(pki.signer_chain, pki.signer_key)  # key and certificate belong together
    assert not list(home.glob(".keys-init-*"))
