-- Trust v2 (docs/trust.md): supersede instead of duplicate. A memory replaced by a newer version
-- stays stored (history, `memoryd show`) but leaves search. The link goes with either memory:
-- deleting or erasing the new version brings the old one back into search.

CREATE TABLE memory_supersedes (
    old_rowid INTEGER PRIMARY KEY REFERENCES memories(rowid) ON DELETE CASCADE,
    new_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    created_at REAL NOT NULL
);
CREATE INDEX memory_supersedes_new ON memory_supersedes(new_rowid);
