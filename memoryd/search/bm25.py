"""In-RAM BM25 over memory texts (BM25+: Okapi BM25 k1=1.2, b=0.75, with Lv & Zhai's
lower bound delta=1 on a matching term's weight).

Why not FTS5's `ORDER BY rank`: it scores every document that matches any query term,
and natural-language queries share common terms with a large part of the store (84 ms
per query at 100k memories here). This index keeps postings as compact arrays per term
and scores a query with one `np.bincount` over the postings of its terms (~1 ms at 100k).
FTS5 stays the durable full-text index (triggers keep it exact; erasure and subject
matching use it); this is a derived, rebuildable accelerator.

Erased words do not linger in RAM: a term whose document frequency falls to zero is
dropped from the vocabulary, and dead postings are compacted away.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import unicodedata
from array import array
from collections import Counter
from dataclasses import dataclass

import numpy as np
import snowballstemmer

__all__ = ["BM25Index", "BM25Params", "tokenize", "STOP_WORDS"]

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)  # letters/digits; '_' '-' '.' split, like unicode61
STOP_WORDS = frozenset(
    "a an and are as at be but by can do does for from had has have how i if in into is it its"
    " me my no not of on or our so than that the their them then there these they this to us"
    " was we were what when where which who why will with would you your s".split()
)
MAX_TOKEN = 64


_stemmer = snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=1 << 17)
def _stem(token: str) -> str:
    return _stemmer.stemWord(token) if token.isalpha() else token  # identifiers and numbers stay as written


def tokenize(text: str, stem: bool = True) -> list[str]:
    """Lower-cased, accent-folded words without stop words, Snowball-stemmed ("went to
    the paintings" and "painting" share ``paint``). Stemming measured on LoCoMo dev: BM25
    alone hit@5 0.533 -> 0.580, hybrid 0.590 -> 0.611 (docs/benchmarks.md)."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    words = [t for t in _TOKEN.findall(text) if len(t) <= MAX_TOKEN and t not in STOP_WORDS]
    return [_stem(t) for t in words] if stem else words


@dataclass(frozen=True)
class BM25Params:
    k1: float = 1.2
    b: float = 0.75
    stem: bool = True  # False: plain unicode61-like words, as FTS5 indexes them
    # BM25+ (Lv & Zhai, CIKM 2011): a matching term adds at least delta x idf, however long
    # the memory, so length normalisation cannot push a long memory that holds the answer
    # below short ones that merely share a word ("Caroline: Thanks!"). delta=1 is the
    # paper's default, not tuned here. Measured (docs/benchmarks.md): LoCoMo dev hybrid
    # MRR@10 0.485 -> 0.522, dev-notes hybrid R@5 0.972 -> 0.980; 0 gives plain BM25.
    delta: float = 1.0


class BM25Index:
    def __init__(self, params: BM25Params = BM25Params()):
        self.p = params
        self.lock = threading.RLock()
        self._vocab: dict[str, int] = {}
        self._terms: list[str | None] = []  # term id -> term (None once dropped)
        self._df: list[int] = []
        self._post_docs: list[array] = []  # term id -> doc positions (int32)
        self._post_tf: list[array] = []  # term id -> term frequency (float32)
        self._free_terms: list[int] = []
        # per document (position d, append-only until compaction)
        self._rowid = array("q")
        self._len = array("i")
        self._ns = array("i")
        self._alive = bytearray()
        self._terms_start = array("q", [0])
        self._doc_terms = array("i")
        self._doc_tf = array("f")
        self._pos: dict[int, int] = {}
        self._ns_codes: dict[str, int] = {}
        self._n_alive = 0
        self._total_len = 0

    def __len__(self) -> int:
        return self._n_alive

    def __contains__(self, rowid: int) -> bool:
        return int(rowid) in self._pos

    def vocabulary_size(self) -> int:
        return len(self._vocab)

    def has_term(self, term: str) -> bool:
        return term in self._vocab

    def _term_id(self, term: str) -> int:
        tid = self._vocab.get(term)
        if tid is None:
            if self._free_terms:
                tid = self._free_terms.pop()
                self._df[tid] = 0
                self._terms[tid] = term
            else:
                tid = len(self._df)
                self._df.append(0)
                self._terms.append(term)
                self._post_docs.append(array("i"))
                self._post_tf.append(array("f"))
            self._vocab[term] = tid
        return tid

    def add(self, rowids, texts, namespaces) -> None:
        with self.lock:
            for rowid, text, ns in zip(rowids, texts, namespaces):
                rowid = int(rowid)
                if rowid in self._pos:
                    continue
                counts = Counter(tokenize(text, self.p.stem))
                d = len(self._rowid)
                self._rowid.append(rowid)
                length = sum(counts.values())
                self._len.append(length)
                code = self._ns_codes.setdefault(ns, len(self._ns_codes))
                self._ns.append(code)
                self._alive.append(1)
                for term, tf in counts.items():
                    tid = self._term_id(term)
                    self._df[tid] += 1
                    self._post_docs[tid].append(d)
                    self._post_tf[tid].append(tf)
                    self._doc_terms.append(tid)
                    self._doc_tf.append(tf)
                self._terms_start.append(len(self._doc_terms))
                self._pos[rowid] = d
                self._n_alive += 1
                self._total_len += length

    def remove(self, rowids) -> int:
        removed = 0
        with self.lock:
            for rowid in rowids:
                d = self._pos.pop(int(rowid), None)
                if d is None:
                    continue
                self._alive[d] = 0
                self._n_alive -= 1
                self._total_len -= self._len[d]
                for i in range(self._terms_start[d], self._terms_start[d + 1]):
                    tid = self._doc_terms[i]
                    self._df[tid] -= 1
                    if self._df[tid] == 0:  # last document with this word: forget the word
                        self._drop_term(tid)
                removed += 1
            if len(self._rowid) > 1024 and self._n_alive < 0.7 * len(self._rowid):
                self._compact()
        return removed

    def _drop_term(self, tid: int) -> None:
        term = self._terms[tid]
        if term is not None:
            del self._vocab[term]
            self._terms[tid] = None
        self._post_docs[tid] = array("i")
        self._post_tf[tid] = array("f")
        self._free_terms.append(tid)

    def _compact(self) -> None:
        """Rebuild postings from live documents only (dead postings carry no text, but
        they cost time and memory)."""
        old = (self._rowid, self._len, self._ns, self._alive, self._terms_start, self._doc_terms, self._doc_tf)
        rowid, length, ns, alive, start, terms, tfs = old
        self._rowid, self._len, self._ns = array("q"), array("i"), array("i")
        self._alive, self._terms_start = bytearray(), array("q", [0])
        self._doc_terms, self._doc_tf = array("i"), array("f")
        self._post_docs = [array("i") for _ in self._df]
        self._post_tf = [array("f") for _ in self._df]
        self._pos = {}
        for d in range(len(rowid)):
            if not alive[d]:
                continue
            nd = len(self._rowid)
            self._rowid.append(rowid[d])
            self._len.append(length[d])
            self._ns.append(ns[d])
            self._alive.append(1)
            for i in range(start[d], start[d + 1]):
                tid, tf = terms[i], tfs[i]
                self._post_docs[tid].append(nd)
                self._post_tf[tid].append(tf)
                self._doc_terms.append(tid)
                self._doc_tf.append(tf)
            self._terms_start.append(len(self._doc_terms))
            self._pos[rowid[d]] = nd

    # ---- search --------------------------------------------------------------------------
    def namespace_mask(self, namespaces, exclude=()) -> np.ndarray | None:
        ns = np.frombuffer(self._ns, dtype=np.int32) if len(self._ns) else np.zeros(0, np.int32)
        mask = None
        if namespaces is not None:
            codes = [self._ns_codes[n] for n in namespaces if n in self._ns_codes]
            mask = np.isin(ns, np.asarray(codes, dtype=np.int32))
        if exclude:
            codes = [self._ns_codes[n] for n in exclude if n in self._ns_codes]
            if codes:
                keep = ~np.isin(ns, np.asarray(codes, dtype=np.int32))
                mask = keep if mask is None else (mask & keep)
        return mask

    def rowid_mask(self, allowed_rowids) -> np.ndarray:
        r = np.frombuffer(self._rowid, dtype=np.int64) if len(self._rowid) else np.zeros(0, np.int64)
        return np.isin(r, np.asarray(list(allowed_rowids), dtype=np.int64))

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (rowid, bm25 score), best first; higher is better."""
        with self.lock:
            n_docs = len(self._rowid)
            if self._n_alive == 0 or k <= 0:
                return []
            tids = {self._vocab[t] for t in tokenize(query, self.p.stem) if t in self._vocab}
            if not tids:
                return []
            avgdl = self._total_len / self._n_alive if self._n_alive else 1.0
            lens = np.frombuffer(self._len, dtype=np.int32)
            k1, b, delta = self.p.k1, self.p.b, self.p.delta
            docs_l, w_l = [], []
            for tid in tids:
                df = self._df[tid]
                docs = np.frombuffer(self._post_docs[tid], dtype=np.int32)  # (df_with_dead,)
                tf = np.frombuffer(self._post_tf[tid], dtype=np.float32)
                idf = math.log(1.0 + (self._n_alive - df + 0.5) / (df + 0.5))
                norm = k1 * (1.0 - b + b * lens[docs] / avgdl)
                docs_l.append(docs)
                w_l.append(idf * (tf * (k1 + 1.0) / (tf + norm) + delta))
            scores = np.bincount(np.concatenate(docs_l), weights=np.concatenate(w_l), minlength=n_docs)
            del docs_l, w_l  # release buffer exports before anyone appends
            alive = np.frombuffer(bytes(self._alive), dtype=np.uint8).astype(bool)
            ok = alive if mask is None else (alive & mask)
            scores = np.where(ok, scores, 0.0)
            nz = int(np.count_nonzero(scores))
            if nz == 0:
                return []
            k = min(k, nz)
            part = np.argpartition(-scores, k - 1)[:k] if k < n_docs else np.arange(n_docs)
            part = part[np.argsort(-scores[part], kind="stable")]
            rowids = self._rowid
            return [(int(rowids[d]), float(scores[d])) for d in part if scores[d] > 0]
