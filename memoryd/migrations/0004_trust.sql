-- Provenance trust (docs/trust.md): the append-only evidence log sealed by a keyed hash
-- chain, its sealed head (count + last MAC: truncation is detected), when each agent was
-- first seen, and the writes waiting out probation. Nothing here holds memory content or a
-- raw memory id: memories are named by a keyed pseudonym (`mref`, 32 hex characters), so an
-- erased memory cannot be linked to the evidence that outlives it.

CREATE TABLE trust_evidence (
    seq INTEGER PRIMARY KEY,                 -- 1-based position in the chain
    subject_type TEXT NOT NULL CHECK (subject_type IN ('agent', 'memory')),
    subject_id TEXT NOT NULL,                -- agent id, or memory mref
    kind TEXT NOT NULL,                      -- memoryd.trust.EvidenceKind
    created_at REAL NOT NULL,
    record TEXT NOT NULL,                    -- canonical JSON of the Evidence record: what the MAC covers
    mac TEXT NOT NULL                        -- HMAC-SHA256(k, prev_mac || record), hex
);
CREATE INDEX trust_evidence_subject ON trust_evidence(subject_type, subject_id);

-- Append-only: code never updates or deletes evidence (erasure neither: there is no content).
CREATE TRIGGER trust_evidence_no_update BEFORE UPDATE ON trust_evidence
BEGIN
    SELECT RAISE(ABORT, 'trust_evidence is append-only');
END;
CREATE TRIGGER trust_evidence_no_delete BEFORE DELETE ON trust_evidence
BEGIN
    SELECT RAISE(ABORT, 'trust_evidence is append-only');
END;

-- The chain head, sealed with its own key: cutting records off the end is detected.
CREATE TABLE trust_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    count INTEGER NOT NULL,
    head TEXT NOT NULL,                      -- MAC of the last record
    seal TEXT NOT NULL                       -- HMAC over (count, head)
);

-- When trust first saw an agent (its first write or feedback); agents registered in
-- `agents` count from their registration if that is earlier. Drives the age ramp and cohorts.
CREATE TABLE trust_agents (
    agent_id TEXT PRIMARY KEY,
    first_seen REAL NOT NULL
);

-- One row per memory written: when (server clock, not the writer's created_at) and whether it
-- passed probation. Goes with its memory.
CREATE TABLE trust_writes (
    memory_rowid INTEGER PRIMARY KEY REFERENCES memories(rowid) ON DELETE CASCADE,
    author_id TEXT NOT NULL,
    written_at REAL NOT NULL,
    probation TEXT NOT NULL DEFAULT 'pending' CHECK (probation IN ('pending', 'accepted', 'rejected'))
);
CREATE INDEX trust_writes_author ON trust_writes(author_id, written_at);
CREATE INDEX trust_writes_pending ON trust_writes(written_at) WHERE probation = 'pending';

-- Small bookkeeping values (feedback cursor, last probation sweep).
CREATE TABLE trust_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Memories written before trust existed: their authors are known since their first memory,
-- and each memory goes through probation once.
INSERT INTO trust_agents(agent_id, first_seen)
    SELECT agent_id, MIN(created_at) FROM memories GROUP BY agent_id;
INSERT INTO trust_writes(memory_rowid, author_id, written_at)
    SELECT rowid, agent_id, created_at FROM memories;
