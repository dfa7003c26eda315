"""Key material under ``VIDPROV_HOME``: the 256-bit watermark key and the C2PA signing PKI."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from vidprov.atomic import fsync, signals_held
from vidprov.config import home_dir
from vidprov.errors import KeyError_, WatermarkError

log = logging.getLogger(__name__)

WATERMARK_KEY_FILE = "watermark.key"
KEY_BYTES = 32


@dataclass(frozen=True)
class KeysResult:
    """What ``init_keys`` created."""

    home: str
    watermark_key: str
    signer_chain: str
    trust_anchors: str
    created: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["created"] = list(self.created)
        return d


def init_keys(home: str | Path | None = None, force: bool = False) -> KeysResult:
    """Create the random 256-bit watermark key and the development C2PA PKI (root CA,
    intermediate CA, ES256 signer, ``trust_anchors.pem``) in ``home``; private keys mode 0600.

    Without ``force``, only what is wholly missing is made: a home that lost its PKI (the
    ``c2pa`` folder and ``trust_anchors.pem``) gets a new one and keeps its watermark key, so
    marks made before still read; one that lost its watermark key gets a new key.

    Args:
        home: the folder; default :func:`vidprov.config.home_dir`.
        force: overwrite existing keys.

    Raises:
        KeyError_: both exist, or part of the PKI does, and ``force`` is false; the folder
            cannot be written.
    """
    from vidprov.errors import ProvenanceError
    from vidprov.provenance.pki import PkiPaths, create_dev_pki

    home = Path(home) if home is not None else home_dir()
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise KeyError_(f"cannot create key folder ({exc.strerror})", home) from exc
    key_path = home / WATERMARK_KEY_FILE
    pki = PkiPaths.under(home)
    missing = [p for p in pki.all() if not p.exists()]
    make_pki = force or len(missing) == len(pki.all())
    make_key = force or not key_path.exists()
    if not make_pki and missing:
        fix = (
            "move what is left of it (the c2pa folder and trust_anchors.pem) aside and run "
            "`keys init` again for a new one that keeps the watermark key (--force would "
            "replace the watermark key too)"
            if not make_key
            else "use --force to make a new PKI and watermark key (there is no key to keep)"
        )
        raise KeyError_(
            f"the signing PKI is incomplete ({len(missing)} of its {len(pki.all())} files "
            f"missing); {fix}",
            missing[0],
        )
    if not (make_pki or make_key):
        raise KeyError_(
            "keys exist; use --force to replace them all (marks made with the old key become "
            "unreadable, and clips signed with the old signer no longer verify trusted)",
            key_path,
        )
    # Everything is made in a staging folder first, then renamed into place: a failure while
    # making keys leaves the old ones as they were (the watermark key above all).
    try:
        staging = Path(tempfile.mkdtemp(prefix=".keys-init-", dir=home))
    except OSError as exc:
        raise KeyError_(f"cannot write here ({exc.strerror})", home) from exc
    try:
        try:
            made = list(create_dev_pki(staging, force=True)) if make_pki else []
            if make_key:
                new_key = staging / WATERMARK_KEY_FILE
                new_key.write_text(secrets.token_hex(KEY_BYTES) + "\n")
                new_key.chmod(0o600)
                fsync(new_key)  # on the disk before the renames that put it in place
                made.append(new_key)
        except (ProvenanceError, OSError) as exc:
            raise KeyError_(f"cannot make keys in this folder ({exc})", home) from exc
        # the watermark key last: if a rename fails, the key that reads old marks stays
        moves = [(f, home / f.relative_to(staging)) for f in made]
        try:
            pki.signer_key.parent.mkdir(exist_ok=True, mode=0o700)
            for _, dst in moves:
                if dst.is_dir():
                    raise IsADirectoryError(21, "is a folder", str(dst))
            # a Ctrl-C or SIGTERM between two renames left a signer key beside another's
            # certificate, or a new signer that the old trust anchors do not vouch for
            with signals_held():
                for src, dst in moves:
                    os.replace(src, dst)
            for folder in {dst.parent for _, dst in moves}:
                fsync(folder)
        except OSError as exc:
            where = exc.filename or home
            raise KeyError_(f"cannot write here ({exc.strerror or exc})", where) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if make_key:
        log.info("wrote watermark key %s", key_path)
    if make_key and not make_pki:  # a home that had lost its key
        log.warning(
            "made a new watermark key beside the existing PKI: marks made with the old key "
            "can no longer be read"
        )
    if make_pki and not make_key:  # a home that had lost its PKI
        log.warning(
            "made a new signing PKI and kept the watermark key: clips signed with the old "
            "signer verify trusted only against the old trust_anchors.pem"
        )
    created = [str(dst) for _, dst in moves]  # the key moved last, listed first
    if make_key:
        created.insert(0, created.pop())
    return KeysResult(
        home=str(home),
        watermark_key=str(key_path),
        signer_chain=str(pki.signer_chain),
        trust_anchors=str(pki.trust_anchors),
        created=tuple(created),
    )


@dataclass(frozen=True)
class SignerRenewal:
    """What ``renew_signer`` wrote: the new signer chain and key, and the certificate's end;
    ``note`` says when that end came sooner than asked (the intermediate CA's own end)."""

    signer_chain: str
    signer_key: str
    not_after: str
    note: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def renew_signer(home: str | Path | None = None, days: int = 365) -> SignerRenewal:
    """Issue a new development signer certificate and key from the intermediate CA that
    ``keys init`` made, leaving the watermark key, the CAs and ``trust_anchors.pem`` as they are
    (the development signer lasts a year; the intermediate five).

    Raises:
        KeyError_: ``days`` is not positive, or no usable development intermediate CA under
            ``home`` (missing, unreadable, expired) or the signer cannot be written.
    """
    from vidprov.errors import ProvenanceError
    from vidprov.provenance.pki import PkiPaths, renew_dev_signer

    if days < 1:
        raise KeyError_(f"days must be at least 1, not {days}")
    home = Path(home) if home is not None else home_dir()
    try:
        leaf = renew_dev_signer(home, days)
    except ProvenanceError as exc:
        raise KeyError_(exc.message, exc.path) from exc
    pki = PkiPaths.under(home)
    end = leaf.not_valid_after_utc
    note = None
    if end < leaf.not_valid_before_utc + timedelta(days=days) - timedelta(minutes=5):
        got = (end - leaf.not_valid_before_utc).days
        note = f"valid {got} days, not {days}: a signer cannot outlive its intermediate CA"
        log.warning("%s", note)
    return SignerRenewal(str(pki.signer_chain), str(pki.signer_key), end.isoformat(), note)


def load_watermark_key(path: str | Path | None = None) -> bytes:
    """Read a 256-bit watermark key (64 hex characters) from ``path`` or the home folder.

    Raises:
        KeyError_: the file is missing or does not hold 64 hex characters.
    """
    path = Path(path) if path is not None else home_dir() / WATERMARK_KEY_FILE
    if not path.is_file():
        raise KeyError_(
            "no watermark key; run `vidprov keys init` (or give a key file where the "
            "command takes one)",
            path,
        )
    text = path.read_text(errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyError_(f"not a 256-bit key (expected {2 * KEY_BYTES} hex characters)", path)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        log.warning("%s: key file is readable by others; chmod 600 it", path)
    return key


def check_watermark_key(key: object) -> bytes:
    """``key`` as ``bytes`` if it is a 256-bit watermark key (``bytes`` or ``bytearray``).

    Raises:
        WatermarkError: anything else (a key of another length, a hex string, None).
    """
    if not isinstance(key, bytes | bytearray):
        raise WatermarkError(
            f"watermark key must be 256 bits as bytes, got {type(key).__name__} "
            "(read one with vidprov.keys.load_watermark_key)"
        )
    if len(key) != KEY_BYTES:
        raise WatermarkError(f"watermark key must be 256 bits, got {len(key) * 8}")
    return bytes(key)


def optional_watermark_key(key: object = None) -> bytes | None:
    """``key`` checked when given; else the home key, or None when there is no home key file
    (the watermark is then skipped: a missing key is a setup choice, a broken one is not).

    Raises:
        WatermarkError: a ``key`` that is not 256 bits.
        KeyError_: a home key file that is there but does not hold a 256-bit key.
    """
    if key is not None:
        return check_watermark_key(key)
    path = home_dir() / WATERMARK_KEY_FILE
    if not (path.exists() or path.is_symlink()):
        return None
    return load_watermark_key(path)
