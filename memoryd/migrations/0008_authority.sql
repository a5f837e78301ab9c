-- Authority and index coherence (issue 13).
--
-- 1. Memory rowids are never reused. The in-RAM indexes of every process key vectors and
--    BM25 postings by rowid; a reused rowid would let a stale entry (another namespace,
--    other words) answer for a new row. `memory_rowid_seq.last` is the highest rowid ever
--    given out (what AUTOINCREMENT keeps in sqlite_sequence, without rebuilding a table
--    that eight others reference); store.memories.insert_memory takes last + 1, and the
--    trigger keeps `last` right whoever inserts.
CREATE TABLE memory_rowid_seq (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL,
    vectors_rewritten INTEGER NOT NULL DEFAULT 0  -- bumped when a vector is written below `last`
);
INSERT INTO memory_rowid_seq(id, last) SELECT 1, coalesce(max(rowid), 0) FROM memories;

CREATE TRIGGER memories_rowid_seq_ai AFTER INSERT ON memories BEGIN
    UPDATE memory_rowid_seq SET last = new.rowid WHERE id = 1 AND last < new.rowid;
END;

-- A vector written for an older row (reindex under another model, a bulk insert chunk)
-- cannot be found by "rows above my highest rowid": other processes then compare their
-- index with the table once, instead of counting the embeddings on every change.
CREATE TRIGGER embeddings_rewritten_ai AFTER INSERT ON embeddings
WHEN new.memory_rowid < (SELECT last FROM memory_rowid_seq WHERE id = 1) BEGIN
    UPDATE memory_rowid_seq SET vectors_rewritten = vectors_rewritten + 1 WHERE id = 1;
END;

-- 2. Deletions, in order, so that every process drops deleted rows from its indexes
--    before it answers (MemoryService._sync_indexes reads what is newer than it saw).
--    Only integers: no id, no text of the deleted memory. Old entries are pruned; a
--    process that fell behind the pruned part reloads its indexes.
CREATE TABLE memory_deletions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_rowid INTEGER NOT NULL
);

CREATE TRIGGER memories_deletions_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memory_deletions(memory_rowid) VALUES (old.rowid);
END;

-- 3. Scopes per agent token: read, write, forget (its own memories), erase (GDPR
--    erasure across what it can read). Comma-separated; new agents get the default.
ALTER TABLE agents ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read,write,forget';
