"""SQL for sharded models (migration 0013): shards, which shard absorbed which memory, and
the retrain jobs erasures record. Never commits; no memory text."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..db.driver import sqlite3

__all__ = ["ShardRow", "RetrainJobRow", "upsert_shard", "shards_of", "sharded_paths", "insert_members", "members",
           "members_of_memories", "delete_members", "insert_retrain_job", "list_retrain_jobs",
           "assign_retrain_jobs", "finish_retrain_job"]

_IN = 500


@dataclass(frozen=True)
class ShardRow:
    model_path: str
    shard: int
    k: int
    base: str
    adapter_path: str
    config: dict[str, Any]
    n_memories: int
    trained_at: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"shard": self.shard, "k": self.k, "adapter_path": self.adapter_path, "n_memories": self.n_memories,
                "trained_at": self.trained_at, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class RetrainJobRow:
    id: str
    model_path: str
    shards: tuple[int, ...]
    n_memories: int
    request_id: str | None
    created_at: float
    state: str  # pending | done
    finished_at: float | None = None
    report: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "shards": list(self.shards), "n_memories": self.n_memories,
                "request_id": self.request_id, "created_at": self.created_at, "state": self.state,
                "finished_at": self.finished_at, "report": self.report}


_SCOLS = "model_path, shard, k, base, adapter_path, config, n_memories, trained_at, seconds"
_JCOLS = "id, model_path, shards, n_memories, request_id, created_at, state, finished_at, report"


def upsert_shard(conn: sqlite3.Connection, s: ShardRow) -> None:
    conn.execute(f"INSERT OR REPLACE INTO model_shards({_SCOLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (s.model_path, s.shard, s.k, s.base, s.adapter_path, json.dumps(s.config, sort_keys=True),
                  s.n_memories, s.trained_at, s.seconds))


def shards_of(conn: sqlite3.Connection, model_path: str) -> list[ShardRow]:
    return [ShardRow(r[0], int(r[1]), int(r[2]), r[3], r[4], json.loads(r[5] or "{}"), int(r[6]), float(r[7]),
                     float(r[8]))
            for r in conn.execute(f"SELECT {_SCOLS} FROM model_shards WHERE model_path = ? ORDER BY shard",
                                  (model_path,))]


def sharded_paths(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT model_path FROM model_shards ORDER BY model_path")]


def insert_members(conn: sqlite3.Connection, model_path: str, rows: Iterable[tuple[str, int]]) -> None:
    conn.executemany("INSERT OR REPLACE INTO model_shard_members(model_path, memory_id, shard) VALUES (?, ?, ?)",
                     [(model_path, mid, int(s)) for mid, s in rows])


def members(conn: sqlite3.Connection, model_path: str) -> dict[str, int]:
    """memory id -> shard, for one model."""
    return {r[0]: int(r[1]) for r in conn.execute(
        "SELECT memory_id, shard FROM model_shard_members WHERE model_path = ? ORDER BY memory_id", (model_path,))}


def members_of_memories(conn: sqlite3.Connection, memory_ids: Sequence[str]) -> list[tuple[str, str, int]]:
    """(model path, memory id, shard) for the given memories."""
    out: list[tuple[str, str, int]] = []
    ids = list(memory_ids)
    for i in range(0, len(ids), _IN):
        chunk = ids[i : i + _IN]
        out += [(r[0], r[1], int(r[2])) for r in conn.execute(
            f"SELECT model_path, memory_id, shard FROM model_shard_members WHERE memory_id IN "
            f"({','.join('?' * len(chunk))})", chunk)]
    return out


def delete_members(conn: sqlite3.Connection, memory_ids: Sequence[str]) -> int:
    n, ids = 0, list(memory_ids)
    for i in range(0, len(ids), _IN):
        chunk = ids[i : i + _IN]
        n += conn.execute(f"DELETE FROM model_shard_members WHERE memory_id IN ({','.join('?' * len(chunk))})",
                          chunk).rowcount
    return n


def _job(r: Sequence[Any]) -> RetrainJobRow:
    return RetrainJobRow(r[0], r[1], tuple(json.loads(r[2])), int(r[3]), r[4], float(r[5]), r[6],
                         None if r[7] is None else float(r[7]), json.loads(r[8] or "{}"))


def insert_retrain_job(conn: sqlite3.Connection, j: RetrainJobRow) -> None:
    conn.execute(f"INSERT INTO model_retrain_jobs({_JCOLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (j.id, j.model_path, json.dumps(sorted(j.shards)), j.n_memories, j.request_id, j.created_at,
                  j.state, j.finished_at, json.dumps(j.report, sort_keys=True)))


def list_retrain_jobs(conn: sqlite3.Connection, *, state: str | None = None, model_path: str | None = None,
                      request_id: str | None = None) -> list[RetrainJobRow]:
    q, args = f"SELECT {_JCOLS} FROM model_retrain_jobs WHERE 1", []
    for col, val in (("state", state), ("model_path", model_path), ("request_id", request_id)):
        if val is not None:
            q += f" AND {col} = ?"
            args.append(val)
    return [_job(r) for r in conn.execute(q + " ORDER BY created_at, id", args)]


def assign_retrain_jobs(conn: sqlite3.Connection, request_id: str) -> int:
    """Tie the retrain jobs recorded by the last delete transaction to its erasure request."""
    return conn.execute("UPDATE model_retrain_jobs SET request_id = ? WHERE request_id IS NULL",
                        (request_id,)).rowcount


def finish_retrain_job(conn: sqlite3.Connection, job_id: str, report: dict[str, Any], now: float) -> None:
    conn.execute("UPDATE model_retrain_jobs SET state = 'done', finished_at = ?, report = ? WHERE id = ?",
                 (now, json.dumps(report, sort_keys=True), job_id))
