"""After an erasure: which files memoryd owns, what to look for in them, and the checks
recorded in the receipt (raw-byte scan, fts5vocab residue, FTS integrity, rows left).

A collaborator held by :class:`memoryd.services.erasure.ErasureService` as `verifier` (and
lent to the audit log for re-scans). Its state: the settings (where the database and the
exports directory are) and the service's hook list (files and strings derived stores
report). The byte scans themselves are pure (memoryd.erasure.forensic); SQL is in
memoryd.store.erasure."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ...config import Settings
from ...db.driver import sqlite3
from ...errors import StoreCorrupt
from ...erasure import exports as xfiles
from ...erasure.forensic import Needle, build_needles, scan_files, scan_hashed_ids
from ...erasure.hooks import call_optional
from ...store import erasure as estore
from ...store import erasure_fields as fstore
from ...store import memories as mstore

__all__ = ["ErasureVerifier"]


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)


class ErasureVerifier:
    def __init__(self, settings: Settings, hooks: Sequence[object]):
        self.settings = settings
        self.hooks = hooks  # the service's hook list (shared: read at each verification)

    def owned_files(self, export_entries: Sequence[tuple[str, str]]) -> list[tuple[str, Path]]:
        """(role, path) of every file memoryd wrote that could hold memory content: the
        database and its -wal/-shm/-journal, copies next to it, exports, hooks' files."""
        db = Path(self.settings.db_path)
        files: list[tuple[str, Path]] = []
        for suffix, label in (("", "db"), ("-wal", "db-wal"), ("-shm", "db-shm"), ("-journal", "db-journal")):
            files.append((label, Path(str(db) + suffix)))
        if db.parent.is_dir():  # backups and copies next to the database: memoryd.db.bak, ...
            for p in sorted(db.parent.iterdir()):
                if p.is_file() and p.name.startswith(db.name) and p.name != db.name and not p.name.endswith(
                        ("-wal", "-shm", "-journal")):
                    files.append(("db-copy", p))
        exp = self.settings.exports_dir
        if exp.is_dir():
            files += [("exports-dir", p) for p in sorted(exp.rglob("*")) if p.is_file()]
        for path, fmt in export_entries:
            p = Path(path)
            role = xfiles.FILE_ROLES.get(fmt, "export")
            if p.is_dir():  # a registered directory (a model's): every file in it
                files += [(role, q) for q in sorted(p.rglob("*"))]
            else:
                files += [(role, p), (f"{role}-tmp", xfiles.tmp_path_for(p))]
        for h in self.hooks:
            for p in call_optional(h, "forensic_paths", default=()):
                p = Path(p)
                files += [(f"hook:{h.name}", q) for q in (sorted(p.rglob("*")) if p.is_dir() else [p])]
        seen, out = set(), []
        for label, p in files:
            try:
                key = p.resolve()
            except OSError:
                continue
            if key not in seen and p.is_file():
                seen.add(key)
                out.append((label, p))
        return out

    def verify(
        self,
        mc: sqlite3.Connection,
        files: Sequence[tuple[str, Path]],
        is_erased: Callable[[str], bool],
        needles: list[Needle] | None,
        erased_ids: list[str] | None,
        vocab: dict[str, Any] | None,
        timings: dict[str, float],
    ) -> dict[str, Any]:
        """The receipt's `verification` section. `needles`/`erased_ids`/`vocab` are None when
        the erased text is no longer in RAM (resumed after the delete committed): the files are
        then searched for the hashed ids instead."""
        v: dict[str, Any] = {}

        def scan() -> dict[str, Any]:  # grep runs in a subprocess while SQLite checks the index

            t0 = time.perf_counter()
            rep = scan_files(files, needles).to_dict() if needles is not None else scan_hashed_ids(files, is_erased)
            timings["verify_scan_ms"] = _ms(t0)
            return rep

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="memoryd-scan") as pool:
            pending = pool.submit(scan)
            t = time.perf_counter()
            self._verify_index(mc, v, is_erased, erased_ids, vocab)
            timings["verify_index_ms"] = _ms(t)
            rep = pending.result()
        if needles is not None:
            v["content_scan"] = rep
            v["id_scan"] = {"method": "ids in clear (in RAM)", "hits": sum(
                f.get("by_kind", {}).get("id", 0) for f in rep["per_file"])}
        else:
            v["content_scan"] = {"performed": False, "reason": "the request was resumed after the rows were deleted: "
                                 "the erased text was no longer in memory; ids were checked by hash"}
            v["id_scan"] = {"method": "hashed ULIDs", **rep}
        v["ok"] = (v["content_scan"].get("hits", 0) == 0 and v["id_scan"].get("hits", 0) == 0
                   and v["fts_vocab"].get("residue", 0) == 0 and v["fts_integrity"] == "ok"
                   and v["rows_remaining"] == 0)
        return v

    @staticmethod
    def _verify_index(mc, v, is_erased, erased_ids, vocab) -> None:
        """fts5vocab residue, FTS integrity-check, rows left in `memories`."""
        if vocab is not None:
            residue = 0
            after = estore.vocab_doc_counts(mc, vocab["exclusive"])
            for term in after:  # still indexed: fine only if every document listed is alive
                docs = estore.term_docs(mc, term)
                if len(mstore.get_by_rowids(mc, docs)) < len(docs):
                    residue += 1
            v["fts_vocab"] = {"performed": True, "erased_terms": vocab["terms"],
                              "exclusive_terms": len(vocab["exclusive"]), "still_indexed": len(after),
                              "residue": residue}
        else:
            v["fts_vocab"] = {"performed": False}
        try:
            mstore.fts_integrity_check(mc)
            v["fts_integrity"] = "ok"
        except (sqlite3.DatabaseError, StoreCorrupt) as exc:
            v["fts_integrity"] = f"failed: {exc}"
        if erased_ids is not None:
            v["rows_remaining"] = estore.ids_present(mc, erased_ids)
        else:
            v["rows_remaining"] = sum(1 for _, i in estore.iter_ids(mc) if is_erased(i))

    @staticmethod
    def needles_for(mc: sqlite3.Connection, texts: list[str], ids: list[str], derived: list[str],
                    fields: Sequence[str] = ()) -> list[Needle]:
        """Needles for the forensic scan, judged against what survives (call it after the
        delete committed): a word any surviving memory, tag, agent, the schema or the audit
        log contains is not distinctive; a metadata value (`fields`) a surviving memory still
        holds (in its text or any of its metadata) is not searched."""
        ambient = estore.ambient_words(mc)
        cache: dict[str, bool] = {}

        def is_common(word: str) -> bool:
            w = word.lower()
            if w not in cache:
                cache[w] = w in ambient or estore.fts_token_present(mc, w)
            return cache[w]

        def content_survives(text: str) -> bool:
            rows = mstore.get_by_rowids(mc, estore.fts_phrase_rowids(mc, text))
            return any(text in m.content for m in rows.values())

        kept: list[str] = []
        if fields:
            blob = "\n".join([v for vals in fstore.distinct_values(mc).values() for v in vals] + estore.live_names(mc))
            kept = [v for v in dict.fromkeys(fields)
                    if v not in blob and v.lower() not in ambient and not content_survives(v)]
        return build_needles(texts, ids, is_common=is_common, content_survives=content_survives, derived=derived,
                             fields=kept)
