-- Agents and their bearer tokens (stored as salted hashes, never in clear).

CREATE TABLE agents (
    id TEXT PRIMARY KEY,                     -- agent name, recorded as provenance
    created_at REAL NOT NULL,
    token_hash TEXT,                         -- scrypt/sha256 hash of the bearer token
    token_salt TEXT,
    disabled INTEGER NOT NULL DEFAULT 0
);

-- A namespace listed here is private: only its owner agent reads or writes it.
CREATE TABLE namespace_owners (
    namespace TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE
);
