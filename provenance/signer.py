"""Signers: the key that signs a C2PA claim, from files or behind a callback (KMS / HSM).

Every signer is a :class:`CallbackSigner`: an algorithm name, the certificate chain (leaf
first, PEM) and a ``sign(data) -> signature`` method. A KMS or HSM implements that protocol
and keeps its key material out of this process; :class:`FileSigner` implements it over a
PEM key file. c2pa-python is given only the callback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtensionOID

from vidprov.config import home_dir
from vidprov.errors import ProvenanceError
from vidprov.provenance.pki import PkiPaths, name_attr

log = logging.getLogger(__name__)

ALGS = ("es256", "es384", "es512", "ps256", "ed25519")


@runtime_checkable
class CallbackSigner(Protocol):
    """What c2pa signing needs from a key holder. ``sign`` returns the raw signature of
    ``data`` for ``alg`` (ECDSA as DER or r||s; Ed25519 raw; RSA-PSS with SHA-256)."""

    alg: str
    certificate_chain_pem: str

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class CertInfo:
    """The parts of a signer certificate a report shows."""

    common_name: str | None
    organization: str | None
    issuer: str | None
    not_after: str


def check_chain(pem: str, path: Path | str | None = None) -> list[x509.Certificate]:
    """Parse a PEM chain (leaf first) and check the leaf is usable for C2PA signing.

    Raises:
        ProvenanceError: no certificate, unparsable PEM, or a leaf that c2pa would refuse
            (self-signed, a CA, no AKI, no digitalSignature usage, no extended key usage,
            expired or not yet valid).
    """
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ProvenanceError("no certificate in file (expected a PEM chain, leaf first)", path)
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise ProvenanceError("malformed PEM certificate (bad base64 or DER)", path) from exc
    leaf = certs[0]
    if leaf.issuer == leaf.subject:
        raise ProvenanceError("signer certificate is self-signed; C2PA needs a CA-issued one", path)

    def ext(oid: x509.ObjectIdentifier) -> Any:
        try:
            return leaf.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            return None

    bc = ext(ExtensionOID.BASIC_CONSTRAINTS)
    if bc is not None and bc.ca:
        raise ProvenanceError("signer certificate is a CA certificate", path)
    if ext(ExtensionOID.AUTHORITY_KEY_IDENTIFIER) is None:
        raise ProvenanceError("signer certificate has no Authority Key Identifier", path)
    ku = ext(ExtensionOID.KEY_USAGE)
    if ku is None or not ku.digital_signature:
        raise ProvenanceError("signer certificate lacks the digitalSignature key usage", path)
    if ext(ExtensionOID.EXTENDED_KEY_USAGE) is None:
        raise ProvenanceError(
            "signer certificate has no extended key usage (e.g. emailProtection)", path
        )
    now = datetime.now(UTC)
    if now > leaf.not_valid_after_utc:
        raise ProvenanceError(
            f"signer certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC", path
        )
    if now < leaf.not_valid_before_utc:
        raise ProvenanceError(
            f"signer certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} "
            "UTC",
            path,
        )
    return certs


def cert_info(cert: x509.Certificate) -> CertInfo:
    from cryptography.x509.oid import NameOID

    return CertInfo(
        common_name=name_attr(cert.subject, NameOID.COMMON_NAME),
        organization=name_attr(cert.subject, NameOID.ORGANIZATION_NAME),
        issuer=name_attr(cert.issuer, NameOID.COMMON_NAME),
        not_after=cert.not_valid_after_utc.isoformat(),
    )


def _alg_for(key: Any, path: Path) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(
            key.curve.name, ""
        ) or _bad(f"unsupported EC curve {key.curve.name}", path)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    return _bad(f"unsupported key type {type(key).__name__}", path)


def _bad(msg: str, path: Path) -> str:
    raise ProvenanceError(msg, path)


class FileSigner:
    """A :class:`CallbackSigner` over a PEM private key file and a PEM chain file.

    Raises:
        ProvenanceError: a file is missing or unreadable, the key is not a supported type,
            or the key does not belong to the certificate.
    """

    def __init__(self, cert_path: str | Path, key_path: str | Path) -> None:
        self.cert_path, self.key_path = Path(cert_path), Path(key_path)
        pem = _read(self.cert_path, "certificate chain").decode("utf-8", "replace")
        self.certs = check_chain(pem, self.cert_path)
        self.certificate_chain_pem = pem
        try:
            self._key = serialization.load_pem_private_key(
                _read(self.key_path, "private key"), None
            )
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ProvenanceError("not an unencrypted PEM private key", self.key_path) from exc
        self.alg = _alg_for(self._key, self.key_path)
        pub = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        leaf_pub = (
            self.certs[0]
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        if pub != leaf_pub:
            raise ProvenanceError(
                f"private key does not match the certificate {self.cert_path}", self.key_path
            )

    def sign(self, data: bytes) -> bytes:
        k = self._key
        if isinstance(k, ec.EllipticCurvePrivateKey):
            h = {"es256": hashes.SHA256(), "es384": hashes.SHA384()}.get(self.alg, hashes.SHA512())
            return k.sign(data, ec.ECDSA(h))
        if isinstance(k, ed25519.Ed25519PrivateKey):
            return k.sign(data)
        assert isinstance(k, rsa.RSAPrivateKey)
        return k.sign(
            data,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )

    def __repr__(self) -> str:  # never show key material
        return f"FileSigner(cert={self.cert_path}, key={self.key_path}, alg={self.alg})"


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ProvenanceError(
            f"{what} not found (run `vidprov keys init`, or give --cert/--key where the "
            "command takes them)",
            path,
        ) from exc
    except OSError as exc:
        raise ProvenanceError(f"cannot read {what} ({exc.strerror})", path) from exc


def load_signer(
    cert: str | Path | None = None, key: str | Path | None = None, home: Path | None = None
) -> FileSigner:
    """The signer from ``cert``/``key`` files, or the development signer under ``home``.

    Raises:
        ProvenanceError: only one of ``cert``/``key`` given, or as :class:`FileSigner`.
    """
    if (cert is None) != (key is None):
        raise ProvenanceError("give both --cert and --key, or neither")
    if cert is None or key is None:
        paths = PkiPaths.under(home or home_dir())
        cert, key = paths.signer_chain, paths.signer_key
    return FileSigner(cert, key)


def to_c2pa(signer: CallbackSigner, tsa_url: str | None = None) -> Any:
    """A c2pa-python ``Signer`` that calls ``signer.sign``.

    Raises:
        ProvenanceError: an unknown algorithm, or c2pa refuses the chain.
    """
    import c2pa

    alg = str(signer.alg).lower()
    if alg not in ALGS:
        raise ProvenanceError(f"unsupported signing algorithm {signer.alg!r} (one of {ALGS})")
    check_chain(signer.certificate_chain_pem)
    try:
        return c2pa.Signer.from_callback(
            signer.sign,
            getattr(c2pa.C2paSigningAlg, alg.upper()),
            signer.certificate_chain_pem,
            tsa_url,
        )
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"c2pa refused the signer ({exc})") from exc
