-- Issue 15, erasure without gaps.
-- 1. Every file memoryd writes that can hold personal data is registered, not only JSONL and
--    subject exports: graph exports (JSON, GraphML: memory ids and community labels made of
--    member memories' words), graph plots (PNG with labels) and model directories. SQLite
--    cannot alter a CHECK constraint, so the registry is rebuilt with the wider list.
CREATE TABLE export_files_new (
    path TEXT PRIMARY KEY,                   -- absolute path
    format TEXT NOT NULL CHECK (format IN ('jsonl', 'subject-json', 'graph-json', 'graphml', 'plot',
                                           'model-dir')),
    created_at REAL NOT NULL
);
INSERT INTO export_files_new(path, format, created_at) SELECT path, format, created_at FROM export_files;
DROP TABLE export_files;
ALTER TABLE export_files_new RENAME TO export_files;

-- 2. Deletes made before this version left the terms of deleted memories in older FTS5
--    segments (FTS5 'delete' only adds tombstones): merge the index once, so the store starts
--    clean. From now on every delete path cleans up after itself (store/memories.py).
INSERT INTO memories_fts(memories_fts) VALUES ('optimize');
