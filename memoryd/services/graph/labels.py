"""Community labels from the current members only: an erased memory's words never linger.

Labels of communities whose membership changed are marked stale by the store's triggers and
recomputed before they are read (:meth:`Labeller.refresh`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...db import transaction
from ...db.driver import sqlite3
from ...errors import StoreReadOnly
from ...graph import community_terms
from ...graph.labels import terms_against
from ...store import graph as gstore
from .context import GraphContext
from .term_df import TermDF

__all__ = ["Labeller"]


class Labeller:
    def __init__(self, ctx: GraphContext, terms: TermDF):
        self.ctx = ctx
        self.terms = terms  # corpus statistics for labels of a few communities

    def relabel(self, conn: sqlite3.Connection, community_ids: Sequence[int] | None) -> int:
        """Recompute labels (all communities, or these) from their current members."""
        n_terms = self.ctx.params.label_terms
        texts = gstore.member_texts(conn, community_ids)
        if community_ids is None:  # every member at hand: one pass, no corpus statistics needed
            terms = community_terms(texts, n_terms)
        else:
            df = self.terms.ensure(conn)
            terms = terms_against(texts, df, self.terms.n, n_terms)
        labels = {c: (", ".join(t for t, _ in terms.get(c, [])), terms.get(c, [])) for c in texts}
        gstore.set_labels(conn, labels)
        return len(labels)

    def refresh(self) -> int:
        """Relabel communities whose membership changed since their label was computed."""
        ctx = self.ctx
        with ctx.lock:
            stale = gstore.stale_communities(ctx.conn)
            if not stale:
                return 0
            try:
                with transaction(ctx.conn):
                    return self.relabel(ctx.conn, stale)
            except StoreReadOnly:  # a read-only store (read-only media): shown with the labels it has
                return 0
