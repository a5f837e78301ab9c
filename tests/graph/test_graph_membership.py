"""GraphService.membership: the stored communities by memory id (what `bench graph` scores)."""

from __future__ import annotations

from memoryd.graph import score_communities


def test_membership_places_every_memory_in_a_stored_community(store):
    store.app.graph.rebuild()
    member_of = store.app.graph.membership()
    assert set(member_of) == set(store.ids.values())  # every memory, by its id
    assert len(set(member_of.values())) == store.app.graph.stats()["communities"]
    corpus_topics = {i: t for i, t in store.topics.items() if not t.startswith(("chain", "private"))}
    assert score_communities(member_of, corpus_topics).purity >= 0.55  # the known topics show through
