-- The holder's access log and expiring shares (the "annotated copy"). The PostgreSQL twin of migrations/sqlite/0003 (BYTEA for BLOB).

-- Every read of a holder's licence by someone other than the holder: a portal with the holder's consent,
-- a department under a registered legal basis, or whoever opened a share. Appended, never updated.
-- `holder_index` is the blind index the holder's licences are filed under; no personal data here.
CREATE TABLE licence_access_log (
    id            TEXT PRIMARY KEY,
    holder_index  BYTEA NOT NULL,
    licence_id    TEXT NOT NULL REFERENCES licences (id),
    via           TEXT NOT NULL,
    department_id TEXT,
    client_id     TEXT,
    legal_basis   TEXT,
    purpose       TEXT NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX licence_access_log_holder ON licence_access_log (holder_index, at);

-- A holder's share of one licence with chosen disclosures, for a stated purpose, until it expires or is
-- withdrawn. The link carries a secret; only its hash is stored.
CREATE TABLE licence_shares (
    id           TEXT PRIMARY KEY,
    token_hash   BYTEA NOT NULL UNIQUE,
    licence_id   TEXT NOT NULL REFERENCES licences (id),
    holder_index BYTEA NOT NULL,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    disclose     TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    withdrawn_at BIGINT
);
CREATE INDEX licence_shares_account ON licence_shares (account_id);
