-- Context vectors: a memory written in a session (a conversation turn) embedded together with
-- the memory before it in the same namespace and session. Derived from TWO memories, so the
-- row cascades when either is deleted: erasing a turn also drops the vector of the turn after
-- it, which was computed from the erased text.
CREATE TABLE context_vectors (
    memory_rowid INTEGER PRIMARY KEY REFERENCES memories(rowid) ON DELETE CASCADE,
    context_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL                     -- float32, L2-normalised, little-endian
);
CREATE INDEX context_vectors_source ON context_vectors(context_rowid);
CREATE INDEX memories_session ON memories(namespace, session_id, created_at) WHERE session_id IS NOT NULL;
