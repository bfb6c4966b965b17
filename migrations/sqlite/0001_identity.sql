-- Identity and the OpenID provider. Conventions shared by both backends (keep migrations/postgres in step):
-- * times are BIGINT seconds since the Unix epoch (portable across SQLite and PostgreSQL through sqlx's Any
--   driver, which has no common date type);
-- * flags are nullable timestamps (`disabled_at`, `revoked_at`, `used_at`): when, not just whether;
-- * secrets (session ids, codes, refresh tokens, client secrets) are stored only as SHA-256 hashes;
-- * national identity numbers are stored sealed (AES-256-GCM) with an HMAC blind index for lookups;
-- * `acting_for` is '' (the person themself) or an enterprise id, never NULL, so it can sit in keys.

CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    id_kind          TEXT NOT NULL,
    id_number_sealed BLOB NOT NULL,
    id_number_index  BLOB NOT NULL UNIQUE,
    email            TEXT UNIQUE,
    phone            TEXT UNIQUE,
    password_hash    TEXT NOT NULL,
    loa              BIGINT NOT NULL DEFAULT 1,
    disabled_at      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE enterprises (
    id           TEXT PRIMARY KEY,
    uscc         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    legal_rep_id TEXT NOT NULL REFERENCES accounts (id),
    created_at   BIGINT NOT NULL
);
CREATE INDEX enterprises_legal_rep ON enterprises (legal_rep_id);

CREATE TABLE agent_grants (
    id            TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    agent_id      TEXT NOT NULL REFERENCES accounts (id),
    role          TEXT NOT NULL,
    granted_by    TEXT NOT NULL REFERENCES accounts (id),
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX agent_grants_agent ON agent_grants (agent_id);
CREATE INDEX agent_grants_enterprise ON agent_grants (enterprise_id);

-- A registered portal or department system. The registration is one JSON document (`config`) because it
-- is read whole and cached; only the secret hash is a column of its own.
CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    config      TEXT NOT NULL,
    secret_hash BLOB,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- SSO sessions. `id` is public (the `sid` claim); the cookie carries a separate secret, stored hashed.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    secret_hash BLOB NOT NULL UNIQUE,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    auth_time   BIGINT NOT NULL,
    acr         TEXT NOT NULL,
    amr         TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Which portals hold a session (for back-channel logout), and for whom the person acted there.
CREATE TABLE session_clients (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    client_id  TEXT NOT NULL,
    acting_for TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, client_id, acting_for)
);

-- Authorization requests waiting for login, enterprise choice or consent. Short-lived.
CREATE TABLE auth_requests (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    params     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- A grant: what one authorization (code exchange) created; the family of its refresh tokens.
-- Revoking it ends every token of the family.
CREATE TABLE grants (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    session_id    TEXT,
    acting_for    TEXT NOT NULL,
    offline       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    revoke_reason TEXT
);
CREATE INDEX grants_account ON grants (account_id);
CREATE INDEX grants_session ON grants (session_id);

CREATE TABLE auth_codes (
    code_hash  BLOB PRIMARY KEY,
    grant_id   TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    grant_id   TEXT NOT NULL REFERENCES grants (id),
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

CREATE TABLE consents (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    client_id  TEXT NOT NULL,
    acting_for TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id, acting_for)
);

-- Revoked access-token handles until the tokens they cover have expired: `jti` (one token) or `grant`
-- (every token of a grant). Loaded into memory; introspection and userinfo never query it per request.
CREATE TABLE denylist (
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (kind, value)
);
