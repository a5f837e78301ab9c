from __future__ import annotations

from memoryd.graph.labels import community_terms, label_communities, texts_by_community, tokenize

DB = [
    "postgres vacuum tuning for the orders table",
    "postgres index bloat on orders",
    "postgres replication lag alert",
]
FRONT = [
    "react component rerenders on every keystroke",
    "react hooks and memoised component state",
    "css grid layout for the react dashboard",
]


def test_labels_pick_distinctive_terms() -> None:
    labels = label_communities({0: DB, 1: FRONT}, top_n=2)
    assert labels[0].split(", ")[0] == "postgres"
    assert labels[1].split(", ")[0] == "react"
    assert "postgres" not in labels[1] and "react" not in labels[0]


def test_removing_a_member_removes_its_unique_word() -> None:
    docs = [*DB, "zanzibar zanzibar zanzibar migration notes"]
    before = community_terms({0: docs, 1: FRONT}, top_n=50)[0]
    assert "zanzibar" in {t for t, _ in before}
    after_labels = label_communities({0: DB, 1: FRONT}, top_n=50)
    assert "zanzibar" not in after_labels[0]
    assert all("zanzibar" not in lab for lab in after_labels.values())


def test_term_shared_by_every_community_ranks_below_distinctive_ones() -> None:
    terms = community_terms({0: [t + " deploy" for t in DB], 1: [t + " deploy" for t in FRONT]}, top_n=3)
    assert "deploy" not in {t for t, _ in terms[0]}


def test_stopwords_and_short_tokens_are_ignored() -> None:
    got = tokenize("The API is on an old box, use knn_edges and os.path")
    assert got == ["api", "box", "knn_edges", "os.path"]


def test_empty_and_singleton_communities() -> None:
    labels = label_communities({0: [], 1: ["the and of"], 2: ["kafka consumer lag"]})
    assert labels[0] == "" and labels[1] == ""
    assert labels[2] == "consumer, kafka, lag"


def test_texts_by_community_groups_current_members_only() -> None:
    grouped = texts_by_community({"a": 0, "b": 0, "c": 1, "gone": 1}, {"a": "x", "b": "y", "c": "z"})
    assert grouped == {0: ["x", "y"], 1: ["z"]}
