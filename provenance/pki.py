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
from vidprov.errors import MediaError, ProvenanceError

log = logging.getLogger(__name__)

PKI_DIR = "c2pa"
TRUST_ANCHORS_FILE = "trust_anchors.pem"
SIGNER_DAYS = 365  # the development signer's lifetime; `vidprov keys renew-signer` issues another
DEV_ORG = "vidprov development"  # organisation in the development certificates' subjects


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


def name_attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    """The first value of attribute ``oid`` in a certificate name, if any."""
    vals = name.get_attributes_for_oid(oid)
    return str(vals[0].value) if vals else None


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
    lifetime: dt.timedelta | None = None,
    usages: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.EMAIL_PROTECTION,),
) -> x509.Certificate:
    """A certificate valid from five minutes ago for ``days`` (or ``lifetime``); a leaf
    (not ``ca``) gets the extended key ``usages``."""
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + (lifetime or dt.timedelta(days=days)))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .add_extension(_key_usage(sign=not ca, ca=ca), critical=True)
    )
    if not ca:
        b = b.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _leaf(
    org: str, inter_name: x509.Name, inter_key: ec.EllipticCurvePrivateKey, days: int
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(
        _name(f"{org} signer", org), key, inter_name, inter_key, ca=False, path_length=None,
        days=days,
    )  # fmt: skip
    return cert, key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def create_dev_pki(home: Path, force: bool = False, org: str = DEV_ORG) -> tuple[Path, ...]:
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
    root_name = _name(f"{org} root CA", org)
    inter_name = _name(f"{org} intermediate CA", org)
    root = _issue(root_name, root_key, root_name, root_key, ca=True, path_length=1, days=3650)
    inter = _issue(inter_name, inter_key, root_name, root_key, ca=True, path_length=0, days=1825)
    leaf, leaf_key = _leaf(org, inter_name, inter_key, SIGNER_DAYS)
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
        with atomic_path(path, mode=mode, durable=True) as tmp:
            tmp.write_bytes(data)
    log.info("wrote development signing PKI under %s", paths.signer_key.parent)
    return tuple(p for p, _, _ in files)


def renew_dev_signer(home: Path, days: int = SIGNER_DAYS) -> x509.Certificate:
    """Issue a new signer certificate and key from the development intermediate CA under
    ``home`` (root, intermediate and ``trust_anchors.pem`` stay, so verifiers keep trusting the
    chain). The new certificate ends ``days`` from now, or with the intermediate if sooner.

    The key is written before the chain (each atomically): an interruption between the two
    leaves a chain that does not match its key, which signing reports.

    Raises:
        ProvenanceError: no development intermediate CA (key or certificate) under ``home``, it
            cannot be read, it has expired, or the files cannot be written.
    """
    paths = PkiPaths.under(home)
    for p in (paths.intermediate_cert, paths.intermediate_key):
        if not p.is_file():
            raise ProvenanceError(
                "no development intermediate CA here to issue a signer from (run `vidprov keys "
                "init` first; a certificate you brought is renewed by whoever issued it)",
                p,
            )
    try:
        inter = x509.load_pem_x509_certificate(paths.intermediate_cert.read_bytes())
    except (OSError, ValueError) as exc:
        raise ProvenanceError(
            f"cannot read the intermediate CA certificate ({exc})", paths.intermediate_cert
        ) from exc
    try:
        inter_key = serialization.load_pem_private_key(paths.intermediate_key.read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise ProvenanceError(
            f"cannot read the intermediate CA key ({exc})", paths.intermediate_key
        ) from exc
    if (
        not isinstance(inter_key, ec.EllipticCurvePrivateKey)
        or inter_key.public_key() != inter.public_key()
    ):
        raise ProvenanceError(
            "the intermediate CA key does not match its certificate", paths.intermediate_key
        )
    now = dt.datetime.now(dt.UTC)
    left = inter.not_valid_after_utc - now
    if left <= dt.timedelta(days=1):
        raise ProvenanceError(
            f"the intermediate CA expires on {inter.not_valid_after_utc:%Y-%m-%d} UTC; make a new "
            "PKI with `vidprov keys init --force`",
            paths.intermediate_cert,
        )
    org = name_attr(inter.subject, NameOID.ORGANIZATION_NAME) or DEV_ORG
    leaf, leaf_key = _leaf(org, inter.subject, inter_key, min(days, left.days))
    try:
        with atomic_path(paths.signer_key, mode=0o600, durable=True) as tmp:
            tmp.write_bytes(_key_pem(leaf_key))
        with atomic_path(paths.signer_chain, mode=0o644, durable=True) as tmp:
            tmp.write_bytes(_pem(leaf) + _pem(inter))
    except MediaError as exc:  # atomic_path: the folder cannot be written
        raise ProvenanceError(f"cannot write the signer ({exc.message})", exc.path) from exc
    except OSError as exc:
        raise ProvenanceError(
            f"cannot write the signer ({exc.strerror or exc})", exc.filename or paths.signer_key
        ) from exc
    log.info("issued a new development signer, valid until %s", leaf.not_valid_after_utc)
    return leaf
