"""Entity ids: keyed hashes of (kind, value), so the tables never hold an entity in clear."""

from __future__ import annotations

import hashlib

from ...db.driver import sqlite3
from ...errors import ValidationError
from ...graph import extract_entities
from ...store import graph as gstore

__all__ = ["EntityIds"]


class EntityIds:
    """The entities of a text under this store's key (``graph_state.entity_key``, read once)."""

    def __init__(self) -> None:
        self._key: bytes | None = None

    def key(self, conn: sqlite3.Connection) -> bytes:
        if self._key is None:
            hexkey = gstore.state_get(conn, "entity_key")
            if hexkey is None:  # restored from a copy without it: any fresh key works after a rebuild
                raise ValidationError("graph_state has no entity_key: run `memoryd graph rebuild --reextract`")
            self._key = bytes.fromhex(hexkey)
        return self._key

    @staticmethod
    def eid(key: bytes, kind: str, value_key: str) -> int:
        d = hashlib.blake2b(f"{kind}:{value_key}".encode("utf-8"), key=key, digest_size=8).digest()
        return int.from_bytes(d, "big", signed=True)

    def of(self, conn: sqlite3.Connection, text: str) -> dict[int, tuple[str, str]]:
        """entity id -> (kind, readable value) of one text."""
        key = self.key(conn)
        return {self.eid(key, e.kind, e.key): (e.kind, e.value) for e in extract_entities(text)}
