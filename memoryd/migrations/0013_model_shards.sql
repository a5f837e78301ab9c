-- Issue 20, the exact path (docs/editing.md, "Exact unlearning: sharded adapters"). A model
-- adapted with `memoryd adapt --shards K` is base + the sum of K LoRA adapters, adapter k
-- trained from the base on shard k's memories only. An erasure edits the served model with
-- STAMP at once (model_edit_jobs), and records a retrain job here: the affected shards'
-- adapters are retrained from the base without the erased memories, the model is re-summed
-- and promoted, and the STAMP-edited weights are shredded. No memory text in these tables.

-- One row per shard of a sharded model. `model_path` is the served model's directory, which
-- stays the same across the versions (adapted, STAMP-edited, retrained) that live there.
CREATE TABLE model_shards (
    model_path TEXT NOT NULL,
    shard INTEGER NOT NULL,
    k INTEGER NOT NULL,                      -- shards in all
    base TEXT NOT NULL,                      -- the base checkpoint every adapter starts from
    adapter_path TEXT NOT NULL,              -- this shard's LoRA adapter directory
    config TEXT NOT NULL DEFAULT '{}',       -- JSON: the adaptation settings (to retrain alike)
    n_memories INTEGER NOT NULL,
    trained_at REAL NOT NULL,
    seconds REAL NOT NULL,                   -- training time of this adapter
    PRIMARY KEY (model_path, shard)
);

-- Which shard absorbed which memory (deleted with the memory by the erasure's transaction).
CREATE TABLE model_shard_members (
    model_path TEXT NOT NULL,
    memory_id TEXT NOT NULL,
    shard INTEGER NOT NULL,
    PRIMARY KEY (model_path, memory_id)
);
CREATE INDEX model_shard_members_memory ON model_shard_members(memory_id);

-- Durable retrain jobs: recorded in the delete transaction, run in the background after the
-- STAMP edit (or by `memoryd models resume`), closed with the figures the receipt shows.
CREATE TABLE model_retrain_jobs (
    id TEXT PRIMARY KEY,                     -- ULID
    model_path TEXT NOT NULL,
    shards TEXT NOT NULL,                    -- JSON list of the shard numbers to retrain
    n_memories INTEGER NOT NULL,             -- erased memories these shards held
    request_id TEXT,                         -- the erasure request (set right after the commit)
    created_at REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    finished_at REAL,
    report TEXT NOT NULL DEFAULT '{}'        -- JSON: seconds per shard, new version, outcome
);
CREATE INDEX model_retrain_jobs_state ON model_retrain_jobs(state);
CREATE INDEX model_retrain_jobs_request ON model_retrain_jobs(request_id);
