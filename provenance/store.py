"""The manifest store: every manifest vidprov signs, indexed by its soft-binding values.

Embedded SQLite under ``VIDPROV_HOME`` (``manifests.sqlite``). A watermark payload read from a
clip whose metadata was stripped resolves here to the manifest(s) that declared it.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidprov.config import home_dir
from vidprov.errors import ProvenanceError
from vidprov.provenance.softbinding import SoftBindingBlock

STORE_FILE = "manifests.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (
    id TEXT PRIMARY KEY,
    stored_at TEXT NOT NULL,
    title TEXT,
    manifest_json TEXT NOT NULL,
    manifest_store BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS bindings (
    manifest_id TEXT NOT NULL REFERENCES manifests(id),
    alg TEXT NOT NULL,
    value TEXT NOT NULL,
    start_ms INTEGER,
    end_ms INTEGER
);
CREATE INDEX IF NOT EXISTS bindings_by_value ON bindings(alg, value);
"""


@dataclass(frozen=True)
class StoredManifest:
    """A manifest as the store keeps it: its JSON and the signed manifest-store bytes (which
    can be validated against any file as a sidecar manifest)."""

    manifest_id: str
    stored_at: str
    title: str | None
    manifest: dict[str, Any]
    manifest_store: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest_id": self.manifest_id,
            "stored_at": self.stored_at,
            "title": self.title,
            "manifest": self.manifest,
        }


class ManifestStore:
    """SQLite manifest store. Each call opens its own connection (safe across threads/processes).

    ``read_only`` opens an existing store for lookups and never writes: no folder or database
    is created (a verifier must not need a writable home), and :meth:`add` fails.

    Raises:
        ProvenanceError: the database cannot be opened or is not a manifest store (read-only:
            also when it does not exist; :meth:`lookup` treats that as an empty store).
    """

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else home_dir() / STORE_FILE
        self.read_only = read_only
        if read_only:
            if not self.path.is_file():
                raise ProvenanceError("no manifest store here", self.path)
            with self._conn() as c:  # is it a manifest store at all?
                c.execute("SELECT 1 FROM manifests JOIN bindings LIMIT 1").fetchall()
            return
        with self._conn() as c:
            c.executescript(_SCHEMA)

    @classmethod
    def lookup(cls, path: str | Path | None = None) -> ManifestStore | None:
        """The store at ``path`` (default: the home store) opened read-only, or None when
        there is none yet (nothing was signed here).

        Raises:
            ProvenanceError: it exists but cannot be read or is not a manifest store.
        """
        target = Path(path) if path is not None else home_dir() / STORE_FILE
        return cls(target, read_only=True) if target.is_file() else None

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        try:
            if self.read_only:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=30)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30)
            with closing(conn), conn:
                yield conn
        except sqlite3.DatabaseError as exc:
            raise ProvenanceError(f"manifest store unusable ({exc})", self.path) from exc
        except OSError as exc:
            raise ProvenanceError(f"cannot open manifest store ({exc})", self.path) from exc

    def add(
        self,
        manifest_id: str,
        manifest: dict[str, Any],
        manifest_store: bytes,
        bindings: tuple[SoftBindingBlock, ...] = (),
        title: str | None = None,
    ) -> None:
        """Store a manifest and its soft-binding blocks (replacing one with the same id)."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._conn() as c:
            c.execute("DELETE FROM bindings WHERE manifest_id = ?", (manifest_id,))
            c.execute(
                "INSERT OR REPLACE INTO manifests VALUES (?, ?, ?, ?, ?)",
                (manifest_id, now, title, json.dumps(manifest), manifest_store),
            )
            c.executemany(
                "INSERT INTO bindings VALUES (?, ?, ?, ?, ?)",
                [(manifest_id, b.alg, b.value, b.start_ms, b.end_ms) for b in bindings],
            )

    def get(self, manifest_id: str) -> StoredManifest | None:
        """The stored manifest with this id, or None."""
        with self._conn() as c:
            row = c.execute(
                "SELECT id, stored_at, title, manifest_json, manifest_store "
                "FROM manifests WHERE id = ?",
                (manifest_id,),
            ).fetchone()
        if row is None:
            return None
        return StoredManifest(row[0], row[1], row[2], json.loads(row[3]), bytes(row[4]))

    def find(self, alg: str, value: str) -> list[str]:
        """Ids of manifests with a soft-binding block ``(alg, value)``, oldest first: the clip the
        payload was minted for, then the edits (trims, concatenations) that carry its mark."""
        with self._conn() as c:
            rows = c.execute(
                "SELECT DISTINCT b.manifest_id, m.stored_at FROM bindings b "
                "JOIN manifests m ON m.id = b.manifest_id WHERE b.alg = ? AND b.value = ? "
                "ORDER BY m.stored_at, m.rowid",
                (alg, value),
            ).fetchall()
        return [r[0] for r in rows]

    def spans(self, manifest_id: str, alg: str, value: str) -> list[tuple[int, int]]:
        """The ``(start_ms, end_ms)`` blocks in which ``manifest_id`` declares ``(alg, value)``."""
        with self._conn() as c:
            rows = c.execute(
                "SELECT start_ms, end_ms FROM bindings "
                "WHERE manifest_id = ? AND alg = ? AND value = ? ORDER BY start_ms",
                (manifest_id, alg, value),
            ).fetchall()
        return [(int(a), int(b)) for a, b in rows if a is not None and b is not None]

    def count(self) -> int:
        with self._conn() as c:
            return int(c.execute("SELECT COUNT(*) FROM manifests").fetchone()[0])
