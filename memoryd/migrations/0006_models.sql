-- Model ledger: local causal LMs adapted on memories, which memories each version absorbed,
-- and the STAMP edits that erasures made to them (docs/editing.md). No memory text is ever
-- stored here: memories are referenced by id, with a keyed MAC of their content.

-- One row per model version. A version's weights live in the directory `path`; an erasure
-- writes the edited weights to `staging_path` inside its delete transaction and promotes
-- them to `path` once that transaction committed (the superseded weights are then deleted).
CREATE TABLE model_versions (
    id TEXT PRIMARY KEY,                     -- ULID
    name TEXT NOT NULL,                      -- what the user calls the model
    path TEXT NOT NULL,                      -- absolute directory of the weights
    base TEXT NOT NULL,                      -- the checkpoint it was adapted from (a path)
    parent_id TEXT REFERENCES model_versions(id),  -- the version it was adapted or edited from
    created_at REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'weights_deleted')),
    method TEXT NOT NULL,                    -- 'adapt-full' | 'adapt-lora' | 'stamp'
    metrics TEXT NOT NULL DEFAULT '{}',      -- JSON figures (loss, epochs, edit verification)
    staging_path TEXT                        -- edited weights not yet promoted to `path`
);
CREATE INDEX model_versions_status ON model_versions(status);

-- Which memories a version was trained on (directly or through its parent). Rows of erased
-- memories are deleted by the erasure's own transaction; the edit is recorded instead.
CREATE TABLE model_absorbed (
    version_id TEXT NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    memory_id TEXT NOT NULL,
    content_mac TEXT NOT NULL,               -- HMAC-SHA256(k_ledger, id || content)[:16], hex
    reproduced INTEGER NOT NULL DEFAULT 0,   -- 1: greedy decoding completed every fact after adapting
    PRIMARY KEY (version_id, memory_id)
);
CREATE INDEX model_absorbed_memory ON model_absorbed(memory_id);

-- One row per STAMP edit an erasure made: which version was edited into which, how many
-- memories it removed, and the verification figures (no text, no memory ids).
CREATE TABLE model_edits (
    id TEXT PRIMARY KEY,                     -- ULID
    old_version TEXT NOT NULL REFERENCES model_versions(id),
    new_version TEXT REFERENCES model_versions(id),  -- NULL when the model was withdrawn
    request_id TEXT,                         -- erasure request = receipt id (set after commit)
    created_at REAL NOT NULL,
    n_erased INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('edited', 'withdrawn', 'missing')),
    report TEXT NOT NULL DEFAULT '{}'        -- JSON: ForgetReport figures, or the failure reason
);
CREATE INDEX model_edits_request ON model_edits(request_id);
