from memoryd.db.driver import sqlite3  # the same SQLite library as memoryd (see its docstring)

from corpus_helpers import make_corpus
from memoryd.search.bm25 import BM25Index, BM25Params, tokenize


def test_tokenize_splits_like_unicode61_and_drops_stop_words():
    assert tokenize("The Café's ORION_BILLING-url, v2.3!", stem=False) == ["cafe", "orion", "billing", "url", "v2", "3"]


def test_tokenize_stems_words_but_not_identifiers():
    assert tokenize("The Café's ORION_BILLING-url, v2.3!") == ["cafe", "orion", "bill", "url", "v2", "3"]
    assert tokenize("we painted two paintings") == ["paint", "two", "paint"]


def test_stemmed_index_finds_other_word_forms():
    idx = BM25Index()
    idx.add([1, 2], ["Melanie painted a sunrise by the lake", "the deploy runs nightly"], ["x", "x"])
    assert [r for r, _ in idx.search("when did she paint?", 5)] == [1]
    plain = BM25Index(BM25Params(stem=False))
    plain.add([1, 2], ["Melanie painted a sunrise by the lake", "the deploy runs nightly"], ["x", "x"])
    assert plain.search("when did she paint?", 5) == []


def test_ranking_agrees_with_fts5_bm25():
    corpus = make_corpus(800, 60, seed=3)
    idx = BM25Index(BM25Params(stem=False, delta=0.0))  # FTS5: unicode61 does not stem; plain BM25
    idx.add(range(1, 801), [d.text for d in corpus.docs], ["ns"] * 800)
    c = sqlite3.connect(":memory:")
    c.execute("CREATE VIRTUAL TABLE f USING fts5(body, tokenize='unicode61 remove_diacritics 2')")
    c.executemany("INSERT INTO f(rowid, body) VALUES (?, ?)", [(i + 1, d.text) for i, d in enumerate(corpus.docs)])
    agree = 0
    for q in corpus.queries:
        terms = sorted(set(tokenize(q.text, stem=False)))
        match = " OR ".join(f'"{t}"' for t in terms)
        fts = [r[0] for r in c.execute("SELECT rowid FROM f WHERE f MATCH ? ORDER BY rank LIMIT 1", (match,))]
        ours = [r for r, _ in idx.search(q.text, 1)]
        agree += fts == ours
    assert agree >= 0.9 * len(corpus.queries)  # same formula; ties may order differently


def test_bm25_plus_keeps_a_long_memory_that_holds_the_word_above_short_near_misses():
    # A long turn that holds the answer's rare word once, against short turns that share only
    # the speaker's name with the question: plain BM25's length normalisation buries the long
    # one; BM25+'s lower bound (delta x idf per matching term) does not.
    filler = " ".join(f"word{i}" for i in range(120))
    docs = [f"Caroline: {filler} adoption agency {filler}"] + [f"Caroline: thanks {i}" for i in range(40)]
    docs += [f"Melanie: note {i}" for i in range(40)]
    rowids = list(range(1, len(docs) + 1))
    plus, plain = BM25Index(), BM25Index(BM25Params(delta=0.0))
    for ix in (plus, plain):
        ix.add(rowids, docs, ["x"] * len(docs))
    question = "what did caroline say about the adoption agency"
    assert plus.search(question, 1)[0][0] == 1
    assert plain.search(question, 5)[0][0] != 1  # the case BM25+ exists for


def test_remove_forgets_words_and_compacts():
    idx = BM25Index()
    texts = [f"shared words document number {i}" for i in range(2000)] + ["zanzibar secret canary"]
    idx.add(range(1, 2002), texts, ["a"] * 2001)
    assert idx.search("zanzibar", 5)[0][0] == 2001
    assert idx.remove([2001]) == 1
    assert not idx.has_term("zanzibar") and not idx.has_term("canary")
    assert idx.search("zanzibar canary", 5) == []
    idx.remove(range(1, 1000))  # triggers compaction (< 70% alive)
    assert len(idx) == 1001
    hits = idx.search("document number 1500", 3)
    assert hits[0][0] == 1501
    assert idx.namespace_mask(("a",)).sum() == 1001


def test_masks_restrict_results():
    idx = BM25Index()
    idx.add([1, 2, 3], ["apple pie", "apple tart", "apple cake"], ["x", "y", "x"])
    assert {r for r, _ in idx.search("apple", 10, idx.namespace_mask(("x",)))} == {1, 3}
    assert {r for r, _ in idx.search("apple", 10, idx.namespace_mask(None, ("x",)))} == {2}
    assert {r for r, _ in idx.search("apple", 10, idx.rowid_mask([2, 3]))} == {2, 3}
