-- Knowledge graph (docs/graph.md): entity mentions, memory-memory similarity links,
-- Leiden communities with their labels, and which community each memory is in.
--
-- Privacy: no entity text is stored. An entity is named by a keyed 64-bit hash of
-- "kind:key" (the key lives in graph_state, per database); `memoryd graph show` re-extracts
-- the readable form from the memory's own text. The only text here is community labels,
-- recomputed from the current members: a label is blanked by trigger the moment any member
-- leaves, so an erased memory's words never outlive it in a label.
--
-- Everything derived from a memory goes with it (ON DELETE CASCADE); triggers keep the
-- entity mention counts and community sizes exact however a row is deleted.

CREATE TABLE graph_entities (
    id INTEGER PRIMARY KEY,                  -- keyed hash of "kind:key" (signed 64-bit)
    kind TEXT NOT NULL,                      -- memoryd.graph.ENTITY_KINDS
    mentions INTEGER NOT NULL DEFAULT 0      -- memories mentioning it (kept by triggers)
);

CREATE TABLE graph_mentions (
    memory_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    entity_id INTEGER NOT NULL,              -- graph_entities.id (rows kept by the triggers below)
    kind TEXT NOT NULL,
    PRIMARY KEY (memory_rowid, entity_id)
) WITHOUT ROWID;
CREATE INDEX graph_mentions_entity ON graph_mentions(entity_id, memory_rowid);

CREATE TRIGGER graph_mentions_ai AFTER INSERT ON graph_mentions
BEGIN
    INSERT INTO graph_entities(id, kind, mentions) VALUES (NEW.entity_id, NEW.kind, 1)
        ON CONFLICT(id) DO UPDATE SET mentions = mentions + 1;
END;
-- an entity no surviving memory mentions is deleted with its last mention
CREATE TRIGGER graph_mentions_ad AFTER DELETE ON graph_mentions
BEGIN
    UPDATE graph_entities SET mentions = mentions - 1 WHERE id = OLD.entity_id;
    DELETE FROM graph_entities WHERE id = OLD.entity_id AND mentions <= 0;
END;

-- kNN similarity links (cosine >= threshold), undirected: src < dst.
CREATE TABLE graph_links (
    src INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    dst INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    similarity REAL NOT NULL,
    PRIMARY KEY (src, dst),
    CHECK (src < dst)
) WITHOUT ROWID;
CREATE INDEX graph_links_dst ON graph_links(dst, src);

CREATE TABLE graph_communities (
    id INTEGER PRIMARY KEY,                  -- 0 = largest at the last full re-cluster
    size INTEGER NOT NULL DEFAULT 0,         -- members (kept by triggers)
    label TEXT NOT NULL DEFAULT '',          -- most distinctive terms of the current members
    terms TEXT NOT NULL DEFAULT '[]',        -- JSON [[term, score], ...] behind the label
    stale INTEGER NOT NULL DEFAULT 1         -- 1: membership changed since the label was computed
);

CREATE TABLE graph_membership (
    memory_rowid INTEGER PRIMARY KEY REFERENCES memories(rowid) ON DELETE CASCADE,
    community_id INTEGER NOT NULL REFERENCES graph_communities(id)
);
CREATE INDEX graph_membership_community ON graph_membership(community_id);

CREATE TRIGGER graph_membership_ai AFTER INSERT ON graph_membership
BEGIN
    UPDATE graph_communities SET size = size + 1, stale = 1 WHERE id = NEW.community_id;
END;
-- a member leaving blanks the label at once (no word of it may linger); empty communities go
CREATE TRIGGER graph_membership_ad AFTER DELETE ON graph_membership
BEGIN
    UPDATE graph_communities SET size = size - 1, stale = 1, label = '', terms = '[]'
        WHERE id = OLD.community_id;
    DELETE FROM graph_communities WHERE id = OLD.community_id AND size <= 0;
END;
CREATE TRIGGER graph_membership_au AFTER UPDATE OF community_id ON graph_membership
    WHEN OLD.community_id IS NOT NEW.community_id
BEGIN
    UPDATE graph_communities SET size = size + 1, stale = 1 WHERE id = NEW.community_id;
    UPDATE graph_communities SET size = size - 1, stale = 1, label = '', terms = '[]'
        WHERE id = OLD.community_id;
    DELETE FROM graph_communities WHERE id = OLD.community_id AND size <= 0;
END;

-- Bookkeeping: the entity-hash key, the last re-cluster (time, size, modularity), changes since.
CREATE TABLE graph_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO graph_state(key, value) VALUES ('entity_key', lower(hex(randomblob(16))));
