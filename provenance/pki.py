"""A development PKI for C2PA signing: root CA → intermediate CA → ES256 signer.

c2pa-rs accepts a signer certificate only if it is not self-signed and not a CA, carries an
Authority Key Identifier, the digitalSignature key usage and an accepted extended key usage
(we use emailProtection). The root goes into ``trust_anchors.pem``; verifiers that load it
report our clips as ``trusted``, others as ``valid`` (signature good, signer unknown).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vidprov.atomic import atomic_path
from vidprov.errors import ProvenanceError

log = logging.getLogger(__name__)

PKI_DIR = "c2pa"
TRUST_ANCHORS_FILE = "trust_anchors.pem"


@dataclass(frozen=True)
class PkiPaths:
    """Where the development PKI lives under a vidprov home."""

    root_cert: Path
    root_key: Path
    intermediate_cert: Path
    intermediate_key: Path
    signer_chain: Path
    signer_key: Path
    trust_anchors: Path

    @classmethod
    def under(cls, home: Path) -> PkiPaths:
        d = home / PKI_DIR
        return cls(
            root_cert=d / "root-ca.pem",
            root_key=d / "root-ca.key",
            intermediate_cert=d / "intermediate-ca.pem",
            intermediate_key=d / "intermediate-ca.key",
            signer_chain=d / "signer-chain.pem",
            signer_key=d / "signer.key",
            trust_anchors=home / TRUST_ANCHORS_FILE,
        )

    def all(self) -> tuple[Path, ...]:
        return (
            self.root_cert,
            self.root_key,
            self.intermediate_cert,
            self.intermediate_key,
            self.signer_chain,
            self.signer_key,
            self.trust_anchors,
        )


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        ]
    )


def _key_usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    path_length: int | None,
    days: int,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .add_extension(_key_usage(sign=not ca, ca=ca), critical=True)
    )
    if not ca:
        b = b.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
    return b.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def create_dev_pki(
    home: Path, force: bool = False, org: str = "vidprov development"
) -> tuple[Path, ...]:
    """Create the development root CA, intermediate CA, ES256 signer and ``trust_anchors.pem``.

    Private keys are written with mode 0600; every file is written atomically.

    Args:
        home: the vidprov home folder (the PKI goes into ``home/c2pa``).
        force: replace an existing PKI.
        org: organisation name in the certificates' subjects.

    Returns:
        The paths written.

    Raises:
        ProvenanceError: a PKI exists and ``force`` is false, or the folder cannot be written.
    """
    paths = PkiPaths.under(home)
    existing = [p for p in paths.all() if p.exists()]
    if existing and not force:
        raise ProvenanceError("signing PKI exists; use --force to replace it", existing[0])
    try:
        paths.signer_key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ProvenanceError(f"cannot create folder ({exc.strerror})", paths.signer_key) from exc
    root_key = ec.generate_private_key(ec.SECP256R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{org} root CA", org)
    inter_name = _name(f"{org} intermediate CA", org)
    root = _issue(root_name, root_key, root_name, root_key, ca=True, path_length=1, days=3650)
    inter = _issue(inter_name, inter_key, root_name, root_key, ca=True, path_length=0, days=1825)
    leaf = _issue(
        _name(f"{org} signer", org),
        leaf_key,
        inter_name,
        inter_key,
        ca=False,
        path_length=None,
        days=365,
    )
    files: list[tuple[Path, bytes, int]] = [
        (paths.root_cert, _pem(root), 0o644),
        (paths.root_key, _key_pem(root_key), 0o600),
        (paths.intermediate_cert, _pem(inter), 0o644),
        (paths.intermediate_key, _key_pem(inter_key), 0o600),
        (paths.signer_chain, _pem(leaf) + _pem(inter), 0o644),
        (paths.signer_key, _key_pem(leaf_key), 0o600),
        (paths.trust_anchors, _pem(root), 0o644),
    ]
    for path, data, mode in files:
        with atomic_path(path, mode=mode) as tmp:
            tmp.write_bytes(data)
    log.info("wrote development signing PKI under %s", paths.signer_key.parent)
    return tuple(p for p, _, _ in files)
