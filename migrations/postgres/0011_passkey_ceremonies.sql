-- Passkeys (issue 19, point 3). Keep migrations/sqlite and migrations/postgres in step.
--
-- A WebAuthn ceremony between its two requests: the options went to the browser, the state that
-- checks its answer waits here (any node may receive the answer). The browser holds the secret;
-- it is stored hashed, lives 5 minutes and is taken once. `purpose`: `register` (a passkey being
-- added to `account_id`), `assert` (a passkey of `account_id` as a second factor or a fresh
-- check) or `discover` (a passwordless sign-in: the account is learnt from the passkey).
CREATE TABLE passkey_ceremonies (
    secret_hash BYTEA PRIMARY KEY,
    account_id  TEXT REFERENCES accounts (id),
    purpose     TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
