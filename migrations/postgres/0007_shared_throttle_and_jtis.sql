-- State that every node sharing the database must see, which lived in one process's memory before
-- (issue 17): the login throttle's counts and the spent private_key_jwt assertion ids. Keep
-- migrations/sqlite and migrations/postgres in step.

-- Login attempts per account (or per unknown identifier) and per client address, in fixed windows.
-- An attempt is reserved here (one upsert) before its password is hashed, so concurrent guesses,
-- at one node or many, never get more than the limit evaluated. `key` is a blind index
-- (HMAC-SHA256 under the data key) of `a:<account id or identifier>` or `ip:<address>`: no
-- identifier or address in clear. Rows whose window has ended are deleted by the upkeep.
CREATE TABLE login_attempts (
    key TEXT PRIMARY KEY,
    attempts BIGINT NOT NULL,
    window_ends BIGINT NOT NULL
);

CREATE INDEX login_attempts_window_ends ON login_attempts (window_ends);

-- The `jti` of every private_key_jwt client assertion accepted (RFC 7523 §3: single use), kept
-- until the assertion's own `exp`; a replay finds its row, at any node and after a restart.
CREATE TABLE assertion_jtis (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE INDEX assertion_jtis_expires_at ON assertion_jtis (expires_at);
