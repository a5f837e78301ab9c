-- Core store: memories, their tags, the FTS5 index over them, and their embeddings.

CREATE TABLE memories (
    rowid INTEGER PRIMARY KEY,               -- integer key shared with FTS and vectors
    id TEXT NOT NULL UNIQUE,                 -- ULID, the public id
    content TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'note',
    tags TEXT NOT NULL DEFAULT '[]',         -- JSON array, mirrored in memory_tags
    namespace TEXT NOT NULL DEFAULT 'default',
    importance REAL NOT NULL DEFAULT 0.5,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    content_hash TEXT NOT NULL,              -- sha256 of the content
    agent_id TEXT NOT NULL DEFAULT 'cli',
    session_id TEXT,
    tool TEXT,
    source TEXT,
    UNIQUE (namespace, content_hash)
);
CREATE INDEX memories_created ON memories(created_at);
CREATE INDEX memories_agent ON memories(agent_id);

CREATE TABLE memory_tags (
    tag TEXT NOT NULL,
    memory_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    PRIMARY KEY (tag, memory_rowid)
) WITHOUT ROWID;
CREATE INDEX memory_tags_rowid ON memory_tags(memory_rowid);

-- External-content FTS5 table. Deletes MUST use the 'delete' command with the old
-- values: a plain DELETE on an external-content table leaves the terms indexed.
CREATE VIRTUAL TABLE memories_fts USING fts5(
    content,
    content='memories',
    content_rowid='rowid',
    tokenize='porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER memories_fts_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, content) VALUES (new.rowid, new.content);
END;

CREATE TRIGGER memories_fts_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;

CREATE TRIGGER memories_fts_au AFTER UPDATE OF content ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
    INSERT INTO memories_fts(rowid, content) VALUES (new.rowid, new.content);
END;

CREATE TABLE embeddings (
    memory_rowid INTEGER PRIMARY KEY REFERENCES memories(rowid) ON DELETE CASCADE,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL                     -- float32, L2-normalised, little-endian
);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
