-- Feedback from agents about a memory: it was useful, wrong or harmful.
-- One row per event (append-only); the trust engine turns these into evidence.
-- Rows cascade with their memory, so erasing a memory also erases what was said about it.

CREATE TABLE feedback (
    id INTEGER PRIMARY KEY,
    memory_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    agent_id TEXT NOT NULL,                  -- who gave it (from the token / launch config)
    verdict TEXT NOT NULL CHECK (verdict IN ('useful', 'wrong', 'harmful')),
    note TEXT,                               -- optional short reason
    created_at REAL NOT NULL
);
CREATE INDEX feedback_memory ON feedback(memory_rowid);
CREATE INDEX feedback_created ON feedback(created_at);
