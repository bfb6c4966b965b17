-- Supervision (效能监督): who may see the per-department figures page, and an index for counting
-- audit events by action over a period. Keep migrations/sqlite and migrations/postgres in step.

-- Accounts with the auditor role (granted with `tongban account auditor IDENTIFIER`). Systems read the
-- same figures as JSON with a client_credentials token carrying the `auditor` scope.
CREATE TABLE auditors (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id),
    granted_at BIGINT NOT NULL
);

CREATE INDEX audit_events_action_at ON audit_events (action, at);
