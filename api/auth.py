"""API keys: ``Authorization: Bearer <key>``, each key with scopes.

Keys file format, one key per line (``#`` starts a comment)::

    # name   scopes          key: the token itself, or sha256:<64 hex digits of its SHA-256>
    ingest   read            sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    studio   read,generate   vp_3kJ...

Scopes: ``read`` (scan, verify, watermark detect, manifests, matches) and ``generate``.
Jobs are visible only to the key that created them. Only digests are held in memory and keys
are compared in constant time; a key never appears in a log line or a response.

With no keys configured the service is *open*: every request acts as the anonymous caller
with every scope. ``vidprov serve`` allows that only on a loopback address.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from vidprov.config import home_dir
from vidprov.errors import ConfigError

log = logging.getLogger(__name__)

SCOPES = ("read", "generate")
KEYS_FILE = "api_keys"
ANONYMOUS = "anonymous"
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


@dataclass(frozen=True)
class ApiKey:
    """One configured key: a name (for logs and job ownership), its SHA-256 and its scopes."""

    name: str
    digest: bytes
    scopes: frozenset[str]


@dataclass(frozen=True)
class Caller:
    """Who made a request: the key's name (``anonymous`` in open mode), its scopes, and the
    start of its digest (``key_id``), which with the name owns its jobs."""

    name: str
    scopes: frozenset[str]
    key_id: str = ""

    @property
    def owner(self) -> str:
        """Whose jobs are whose: the name and the key, so that a key removed and added again
        under the same name (a new token) does not read the old key's jobs and files."""
        return f"{self.name}#{self.key_id}" if self.key_id else self.name


@dataclass(frozen=True)
class KeyRing:
    """The configured keys; empty means the service is open."""

    keys: tuple[ApiKey, ...] = ()

    @property
    def open(self) -> bool:
        return not self.keys

    def lookup(self, token: str) -> ApiKey | None:
        """The key whose digest matches ``token``, compared in constant time."""
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for key in self.keys:
            if hmac.compare_digest(key.digest, digest):
                found = key
        return found


def digest_of(token: str) -> str:
    """The ``sha256:<hex>`` form of a token, for a keys file that holds no secrets."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random API key (256 bits)."""
    return "vp_" + secrets.token_urlsafe(32)


def parse_keys(text: str, origin: str) -> tuple[ApiKey, ...]:
    """Parse keys-file text (entries separated by newlines or ``;``).

    Raises:
        ConfigError: a line is malformed, names an unknown scope, or repeats a name.
    """
    keys: list[ApiKey] = []
    for n, raw in enumerate(re.split(r"[\n;]", text), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ConfigError(f"{origin}: entry {n}: expected 'NAME SCOPES KEY'")
        name, scopes_text, secret = parts
        if not _NAME.match(name):
            raise ConfigError(f"{origin}: entry {n}: bad key name {name!r}")
        scopes = frozenset(s for s in scopes_text.split(",") if s)
        unknown = scopes - set(SCOPES)
        if not scopes or unknown:
            raise ConfigError(
                f"{origin}: entry {n}: unknown scope(s) {sorted(unknown) or '(none)'}; "
                f"use {', '.join(SCOPES)}"
            )
        if secret.startswith("sha256:"):
            try:
                digest = bytes.fromhex(secret[7:])
            except ValueError:
                digest = b""
            if len(digest) != 32:
                raise ConfigError(f"{origin}: entry {n}: sha256: needs 64 hex digits")
        elif len(secret) < 16:
            raise ConfigError(f"{origin}: entry {n}: key shorter than 16 characters")
        else:
            digest = hashlib.sha256(secret.encode()).digest()
        if any(k.name == name for k in keys):
            raise ConfigError(f"{origin}: entry {n}: key name {name!r} repeated")
        keys.append(ApiKey(name, digest, scopes))
    return tuple(keys)


def _read_keys(path: Path) -> str:
    """The keys file's text.

    Raises:
        ConfigError: it cannot be read, or it is not UTF-8 text.
    """
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read API keys file ({exc.strerror})", path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"API keys file is not UTF-8 text (byte {exc.start} cannot be decoded)", path
        ) from exc


def load_keyring(keys_file: Path | None, inline: str | None) -> KeyRing:
    """Keys from ``keys_file`` (default ``$VIDPROV_HOME/api_keys`` if it exists) plus ``inline``.

    Raises:
        ConfigError: an explicitly named file is missing or unreadable, or an entry is bad.
    """
    keys: list[ApiKey] = []
    path = keys_file
    if path is None and (home_dir() / KEYS_FILE).is_file():
        path = home_dir() / KEYS_FILE
    if path is not None:
        keys += parse_keys(_read_keys(Path(path)), str(path))
    if inline:
        keys += parse_keys(inline, "VIDPROV_API_API_KEYS")
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        raise ConfigError("API key names must be unique across the keys file and the variable")
    ring = KeyRing(tuple(keys))
    if ring.open:
        log.warning("no API keys configured: the service is open to anyone who can reach it")
    else:
        log.info("API keys loaded: %s", ", ".join(names))
    return ring


def add_key(path: Path, name: str, scopes: tuple[str, ...]) -> str:
    """Append a new key (stored as its SHA-256 only) to a keys file; return the token once.

    Raises:
        ConfigError: bad name or scope, a repeated name, or the file cannot be written.
    """
    if not _NAME.match(name):  # checked here so the message blames the argument, not the file
        raise ConfigError(f"bad key name {name!r}: use up to 64 letters, digits and . _ @ -")
    token = new_token()
    line = f"{name} {','.join(scopes)} {digest_of(token)}\n"
    existing = _read_keys(path) if path.is_file() else ""
    if any(k.name == name for k in parse_keys(existing, str(path))):
        raise ConfigError(
            f"a key named {name!r} is already there: remove it first (`vidprov keys "
            "api-remove`) or choose another name",
            path,
        )
    if existing and not existing.endswith("\n"):  # a last entry with no newline: not glued on
        line = "\n" + line
    parse_keys(existing + line, str(path))  # validates the new entry's scopes
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with path.open("a", encoding="utf-8") as f:
            f.write(line)
        path.chmod(0o600)
    except OSError as exc:
        raise ConfigError(f"cannot write API keys file ({exc.strerror})", path) from exc
    return token


def remove_key(path: Path, name: str) -> None:
    """Remove the key ``name`` from a keys file, keeping every other entry and comment (the
    file is rewritten atomically, mode 0600). A running server keeps the keys it started with.

    Raises:
        ConfigError: no key of that name in the file, or the file cannot be read or written.
    """
    from vidprov.atomic import atomic_path
    from vidprov.errors import MediaError

    text = _read_keys(path)

    def named(entry: str) -> bool:
        words = entry.split("#", 1)[0].split()
        return bool(words) and words[0] == name

    lines = text.splitlines()
    if not any(named(e) for line in lines for e in line.split(";")):
        raise ConfigError(f"no API key named {name!r} in this file", path)
    kept = []
    for line in lines:
        entries = line.split(";")
        rest = [e for e in entries if not named(e)]
        if len(rest) == len(entries):
            kept.append(line)  # untouched, comments and blank lines too
        elif any(e.split("#", 1)[0].strip() for e in rest):
            kept.append(";".join(rest).strip())
    try:
        with atomic_path(path, mode=0o600, durable=True) as tmp:
            tmp.write_text("".join(f"{line}\n" for line in kept))
    except MediaError as exc:
        raise ConfigError(f"cannot write API keys file ({exc.message})", path) from exc
    except OSError as exc:
        raise ConfigError(f"cannot write API keys file ({exc.strerror})", path) from exc
