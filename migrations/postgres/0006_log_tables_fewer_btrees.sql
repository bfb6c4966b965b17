-- SQLite's 0006 rebuilds tlog_leaves (idx becomes the rowid) and tlog_nodes (WITHOUT ROWID) so that
-- each append touches fewer B-trees; on PostgreSQL a primary key is already the table's one index, and
-- nothing changes. This file keeps the two directories numbered in step.
COMMENT ON TABLE tlog_nodes IS 'the hash of every complete subtree: (level, idx) covers leaves [idx * 2^level, (idx + 1) * 2^level)';
