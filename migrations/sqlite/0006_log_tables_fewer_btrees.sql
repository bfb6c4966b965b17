-- The transparency log's two append-only tables, rebuilt so that each append touches fewer B-trees
-- (SQLite only; PostgreSQL's tables are unchanged, so migrations/postgres has no 0006).
--
-- On SQLite every B-tree a transaction touches costs at least one whole page written to the WAL at
-- commit, and issuance appends its leaf in its own transaction (src/audit/sealer.rs). In 0004,
-- `idx BIGINT PRIMARY KEY` is not SQLite's rowid alias (only `INTEGER PRIMARY KEY` is), so
-- tlog_leaves kept a rowid table beside a separate index on idx, and tlog_nodes a rowid table beside
-- the index of its (level, idx) key. Now idx is the rowid and the nodes are stored in their key's
-- order (WITHOUT ROWID): two B-trees fewer per append, nothing else changes (columns, order, the
-- uniqueness of idx and (level, idx), the append-only triggers).
--
-- DROP TABLE fires no DELETE triggers, and it drops the old tables' triggers and indexes with them.

CREATE TABLE tlog_leaves_0006 (
    idx          INTEGER PRIMARY KEY,
    licence_id   TEXT NOT NULL,
    leaf         BLOB NOT NULL,
    sequenced_at BIGINT NOT NULL
);
INSERT INTO tlog_leaves_0006 (idx, licence_id, leaf, sequenced_at)
    SELECT idx, licence_id, leaf, sequenced_at FROM tlog_leaves ORDER BY idx;
DROP TABLE tlog_leaves;
ALTER TABLE tlog_leaves_0006 RENAME TO tlog_leaves;
CREATE INDEX tlog_leaves_licence ON tlog_leaves (licence_id);
CREATE TRIGGER tlog_leaves_no_update BEFORE UPDATE ON tlog_leaves
BEGIN SELECT RAISE(ABORT, 'tlog_leaves is append-only'); END;
CREATE TRIGGER tlog_leaves_no_delete BEFORE DELETE ON tlog_leaves
BEGIN SELECT RAISE(ABORT, 'tlog_leaves is append-only'); END;

CREATE TABLE tlog_nodes_0006 (
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
INSERT INTO tlog_nodes_0006 (level, idx, hash)
    SELECT level, idx, hash FROM tlog_nodes ORDER BY level, idx;
DROP TABLE tlog_nodes;
ALTER TABLE tlog_nodes_0006 RENAME TO tlog_nodes;
CREATE TRIGGER tlog_nodes_no_update BEFORE UPDATE ON tlog_nodes
BEGIN SELECT RAISE(ABORT, 'tlog_nodes is append-only'); END;
CREATE TRIGGER tlog_nodes_no_delete BEFORE DELETE ON tlog_nodes
BEGIN SELECT RAISE(ABORT, 'tlog_nodes is append-only'); END;
