-- GDPR erasure (Art. 17): crash-safe pending requests, the keyed hash-chained audit log of
-- erasure receipts, the registry of export files that erasure must rewrite, and two
-- fts5vocab views used by the forensic check. Nothing here ever holds erased content or a
-- data subject's identifier in clear: only keyed, salted hashes (see docs/erasure.md).

-- A request is recorded here (state 'pending') before anything is deleted, turned to
-- 'deleted' by the transaction that deletes the memories, and removed by the transaction
-- that appends its receipt. Whatever is left here on open is resumed.
CREATE TABLE erasure_requests (
    id TEXT PRIMARY KEY,                     -- request id (ULID) = receipt id
    created_at REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'deleted')),
    salt TEXT NOT NULL,                      -- hex, per request; salts every hash below
    scope TEXT NOT NULL,                     -- JSON: selector kinds + keyed salted hashes
    hashed_ids TEXT NOT NULL,                -- JSON array: keyed salted hashes of memory ids
    counts TEXT NOT NULL DEFAULT '{}',       -- JSON, written by the delete transaction
    options TEXT NOT NULL DEFAULT '{}'       -- JSON: cleanup options (vacuum policy)
);

-- Append-only, keyed hash chain (memoryd.trust.chain): mac = HMAC(k, prev_mac || record).
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,                 -- 1-based position in the chain
    kind TEXT NOT NULL,                      -- 'erasure_receipt'
    ref_id TEXT NOT NULL UNIQUE,             -- receipt id
    created_at REAL NOT NULL,
    body TEXT NOT NULL,                      -- canonical JSON of the receipt
    prev_mac TEXT NOT NULL,
    mac TEXT NOT NULL
);

-- Files memoryd wrote that hold memory content (`memoryd export --out`, subject exports):
-- every erasure rewrites them without the erased memories (or shreds them).
CREATE TABLE export_files (
    path TEXT PRIMARY KEY,                   -- absolute path
    format TEXT NOT NULL CHECK (format IN ('jsonl', 'subject-json')),
    created_at REAL NOT NULL
);

-- Read-only views of the full-text index's vocabulary (no storage of their own).
CREATE VIRTUAL TABLE memories_fts_vocab USING fts5vocab(memories_fts, 'row');
CREATE VIRTUAL TABLE memories_fts_instances USING fts5vocab(memories_fts, 'instance');
