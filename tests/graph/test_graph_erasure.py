"""Erasure through the graph: an erased memory's entities, links, membership and label
words are gone, down to the raw bytes of the database files."""

from __future__ import annotations

import re
from pathlib import Path

from memoryd.erasure.hooks import ErasureHook
from memoryd.erasure.models import ErasureRequest
from memoryd.graph import extract_entities
from memoryd.models import NewMemory, Provenance

# The memory to erase, with distinctive entities of every structural kind...
ERASED = ("Grunwaldt Quibbleson moved zq_frobnicator_77 to /opt/quibbleworks/frobnicator.conf; "
          "see https://wiki.quibbleworks.example/frob or ask grunwaldt@quibbleworks.example.")
# ...and one survivor sharing one of them (so that entity must stay).
SURVIVOR = "The nightly zq_frobnicator_77 job compacts the billing ledger before the export."


def raw_bytes(settings) -> bytes:
    db = Path(settings.db_path)
    return b"".join(Path(str(db) + s).read_bytes() for s in ("", "-wal") if Path(str(db) + s).exists())


def erased_only_words(erased: str, survivors: list[str]) -> set[str]:
    alive = {w.lower() for t in survivors for w in re.findall(r"[A-Za-z][A-Za-z0-9_.\-]*", t)}
    return {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9_]*", erased)
            if len(w) >= 5 and w.lower() not in alive and not any(w.lower() in a for a in alive)}


def test_graph_is_an_erasure_hook(fresh):
    assert isinstance(fresh.app.graph, ErasureHook)
    assert fresh.app.graph in fresh.app.erasure.hooks


def test_erasure_leaves_no_entity_link_or_label_trace(fresh):
    app, g = fresh.app, fresh.app.graph
    prov = Provenance(agent_id="tester")
    e = app.memories.remember(NewMemory(ERASED, namespace="notes", provenance=prov)).memory
    s = app.memories.remember(NewMemory(SURVIVOR, namespace="notes", provenance=prov)).memory
    g.rebuild()
    assert s.id in {r.id for r in g.related(e.id, limit=50)}
    own = set(g.show(e.id)["community"]["label"].split(", "))
    assert "frob" in own, own  # a word only the erased memory has is in its community's label
    tokens = g.forensic_tokens([e])
    assert "/opt/quibbleworks/frobnicator.conf" in tokens and "grunwaldt@quibbleworks.example" in tokens
    assert "zq_frobnicator_77" not in tokens  # the survivor mentions it too
    with app.lock:
        entities_before = app.conn.execute("SELECT count(*) FROM graph_entities").fetchone()[0]
        links_before = app.conn.execute("SELECT count(*) FROM graph_links WHERE ? IN (src, dst)", (e.rowid,)).fetchone()[0]

    receipt = app.erasure.execute(ErasureRequest(memory_ids=(e.id,)), confirm=True)
    assert receipt.ok, receipt.body["verification"]
    counts = receipt.body["counts"]
    assert counts["graph.entities"] >= 4 and counts["graph.mentions"] >= 5 and counts["graph.memberships"] == 1
    assert counts["graph.links"] == links_before

    conn = app.conn
    with app.lock:
        assert conn.execute("SELECT count(*) FROM graph_mentions WHERE memory_rowid = ?", (e.rowid,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM graph_links WHERE ? IN (src, dst)", (e.rowid,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM graph_membership WHERE memory_rowid = ?", (e.rowid,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM graph_entities").fetchone()[0] == entities_before - counts["graph.entities"]
        labels = " ".join(r[0] + " " + r[1] for r in conn.execute("SELECT label, terms FROM graph_communities"))
    # the survivor keeps the shared identifier; only the erased memory's words are gone
    shared = next(x for x in extract_entities(SURVIVOR) if x.key == "zq_frobnicator_77")
    assert shared.kind == "code"
    survivors = [m.content for m in app.memories.iter_all()]
    gone = erased_only_words(ERASED, survivors)
    assert {"grunwaldt", "quibbleson", "quibbleworks"} <= gone
    assert not [w for w in gone if w in labels.lower()]
    for c in g.communities(limit=100):  # labels recomputed from surviving members
        terms = {t for t, _ in c.terms} | set(c.label.split(", "))
        assert not (gone | {"frob"}) & terms, c

    raw = raw_bytes(fresh.settings).lower()
    for needle in ["/opt/quibbleworks/frobnicator.conf", "grunwaldt@quibbleworks.example",
                   "wiki.quibbleworks.example", "grunwaldt", "quibbleson", "quibbleworks"]:
        assert needle.encode() not in raw, needle
    assert b"zq_frobnicator_77" in raw  # the survivor's text still has it
