-- The audit log and the transparency log. The PostgreSQL twin of migrations/sqlite/0004 (BYTEA for BYTEA,
-- BIGSERIAL for AUTOINCREMENT, one trigger function).
--
-- Both are written in two steps so that concurrent transactions (and several nodes) never wait on one
-- another for a chain head: a transaction that changes state appends its audit event and, for issuance
-- and status changes, its log leaf to a queue, in the same transaction as the change; the sealer
-- (src/audit/sealer.rs, one at a time cluster-wide) then chains the events and sequences the leaves into
-- the Merkle tree in batches, and signs a checkpoint. Everything but the two queues is append-only: the
-- triggers at the end refuse UPDATE and DELETE.

-- One audit event: who did what to which object, when; `detail` is a JSON object with codes and
-- identifiers, never personal data (no names, no ID numbers, no tokens).
CREATE TABLE audit_events (
    id     BIGSERIAL PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    detail TEXT NOT NULL
);

-- Events written but not yet chained (a work queue: rows are deleted once chained), filled by a
-- trigger so that recording an event is one INSERT.
CREATE TABLE audit_pending (
    event_id BIGINT PRIMARY KEY
);
CREATE FUNCTION tongban_audit_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_pending (event_id) VALUES (NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_events_queue AFTER INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION tongban_audit_queue();

-- The hash chain: position `pos` (0, 1, 2, ...) holds one event; `hash` = SHA-256(prev_hash ||
-- the event's canonical bytes), `prev_hash` of position 0 is 32 zero bytes.
CREATE TABLE audit_chain (
    pos       BIGINT PRIMARY KEY,
    event_id  BIGINT NOT NULL UNIQUE,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);

-- Leaves appended but not yet sequenced (a work queue: rows are deleted once sequenced).
CREATE TABLE tlog_pending (
    id         BIGSERIAL PRIMARY KEY,
    licence_id TEXT NOT NULL,
    leaf       BYTEA NOT NULL
);

-- The transparency log's leaves in order: `leaf` is the canonical JSON (hashes and codes only).
CREATE TABLE tlog_leaves (
    idx          BIGINT PRIMARY KEY,
    licence_id   TEXT NOT NULL,
    leaf         BYTEA NOT NULL,
    sequenced_at BIGINT NOT NULL
);
CREATE INDEX tlog_leaves_licence ON tlog_leaves (licence_id);

-- The hash of every complete subtree: (level, idx) covers leaves [idx * 2^level, (idx + 1) * 2^level).
CREATE TABLE tlog_nodes (
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Signed checkpoints (C2SP tlog-checkpoint notes), one per sequencing batch that grew the tree.
CREATE TABLE tlog_checkpoints (
    size BIGINT PRIMARY KEY,
    root BYTEA NOT NULL,
    at   BIGINT NOT NULL,
    note TEXT NOT NULL
);

CREATE FUNCTION tongban_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION tongban_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION tongban_append_only();
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION tongban_append_only();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION tongban_append_only();
CREATE TRIGGER tlog_leaves_append_only BEFORE UPDATE OR DELETE ON tlog_leaves
    FOR EACH ROW EXECUTE FUNCTION tongban_append_only();
CREATE TRIGGER tlog_leaves_no_truncate BEFORE TRUNCATE ON tlog_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION tongban_append_only();
CREATE TRIGGER tlog_nodes_append_only BEFORE UPDATE OR DELETE ON tlog_nodes
    FOR EACH ROW EXECUTE FUNCTION tongban_append_only();
CREATE TRIGGER tlog_nodes_no_truncate BEFORE TRUNCATE ON tlog_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION tongban_append_only();
CREATE TRIGGER tlog_checkpoints_append_only BEFORE UPDATE OR DELETE ON tlog_checkpoints
    FOR EACH ROW EXECUTE FUNCTION tongban_append_only();
CREATE TRIGGER tlog_checkpoints_no_truncate BEFORE TRUNCATE ON tlog_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION tongban_append_only();
