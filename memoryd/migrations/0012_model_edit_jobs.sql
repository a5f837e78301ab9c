-- Issue 15, model edits outside the database write lock (docs/erasure.md, "Model edits").
-- An erasure that removes memories a local model absorbed no longer runs STAMP inside its
-- delete transaction: it records one durable edit job per affected model version here and
-- commits. A background thread (or `memoryd models resume`, or the next start) runs the edit
-- without holding the database lock, verifies it, promotes it, and only then is the erasure's
-- receipt sealed. The old version is 'superseded' (not loadable) while its job is open.
--
-- No memory text here: STAMP needs the erased texts (its forget prompts and answers are
-- derived from them), and those live in the job file `file` under <home>/jobs/, written
-- before the delete commits and shredded when the job is done.
CREATE TABLE model_edit_jobs (
    id TEXT PRIMARY KEY,                     -- ULID
    version_id TEXT NOT NULL REFERENCES model_versions(id),  -- the version to edit
    request_id TEXT,                         -- the erasure request (set right after the commit)
    created_at REAL NOT NULL,
    n_memories INTEGER NOT NULL,             -- erased memories this job removes from the model
    file TEXT NOT NULL,                      -- job file holding the texts STAMP needs
    state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    edit_id TEXT,                            -- the model_edits row that closed it
    finished_at REAL
);
CREATE INDEX model_edit_jobs_state ON model_edit_jobs(state);
CREATE INDEX model_edit_jobs_request ON model_edit_jobs(request_id);
