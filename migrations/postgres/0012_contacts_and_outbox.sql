-- Verified contact details, password reset and mailed notices (issue 19, point 5). Keep
-- migrations/sqlite and migrations/postgres in step.
--
-- An email address or phone number counts as verified only after the person proved they receive
-- it (a link, a code); until then `email_verified`/`phone_number_verified` are false.
ALTER TABLE accounts ADD COLUMN email_verified_at BIGINT;
ALTER TABLE accounts ADD COLUMN phone_verified_at BIGINT;

-- A secret sent to a contact address: an email verification link (`email`), a phone code
-- (`phone`), a password-reset link (`reset`). Stored hashed; `address` is what it was sent to
-- (verifying it means this address, not whatever the account holds later); single-use
-- (`used_at`), expiring, and a phone code allows a few wrong tries (`attempts`).
CREATE TABLE contact_tokens (
    token_hash BYTEA PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    purpose    TEXT NOT NULL,
    address    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    attempts   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX contact_tokens_account ON contact_tokens (account_id, purpose);

-- Mail and SMS waiting to go, and the record of what went. Queued in the transaction of what it
-- tells (never lost, never sent for something that did not happen); delivered by a background
-- task on any node (`claimed_until` keeps two nodes from sending one message). `payload` (the
-- address and any link or code) is sealed with the data key and dropped once sent; `kind` says
-- what the message was, never its contents.
CREATE TABLE outbox (
    id            TEXT PRIMARY KEY,
    account_id    TEXT REFERENCES accounts (id),
    channel       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    payload       BYTEA,
    created_at    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    claimed_until BIGINT,
    sent_at       BIGINT,
    failed_at     BIGINT,
    last_error    TEXT
);
CREATE INDEX outbox_due ON outbox (sent_at, next_at);
CREATE INDEX outbox_account ON outbox (account_id, kind, created_at);

-- The browsers an account has signed in from (the hash of a long-lived cookie's secret): a sign-in
-- from one not seen before is a security notice (`new_sign_in`).
CREATE TABLE account_devices (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    device_hash BYTEA NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    PRIMARY KEY (account_id, device_hash)
);
