"""Provenance fixtures: a watermarked clip and its signed copy, per module, in ``keyed_home``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vidprov.keys import load_watermark_key
from vidprov.media import make_clip
from vidprov.provenance import SignResult, sign_file
from vidprov.provenance.pki import PkiPaths, _issue, _key_pem, _pem
from vidprov.watermark import embed_file

PAYLOAD = "0123456789abcdef"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def marked(keyed_home: Path, workdir: Path) -> Path:
    """A 3 s 640x360 clip with sound, watermarked with PAYLOAD."""
    src = make_clip(
        workdir / "src.mp4", seconds=3.0, width=640, height=360, fps=30, audio=True, seed=4
    )
    key = load_watermark_key(keyed_home / "watermark.key")
    embed_file(src, workdir / "marked.mp4", key, PAYLOAD)
    return workdir / "marked.mp4"


@pytest.fixture(scope="module")
def signed(keyed_home: Path, marked: Path, workdir: Path) -> SignResult:
    mp = pytest.MonkeyPatch()
    mp.setenv("VIDPROV_HOME", str(keyed_home))
    try:
        return sign_file(marked, workdir / "signed.mp4")
    finally:
        mp.undo()


def issue_leaf(
    pki: PkiPaths,
    folder: Path,
    *,
    usages: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.EMAIL_PROTECTION,),
    lifetime: dt.timedelta = dt.timedelta(days=1),
) -> tuple[Path, Path]:
    """A signer certificate from ``pki``'s intermediate CA with these extended key usages,
    valid for ``lifetime`` from now: its chain and key files in ``folder``."""
    inter = x509.load_pem_x509_certificate(pki.intermediate_cert.read_bytes())
    inter_key = serialization.load_pem_private_key(pki.intermediate_key.read_bytes(), None)
    assert isinstance(inter_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test leaf")])
    leaf = _issue(
        name, key, inter.subject, inter_key, ca=False, path_length=None, days=1,
        lifetime=lifetime, usages=usages,
    )  # fmt: skip
    chain, key_file = folder / "leaf-chain.pem", folder / "leaf.key"
    chain.write_bytes(_pem(leaf) + _pem(inter))
    key_file.write_bytes(_key_pem(key))
    return chain, key_file
