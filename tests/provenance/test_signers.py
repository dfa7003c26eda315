"""Certificates and signers: bring-your-own files, a KMS-style callback, typed failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vidprov.errors import ProvenanceError
from vidprov.provenance import (
    FileSigner,
    PkiPaths,
    SignOptions,
    create_dev_pki,
    load_signer,
    sign_file,
    verify_file,
)

NO_SB = SignOptions(soft_binding="none")


class KmsSigner:
    """Stands in for a KMS: the key lives behind ``sign``; vidprov only sees signatures."""

    alg = "es256"

    def __init__(self, paths: PkiPaths) -> None:
        self.certificate_chain_pem = paths.signer_chain.read_text()
        self._remote_key = serialization.load_pem_private_key(paths.signer_key.read_bytes(), None)
        self.calls = 0

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        from cryptography.hazmat.primitives import hashes

        assert isinstance(self._remote_key, ec.EllipticCurvePrivateKey)
        return self._remote_key.sign(data, ec.ECDSA(hashes.SHA256()))


class BrokenSigner(KmsSigner):
    def sign(self, data: bytes) -> bytes:
        raise RuntimeError("HSM offline")


def test_callback_signer_is_trusted(env_home: Path, marked: Path, tmp_path: Path) -> None:
    kms = KmsSigner(PkiPaths.under(env_home))
    out = sign_file(marked, tmp_path / "kms.mp4", NO_SB, kms)
    assert kms.calls >= 1
    assert verify_file(out.output, watermark=False).c2pa.state == "trusted"


def test_signer_failure_leaves_no_output(env_home: Path, marked: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out.mp4"
    with pytest.raises(ProvenanceError, match="HSM offline") as ei:
        sign_file(marked, dst, NO_SB, BrokenSigner(PkiPaths.under(env_home)))
    assert str(dst) in str(ei.value)
    assert list(tmp_path.iterdir()) == []


def test_signer_failure_keeps_existing_output(env_home: Path, marked: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"previous")
    with pytest.raises(ProvenanceError):
        sign_file(marked, dst, NO_SB, BrokenSigner(PkiPaths.under(env_home)))
    assert dst.read_bytes() == b"previous"


def test_missing_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marked: Path) -> None:
    monkeypatch.setenv("VIDPROV_HOME", str(tmp_path / "nokeys"))
    with pytest.raises(ProvenanceError, match="keys init"):
        sign_file(marked, tmp_path / "o.mp4", NO_SB)
    assert not (tmp_path / "o.mp4").exists()


def test_garbled_cert(env_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    with pytest.raises(ProvenanceError, match=r"bad\.pem"):
        FileSigner(bad, PkiPaths.under(env_home).signer_key)
    bad.write_text("hello")
    with pytest.raises(ProvenanceError, match="no certificate"):
        FileSigner(bad, PkiPaths.under(env_home).signer_key)


def test_ca_cert_refused_as_signer(env_home: Path) -> None:
    p = PkiPaths.under(env_home)
    with pytest.raises(ProvenanceError, match="self-signed"):
        FileSigner(p.root_cert, p.root_key)
    with pytest.raises(ProvenanceError, match="CA certificate"):
        FileSigner(p.intermediate_cert, p.intermediate_key)


def test_key_not_matching_cert(env_home: Path, tmp_path: Path) -> None:
    other = create_dev_pki(tmp_path / "o")
    assert other
    with pytest.raises(ProvenanceError, match="does not match"):
        load_signer(
            PkiPaths.under(env_home).signer_chain, PkiPaths.under(tmp_path / "o").signer_key
        )


def test_only_cert_given(env_home: Path) -> None:
    with pytest.raises(ProvenanceError, match="both"):
        load_signer(PkiPaths.under(env_home).signer_chain, None)


def test_private_keys_are_0600(keyed_home: Path) -> None:
    p = PkiPaths.under(keyed_home)
    for k in (p.root_key, p.intermediate_key, p.signer_key, keyed_home / "watermark.key"):
        assert k.stat().st_mode & 0o777 == 0o600, k


def test_pki_refuses_overwrite(keyed_home: Path) -> None:
    with pytest.raises(ProvenanceError, match="force"):
        create_dev_pki(keyed_home)


def test_unsupported_container(env_home: Path, marked: Path, tmp_path: Path) -> None:
    with pytest.raises(ProvenanceError, match="unsupported container"):
        sign_file(marked, tmp_path / "o.mkv", NO_SB)
    assert not (tmp_path / "o.mkv").exists()


@pytest.mark.parametrize(("years", "message"), [(2, "expired on"), (-1, "not valid before")])
def test_a_signer_outside_its_validity_is_refused_naming_the_date(
    env_home: Path, monkeypatch: pytest.MonkeyPatch, years: int, message: str
) -> None:
    import datetime as dt

    from vidprov.provenance import signer as signer_module

    class Shifted(dt.datetime):  # the dev signer is valid for a year from its creation
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return dt.datetime.now(tz) + dt.timedelta(days=365 * years)

    monkeypatch.setattr(signer_module, "datetime", Shifted)
    p = PkiPaths.under(env_home)
    with pytest.raises(ProvenanceError, match=message) as err:
        FileSigner(p.signer_chain, p.signer_key)
    assert err.value.path == str(p.signer_chain) and "UTC" in str(err.value)


def test_certificate_c2pa_refuses_is_named_with_its_usages(
    env_home: Path, marked: Path, tmp_path: Path
) -> None:
    """A leaf that passes ``check_chain`` but that c2pa will not sign with (a TLS server's
    usage): the error names the certificate file and its usages, not the output."""
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from tests.provenance.conftest import issue_leaf
    from vidprov.provenance.pki import PkiPaths

    chain, key = issue_leaf(
        PkiPaths.under(env_home), tmp_path, usages=(ExtendedKeyUsageOID.SERVER_AUTH,)
    )
    out = tmp_path / "out.mp4"
    with pytest.raises(ProvenanceError, match="serverAuth") as err:
        sign_file(marked, out, signer=load_signer(chain, key))
    assert err.value.path == str(chain) and not out.exists()
