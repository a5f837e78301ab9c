"""Community labels from the current members only: an erased memory's words never linger.

Mixed into :class:`memoryd.services.graph.GraphService` (which provides ``conn``, ``lock``,
``params`` and ``_terms``). Labels of communities whose membership changed are marked stale by
the store's triggers and recomputed before they are read.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from ..db.driver import sqlite3
from ..db import transaction
from ..graph import community_terms, tokenize
from ..graph.labels import terms_against
from ..store import graph as gstore

__all__ = ["GraphLabels", "TermDF"]


class TermDF:
    """Document frequency of label terms over all memories (RAM only; scores labels).

    Built on first use from every memory's text, then kept up to date by this process's
    inserts and deletes; rebuilt when another connection has committed (PRAGMA
    data_version moved). Words of deleted memories leave it when their count reaches 0.
    """

    def __init__(self) -> None:
        self.df: Counter[str] | None = None
        self.n = 0
        self.version: int | None = None

    def ensure(self, conn: sqlite3.Connection) -> Counter[str]:
        dv = gstore.data_version(conn)
        if self.df is None or dv != self.version:
            df: Counter[str] = Counter()
            n = 0
            for text in gstore.iter_texts(conn):
                df.update(set(tokenize(text)))
                n += 1
            self.df, self.n, self.version = df, n, dv
        return self.df

    def add(self, texts: Iterable[str], sign: int) -> None:
        if self.df is None:
            return
        for t in texts:
            for w in set(tokenize(t)):
                c = self.df[w] + sign
                if c > 0:
                    self.df[w] = c
                else:
                    del self.df[w]
            self.n += sign

    def drop(self) -> None:
        self.df, self.n, self.version = None, 0, None


class GraphLabels:
    conn: sqlite3.Connection
    lock: threading.RLock
    params: Any
    _terms: TermDF

    def _relabel(self, conn: sqlite3.Connection, community_ids: Sequence[int] | None) -> int:
        """Recompute labels (all communities, or these) from their current members."""
        texts = gstore.member_texts(conn, community_ids)
        if community_ids is None:  # every member at hand: one pass, no corpus statistics needed
            terms = community_terms(texts, self.params.label_terms)
        else:
            df = self._terms.ensure(conn)
            terms = terms_against(texts, df, self._terms.n, self.params.label_terms)
        labels = {c: (", ".join(t for t, _ in terms.get(c, [])), terms.get(c, [])) for c in texts}
        gstore.set_labels(conn, labels)
        return len(labels)

    def refresh_labels(self) -> int:
        """Relabel communities whose membership changed since their label was computed."""
        with self.lock:
            stale = gstore.stale_communities(self.conn)
            if not stale:
                return 0
            with transaction(self.conn):
                return self._relabel(self.conn, stale)
