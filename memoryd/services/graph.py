"""The knowledge graph in the running system: entities, kNN links and Leiden communities
kept in step with every write, graph-expanded recall, and erasure of everything derived.

    listener (MemoryService.listeners, inside the write transaction):
        after_insert   extract entities (stored as keyed hashes), link each new memory to its
                       k nearest neighbours (RAM vector index + the rest of its batch), put it
                       in the community it links to most; count the change, and re-cluster
                       when enough has changed (inline while small, else a background thread);
                       labels of the communities it touched go stale, recomputed when read
        before_delete  nothing to do in SQL (mentions, links, membership cascade; triggers
                       drop orphaned entities and blank the labels of affected communities)
    erasure hook: ``erase_derived`` / ``forensic_tokens`` (name "graph")
    rebuild:  rebuild() (on demand), rebuild_in_background()
    labels:   refresh_labels() (stale ones, before they are read): graph_labels.GraphLabels
    reads:    the recall expander, related, communities, community, show, stats, export,
              plot: :class:`memoryd.services.graph_views.GraphViews`, mixed in here

Pure computation lives in :mod:`memoryd.graph`; SQL in :mod:`memoryd.store.graph`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..db.driver import sqlite3
from ..config import Settings
from ..db import transaction
from ..errors import ValidationError
from ..graph import (
    GraphConfig,
    LeidenConfig,
    ScoredExpandConfig,
    assign_community,
    build_memory_graph,
    cluster,
    extract_entities,
    knn_edges,
    link_weights_for_new,
    neighbours_of,
)
from ..graph.knn import batch_neighbours
from ..models import Memory
from ..store import erasure as estore
from ..store import graph as gstore
from ..store import memories as mstore
from ..store import vectors as vstore
from .graph_labels import GraphLabels, TermDF
from .graph_views import CommunityInfo, GraphViews, RelatedMemory
from .memories import MemoryService

__all__ = ["GraphService", "GraphParams", "CommunityInfo", "RelatedMemory", "RebuildReport"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GraphParams:
    """How the graph is built, kept up to date and used at recall."""

    k: int = 10  # similarity neighbours per memory
    threshold: float = 0.5  # minimum cosine for a similarity link (all-MiniLM-L6-v2: related notes ~0.5+)
    graph: GraphConfig = GraphConfig()  # entity weights and hub cap in the clustered graph
    leiden: LeidenConfig = LeidenConfig()
    label_terms: int = 3
    expand: ScoredExpandConfig = ScoredExpandConfig()
    entity_link_cap: int = 50  # expansion ignores entities mentioned by more memories (hubs)
    expand_similarity_weight: float = 0.3  # similarity links count less at recall: the vector leg saw them
    auto_rebuild: bool = True  # re-cluster when enough has changed since the last time
    rebuild_ratio: float = 0.5  # ... i.e. changes >= ratio * size at the last re-cluster
    rebuild_min_changes: int = 20  # ... and at least this many
    inline_rebuild_below: int = 2000  # smaller graphs re-cluster inside the write (milliseconds)


@dataclass(frozen=True)
class RebuildReport:
    memories: int
    links: int
    edges: int
    communities: int
    modularity: float
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"memories": self.memories, "links": self.links, "edges": self.edges,
                "communities": self.communities, "modularity": round(self.modularity, 4),
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


_GEMM_BATCH = 8  # batches at least this large score against the whole index in one matrix product


class GraphService(GraphViews, GraphLabels):
    name = "graph"  # erasure hook name

    def __init__(
        self,
        conn: sqlite3.Connection,
        memories: MemoryService,
        *,
        lock: threading.RLock,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        params: GraphParams = GraphParams(),
    ):
        self.conn = conn
        self.memories = memories
        self.lock = lock
        self.settings = settings
        self.clock = clock
        self.params = params
        self._key: bytes | None = None
        self._terms = TermDF()
        self._thread: threading.Thread | None = None
        self._rebuild_again = False
        self._view_cache: dict[tuple, list[CommunityInfo]] = {}
        self._version = 0  # bumped on every graph change made through this service
        self.last_insert_ms: float | None = None  # graph work of the last after_insert (bench)
        self.last_rebuild: RebuildReport | None = None

    def install(self) -> GraphService:
        """Hook into the memory service: write listener and recall expander."""
        if self not in self.memories.listeners:
            self.memories.listeners.append(self)
        self.memories.expander = self
        return self

    # ---- entity ids ---------------------------------------------------------------------------
    def _entity_key(self, conn: sqlite3.Connection) -> bytes:
        if self._key is None:
            hexkey = gstore.state_get(conn, "entity_key")
            if hexkey is None:  # restored from a copy without it: any fresh key works after a rebuild
                raise ValidationError("graph_state has no entity_key: run `memoryd graph rebuild --reextract`")
            self._key = bytes.fromhex(hexkey)
        return self._key

    def _eid(self, key: bytes, kind: str, value_key: str) -> int:
        d = hashlib.blake2b(f"{kind}:{value_key}".encode("utf-8"), key=key, digest_size=8).digest()
        return int.from_bytes(d, "big", signed=True)

    def _entities(self, conn: sqlite3.Connection, text: str) -> dict[int, tuple[str, str]]:
        """entity id -> (kind, readable value) of one text."""
        key = self._entity_key(conn)
        return {self._eid(key, e.kind, e.key): (e.kind, e.value) for e in extract_entities(text)}

    # ---- listener -----------------------------------------------------------------------------
    def after_insert(self, conn: sqlite3.Connection, memories: list[Memory], vectors: np.ndarray) -> None:
        if not memories:
            return
        t0 = time.perf_counter()
        with self.lock:
            self._add(conn, memories, np.asarray(vectors, dtype=np.float32))
            self._terms.add((m.content for m in memories), +1)
            self._version += 1
            self.last_insert_ms = (time.perf_counter() - t0) * 1000
            self._count_changes(conn, len(memories))

    def before_delete(self, conn: sqlite3.Connection, memories: list[Memory]) -> None:
        # mentions, links and membership cascade with the rows; triggers drop orphaned
        # entities and blank the labels of the communities they leave
        with self.lock:
            self._terms.add((m.content for m in memories), -1)
            self._version += 1
            self._view_cache.clear()
            self._count_changes(conn, len(memories), maybe_rebuild=False)

    def _add(self, conn: sqlite3.Connection, mems: list[Memory], vecs: np.ndarray) -> None:
        """Entities, kNN links and a community for each new memory (one batch)."""
        p = self.params
        rowids = [m.rowid for m in mems]
        ents = [self._entities(conn, m.content) for m in mems]
        all_eids = list({e for d in ents for e in d})
        members = gstore.entity_members(conn, all_eids, max_members=p.graph.max_entity_members)
        gstore.add_mentions(conn, [(r, e, kind) for r, d in zip(rowids, ents) for e, (kind, _) in d.items()])

        neighbours = self._neighbours(rowids, vecs)  # per new memory: [(rowid, cosine)]
        gstore.add_links(conn, [(r, n, s) for r, nb in zip(rowids, neighbours) for n, s in nb])

        known = gstore.communities_of(conn, list({n for nb in neighbours for n, _ in nb}))
        assigned: list[tuple[int, int]] = []
        for r, d, nb in zip(rowids, ents, neighbours):
            weights = link_weights_for_new(nb, d.keys(), members, p.graph)
            c = assign_community(weights, known, new_id=-1)
            if c == -1:
                c = gstore.new_community(conn)
            known[r] = c
            assigned.append((r, c))
            for e in d:  # batch mates see each other's entities
                members.setdefault(e, []).append(r)
        gstore.set_membership(conn, assigned)

    def _neighbours(self, rowids: list[int], vecs: np.ndarray) -> list[list[tuple[int, float]]]:
        """Each new memory's k nearest (cosine >= threshold) among stored memories (RAM
        index) and the rest of its batch, best first."""
        p = self.params
        index = self.memories.index  # stored memories; this batch is added after commit
        out: list[list[tuple[int, float]]] = []
        batch = vecs @ vecs.T if len(rowids) > 1 else None  # (b, b)
        ix_rowids, mat = index.arrays()
        stored: list[dict[int, float]]
        if len(rowids) >= _GEMM_BATCH and len(ix_rowids):
            stored = batch_neighbours(ix_rowids, mat, vecs, p.k + 1, p.threshold)
        elif len(ix_rowids) < index.exact_below:  # exact scan, single-threaded (see knn.neighbours_of)
            stored = []
            for i in range(len(rowids)):
                nb = neighbours_of(vecs[i], mat, p.k + 1, p.threshold)
                stored.append({int(ix_rowids[j]): float(w) for j, w in zip(nb.index.tolist(), nb.weight.tolist())})
        else:  # large store, a few memories: the index's binary shortlist + exact re-score, as recall does
            stored = [{h.rowid: h.score for h in index.search(vecs[i], p.k + 1)} for i in range(len(rowids))]
        for i, r in enumerate(rowids):
            cand = {n: s for n, s in stored[i].items() if n != r}
            if batch is not None:
                row = batch[i].copy()
                row[i] = -np.inf
                for j in np.argsort(-row)[: p.k]:
                    cand[rowids[int(j)]] = max(cand.get(rowids[int(j)], -1.0), float(row[j]))
            best = sorted(((n, s) for n, s in cand.items() if s >= p.threshold), key=lambda x: (-x[1], x[0]))
            out.append(best[: p.k])
        return out

    def _count_changes(self, conn: sqlite3.Connection, n: int, maybe_rebuild: bool = True) -> None:
        changes = int(gstore.state_get(conn, "changes") or 0) + n
        gstore.state_set(conn, "changes", str(changes))
        if not (maybe_rebuild and self.params.auto_rebuild):
            return
        size = int(gstore.state_get(conn, "rebuilt_size") or 0)
        if changes < max(self.params.rebuild_min_changes, self.params.rebuild_ratio * size):
            return
        total = mstore.count(conn)
        if total <= self.params.inline_rebuild_below:
            self._rebuild_locked(conn)
        else:
            self.rebuild_in_background()

    # ---- full rebuild -------------------------------------------------------------------------
    def rebuild(self, *, reextract: bool = False, progress: Callable[[str], None] | None = None) -> RebuildReport:
        """Recompute entities (missing ones, or all with ``reextract``), kNN links, Leiden
        communities and every label; one write transaction at the end."""
        with self.lock:
            return self._rebuild_locked(self.conn, reextract=reextract, progress=progress)

    def rebuild_in_background(self) -> threading.Thread | None:
        """Start a rebuild on a daemon thread (one at a time; a request while one runs
        schedules another). Returns the thread, or None if one is already running."""
        with self.lock:
            if self._thread is not None and self._thread.is_alive():
                self._rebuild_again = True
                return None
            self._thread = threading.Thread(target=self._background, name="memoryd-graph-rebuild", daemon=True)
            self._thread.start()
            return self._thread

    def wait_for_rebuild(self, timeout: float | None = None) -> None:
        t = self._thread
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
            with self.lock:
                if not self._rebuild_again:
                    return
                self._rebuild_again = False

    def _rebuild_snapshot(self) -> None:
        """Background rebuild: read under the lock, compute without it (writes go on),
        then write under the lock; memories written meanwhile are re-linked and assigned."""
        with self.lock:
            snap = self._read_snapshot(self.conn, reextract=False)
        result = self._compute(*snap)
        with self.lock:
            self._write_rebuild(self.conn, snap, result)

    def _rebuild_locked(
        self, conn: sqlite3.Connection, *, reextract: bool = False, progress: Callable[[str], None] | None = None
    ) -> RebuildReport:
        snap = self._read_snapshot(conn, reextract=reextract, progress=progress)
        result = self._compute(*snap, progress=progress)
        return self._write_rebuild(conn, snap, result)

    def _read_snapshot(self, conn, *, reextract: bool, progress=None):
        t = time.perf_counter()
        rowids, mat = vstore.load_vectors(conn, self.memories.embedder.name)  # (n,), (n, d)
        todo = [r for r, _ in gstore.rowid_ids(conn).items()] if reextract else gstore.unassigned_rowids(conn)
        new_mentions: dict[int, dict[int, str]] = {}
        if todo:
            if progress:
                progress(f"extracting entities of {len(todo)} memories")
            for chunk in range(0, len(todo), 2000):
                mems = mstore.get_by_rowids(conn, todo[chunk : chunk + 2000])
                for r, m in mems.items():
                    new_mentions[r] = {e: kind for e, (kind, _) in self._entities(conn, m.content).items()}
        mentions = gstore.all_mentions(conn)
        if reextract:
            mentions = {}
        for r, d in new_mentions.items():
            mentions[r] = list(d)
        texts_n = mstore.count(conn)
        return rowids, mat, mentions, new_mentions, reextract, texts_n, time.perf_counter() - t

    def _compute(self, rowids, mat, mentions, new_mentions, reextract, texts_n, read_s, progress=None):
        p = self.params
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

    def _write_rebuild(self, conn, snap, result) -> RebuildReport:
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
            self._relabel(conn, None)
            gstore.state_set(conn, "changes", "0")
            gstore.state_set(conn, "rebuilt_size", str(len(present)))
            gstore.state_set(conn, "rebuilt_at", repr(self.clock()))
            gstore.state_set(conn, "modularity", repr(clustering.modularity))
        seconds["write"] = time.perf_counter() - t
        seconds["total"] = sum(seconds.values())
        self._version += 1
        self._view_cache.clear()
        rep = RebuildReport(len(membership), len(links), graph.n_edges, clustering.n_communities,
                            clustering.modularity, seconds)
        self.last_rebuild = rep
        log.info("graph rebuilt: %s", rep.to_dict())
        return rep

    def _assign_late(self, conn: sqlite3.Connection, rowids: list[int]) -> None:
        """Memories written during a background rebuild: link and assign them like new ones."""
        mems = mstore.get_by_rowids(conn, rowids)
        rs, vecs = [], []
        for r in rowids:
            v = self.memories.index.vector(r)
            if r in mems and v is not None:
                rs.append(r)
                vecs.append(v)
        if rs:
            self._add(conn, [mems[r] for r in rs], np.stack(vecs))

    # ---- erasure hook -------------------------------------------------------------------------
    def erase_derived(self, conn: sqlite3.Connection, memories: Sequence[Memory]) -> Mapping[str, int]:
        """Inside the erasure's delete transaction: drop the memories' mentions (and the
        entities only they mention), links and membership, then relabel the communities
        they were in from the surviving members. Idempotent."""
        rowids = [m.rowid for m in memories]
        with self.lock:
            before = gstore.counts(conn)
            affected = sorted(set(gstore.communities_of(conn, rowids).values()))
            removed = gstore.clear_memories(conn, rowids)
            after = gstore.counts(conn)
            alive = [row.id for row in gstore.list_communities(conn, ids=affected)] if affected else []
            relabelled = self._relabel(conn, alive) if alive else 0
            self._terms.drop()  # counted the erased texts; recounted from the survivors when next needed
            self._version += 1
            self._view_cache.clear()
        return {"entities": before["entities"] - after["entities"], "mentions": removed["mentions"],
                "links": removed["links"], "memberships": removed["memberships"],
                "communities_relabelled": relabelled}

    def forensic_tokens(self, memories: Sequence[Memory]) -> list[str]:
        """Entity strings of the erased memories that no other memory mentions (and no
        surviving text contains): after the erasure they must be nowhere in the files."""
        erased = {m.rowid for m in memories}
        with self.lock:
            found: dict[int, set[str]] = {}
            for m in memories:
                for e, (_kind, value) in self._entities(self.conn, m.content).items():
                    found.setdefault(e, set()).update({value, value.lower()})
            others = gstore.entity_members(self.conn, list(found))
            out: list[str] = []
            for e, values in found.items():
                if set(others.get(e, ())) - erased:
                    continue
                for v in sorted(values):
                    rows = mstore.get_by_rowids(self.conn, [r for r in estore.fts_phrase_rowids(self.conn, v)
                                                            if r not in erased])
                    if not any(v.lower() in m.content.lower() for m in rows.values()):
                        out.append(v)
        return sorted(set(out))
