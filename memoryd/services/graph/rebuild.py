"""Whole-graph rebuilds: kNN links, Leiden communities and every label, inline or on a thread.

A rebuild reads a snapshot under the lock, computes without it (a background rebuild lets
writes go on), then writes in one transaction under the lock; memories written meanwhile
are linked and assigned like new ones. The listener counts changes (:meth:`note_changes`)
and asks for a rebuild when enough has changed since the last one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from ...db import transaction
from ...db.driver import sqlite3
from ...graph import build_memory_graph, cluster, knn_edges
from ...store import graph as gstore
from ...store import memories as mstore
from ...store import vectors as vstore
from .context import GraphContext
from .entities import EntityIds
from .labels import Labeller
from .linker import Linker
from .records import RebuildReport

__all__ = ["Rebuilder"]

log = logging.getLogger(__name__)


class Rebuilder:
    def __init__(self, ctx: GraphContext, entities: EntityIds, linker: Linker, labeller: Labeller):
        self.ctx = ctx
        self.entities = entities
        self.linker = linker
        self.labeller = labeller
        self.thread: threading.Thread | None = None  # the background rebuild, if any
        self._again = False  # asked for while one ran: run once more
        self.last: RebuildReport | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def note_changes(self, conn: sqlite3.Connection, n: int, maybe_rebuild: bool = True) -> None:
        """Inside a write: count ``n`` changed memories; re-cluster when enough have changed
        (inline while the graph is small, else on the background thread)."""
        p = self.ctx.params
        changes = int(gstore.state_get(conn, "changes") or 0) + n
        gstore.state_set(conn, "changes", str(changes))
        if not (maybe_rebuild and p.auto_rebuild):
            return
        size = int(gstore.state_get(conn, "rebuilt_size") or 0)
        if changes < max(p.rebuild_min_changes, p.rebuild_ratio * size):
            return
        if mstore.count(conn) <= p.inline_rebuild_below:
            self.rebuild_locked(conn)
        else:
            self.in_background()

    def rebuild(self, *, reextract: bool = False, progress: Callable[[str], None] | None = None) -> RebuildReport:
        with self.ctx.lock:
            return self.rebuild_locked(self.ctx.conn, reextract=reextract, progress=progress)

    def in_background(self) -> threading.Thread | None:
        with self.ctx.lock:
            if self.running:
                self._again = True
                return None
            self.thread = threading.Thread(target=self._background, name="memoryd-graph-rebuild", daemon=True)
            self.thread.start()
            return self.thread

    def wait(self, timeout: float | None = None) -> None:
        t = self.thread
        if t is not None:
            t.join(timeout)

    def _background(self) -> None:
        while True:
            try:
                self._rebuild_snapshot()
            except (sqlite3.ProgrammingError, sqlite3.OperationalError) as exc:  # connection closed meanwhile
                log.info("background graph rebuild stopped: %s", exc)
                return
            except Exception:  # noqa: BLE001 - a failed background rebuild must not kill the process
                log.exception("background graph rebuild failed")
                return
            with self.ctx.lock:
                if not self._again:
                    return
                self._again = False

    def _rebuild_snapshot(self) -> None:
        """Background rebuild: read under the lock, compute without it (writes go on),
        then write under the lock; memories written meanwhile are re-linked and assigned."""
        ctx = self.ctx
        with ctx.lock:
            snap = self._read_snapshot(ctx.conn, reextract=False)
        result = self.compute(*snap)
        with ctx.lock:
            self._write(ctx.conn, snap, result)

    def rebuild_locked(
        self, conn: sqlite3.Connection, *, reextract: bool = False, progress: Callable[[str], None] | None = None
    ) -> RebuildReport:
        snap = self._read_snapshot(conn, reextract=reextract, progress=progress)
        result = self.compute(*snap, progress=progress)
        return self._write(conn, snap, result)

    def _read_snapshot(self, conn, *, reextract: bool, progress=None):
        t = time.perf_counter()
        rowids, mat = vstore.load_vectors(conn, self.ctx.memories.embedder.name)  # (n,), (n, d)
        todo = [r for r, _ in gstore.rowid_ids(conn).items()] if reextract else gstore.unassigned_rowids(conn)
        new_mentions: dict[int, dict[int, str]] = {}
        if todo:
            if progress:
                progress(f"extracting entities of {len(todo)} memories")
            for chunk in range(0, len(todo), 2000):
                mems = mstore.get_by_rowids(conn, todo[chunk : chunk + 2000])
                for r, m in mems.items():
                    new_mentions[r] = {e: kind for e, (kind, _) in self.entities.of(conn, m.content).items()}
        mentions = gstore.all_mentions(conn)
        if reextract:
            mentions = {}
        for r, d in new_mentions.items():
            mentions[r] = list(d)
        texts_n = mstore.count(conn)
        return rowids, mat, mentions, new_mentions, reextract, texts_n, time.perf_counter() - t

    def compute(self, rowids, mat, mentions, new_mentions, reextract, texts_n, read_s, progress=None):
        """kNN links and Leiden communities of a snapshot; no lock, no database."""
        p = self.ctx.params
        t0 = time.perf_counter()
        if progress:
            progress(f"kNN over {len(rowids)} memories")
        knn = knn_edges(mat, k=p.k, threshold=p.threshold) if len(rowids) else None
        t1 = time.perf_counter()
        ids = [int(r) for r in rowids.tolist()]
        if knn is not None and len(knn):
            src, dst, w = knn.src, knn.dst, knn.weight
        else:
            src = dst = np.zeros(0, np.int64)
            w = np.zeros(0, np.float32)
        graph = build_memory_graph(ids, src, dst, w, {r: mentions.get(r, ()) for r in ids}, p.graph)
        if progress:
            progress(f"Leiden over {graph.n_nodes} nodes, {graph.n_edges} edges")
        clustering = cluster(graph, p.leiden)
        t2 = time.perf_counter()
        links = [(ids[a], ids[b], float(s)) for a, b, s in zip(src.tolist(), dst.tolist(), w.tolist())]
        return graph, clustering, links, {"read": read_s, "knn": t1 - t0, "leiden": t2 - t1}

    def _write(self, conn, snap, result) -> RebuildReport:
        rowids, _mat, _mentions, new_mentions, reextract, _n, _ = snap
        graph, clustering, links, seconds = result
        t = time.perf_counter()
        with transaction(conn):
            present = set(gstore.rowid_ids(conn))
            membership = {r: c for r, c in clustering.membership.items() if r in present}
            if reextract:
                gstore.clear_all_mentions(conn)
            gstore.add_mentions(conn, [(r, e, kind) for r, d in new_mentions.items() if r in present
                                       for e, kind in d.items()])
            gstore.replace_links(conn, [(a, b, s) for a, b, s in links if a in present and b in present])
            gstore.replace_communities(conn, membership)
            late = sorted(present - set(membership))  # written while we computed (background)
            if late:
                self._assign_late(conn, late)
            self.labeller.relabel(conn, None)
            gstore.state_set(conn, "changes", "0")
            gstore.state_set(conn, "rebuilt_size", str(len(present)))
            gstore.state_set(conn, "rebuilt_at", repr(self.ctx.clock()))
            gstore.state_set(conn, "modularity", repr(clustering.modularity))
        seconds["write"] = time.perf_counter() - t
        seconds["total"] = sum(seconds.values())
        self.ctx.changed()
        rep = RebuildReport(len(membership), len(links), graph.n_edges, clustering.n_communities,
                            clustering.modularity, seconds)
        self.last = rep
        log.info("graph rebuilt: %s", rep.to_dict())
        return rep

    def _assign_late(self, conn: sqlite3.Connection, rowids: list[int]) -> None:
        """Memories written during a background rebuild: link and assign them like new ones."""
        mems = mstore.get_by_rowids(conn, rowids)
        rs, vecs = [], []
        for r in rowids:
            v = self.ctx.memories.index.vector(r)
            if r in mems and v is not None:
                rs.append(r)
                vecs.append(v)
        if rs:
            self.linker.add(conn, [mems[r] for r in rs], np.stack(vecs))
