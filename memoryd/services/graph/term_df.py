"""Document frequency of label terms over all memories, in RAM (scores community labels)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ...db.driver import sqlite3
from ...graph import tokenize
from ...store import graph as gstore

__all__ = ["TermDF"]


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
