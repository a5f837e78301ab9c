"""services.maintenance: a bulk load of precomputed vectors and a WAL checkpoint, on a real file."""

from __future__ import annotations

import numpy as np

from memoryd.models import NewMemory, Provenance, SearchFilters
from memoryd.services.maintenance import checkpoint, load_with_vectors
from memoryd.services.memories import SearchOptions


def test_loaded_memories_are_found_by_text_and_by_their_own_vectors(app):
    texts = ["the ledger export runs nightly", "kestrel gateway pins httpx 0.27", "quartz cache evicts after 90 s"]
    app.memories.embedder_ready()
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((3, app.embedder.dim)).astype(np.float32)  # (3, dim)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    prov = Provenance(agent_id="bench")
    assert load_with_vectors(app, [NewMemory(t, provenance=prov) for t in texts], vecs, app.embedder.name) == 3
    assert app.stats().memories == 3
    by_id = {m.content: m.id for m in app.memories.iter_all()}
    for i, t in enumerate(texts):
        hit = app.memories.search("unrelated words", SearchFilters(), SearchOptions(limit=1, legs=("vector",),
                                                                                    query_vector=vecs[i]))
        assert hit[0].memory.id == by_id[t]
    assert app.memories.search("kestrel", opts=SearchOptions(limit=1, legs=("bm25",)))[0].memory.id == by_id[texts[1]]


def test_checkpoint_empties_the_wal(app):
    app.memories.remember(NewMemory("a row so the WAL has frames"))
    wal = app.settings.db_path.with_name(app.settings.db_path.name + "-wal")
    assert wal.stat().st_size > 0
    assert checkpoint(app) is True
    assert wal.stat().st_size == 0
