-- A namespace's memories newest first (list --namespace, the web UI's filtered list): without
-- it SQLite read the namespace through UNIQUE(namespace, content_hash) and sorted it whole
-- (778 ms p50 at 100k memories in `bench ui`).
CREATE INDEX memories_ns_created ON memories(namespace, created_at);
