-- Second factors (issue 19, point 3). Keep migrations/sqlite and migrations/postgres in step.
--
-- An account's factors: `totp` (RFC 6238; `secret` is the key sealed with the data key, AES-GCM under
-- the context `factor:<id>`; `last_step` the last time step accepted, so a code is never accepted
-- twice) and `passkey` (WebAuthn; `credential` the stored credential, `credential_id` its id). A
-- factor is usable once `confirmed_at` is set: a TOTP key when the person typed a code from it.
CREATE TABLE account_factors (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    kind          TEXT NOT NULL,
    label         TEXT NOT NULL,
    secret        BLOB,
    credential    TEXT,
    credential_id BLOB UNIQUE,
    last_step     BIGINT,
    created_at    BIGINT NOT NULL,
    confirmed_at  BIGINT,
    last_used_at  BIGINT
);
CREATE INDEX account_factors_account ON account_factors (account_id);

-- Ten single-use recovery codes per account, given when the first factor is confirmed; stored only
-- as SHA-256 hashes (each code has 80 random bits).
CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    code_hash  BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (account_id, code_hash)
);

-- A password checked, a second factor awaited: the browser holds the secret (a short-lived cookie),
-- stored here hashed. Taken once.
CREATE TABLE factor_challenges (
    secret_hash BLOB PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    amr         TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
