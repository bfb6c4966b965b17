-- Identity proofing (issue 19): an account's identity is *claimed* at registration and *proven* only
-- by a recorded proofing event (at a service counter, by a single-use activation code sent out of
-- band, or by a counter registration). Keep migrations/sqlite and migrations/postgres in step.
--
-- `accounts.id_number_index` keeps its UNIQUE constraint (SQLite cannot drop a column constraint
-- without rebuilding the table that every other table references), and now means "the blind index
-- licences are filed under": the real one for a proven identity, and for a claimed one a placeholder
-- unique to the account (`claimed:<account id>`, never 32 bytes, so never equal to any HMAC blind
-- index). So the index is unique among proven identities only, a claim never blocks anyone, and a
-- claimed account's reads by index find nothing. `claimed_index` is the blind index of the number
-- the account claims (NULL once another account proved that number and detached it from this one).
ALTER TABLE accounts ADD COLUMN claimed_index BLOB;
ALTER TABLE accounts ADD COLUMN proven_at BIGINT;
UPDATE accounts SET claimed_index = id_number_index;
-- Accounts registered as verified at a counter (loa 3) stay proven; self-registered ones become claimed.
UPDATE accounts SET proven_at = created_at WHERE loa >= 3;
UPDATE accounts SET id_number_index = CAST('claimed:' || id AS BLOB) WHERE loa < 3;
CREATE INDEX accounts_claimed_index ON accounts (claimed_index);

-- Who proved an identity, how, when and on what evidence (a document checked in person, a letter's
-- reference). `method`: counter, activation_code, counter_registration, migrated.
CREATE TABLE proofing_events (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    method        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    department_id TEXT,
    evidence      TEXT NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX proofing_events_account ON proofing_events (account_id);
INSERT INTO proofing_events (id, account_id, method, actor, department_id, evidence, at)
    SELECT 'pe_migrated_' || id, id, 'migrated', 'operator:cli', NULL,
           'registered as verified at a counter before proofing events were recorded', created_at
    FROM accounts WHERE loa >= 3;

-- Staff of a department, by role: `counter` staff prove identities in person.
CREATE TABLE staff_roles (
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    department_id TEXT NOT NULL REFERENCES departments (id),
    role          TEXT NOT NULL,
    granted_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, department_id, role)
);

-- Activation codes a department sends by letter to the registered address: bound to the blind index
-- of one identity number, stored only as a SHA-256 hash, single-use, expiring.
CREATE TABLE activation_codes (
    id              TEXT PRIMARY KEY,
    id_number_index BLOB NOT NULL,
    code_hash       BLOB NOT NULL UNIQUE,
    department_id   TEXT NOT NULL REFERENCES departments (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    used_by         TEXT
);
CREATE INDEX activation_codes_index ON activation_codes (id_number_index);

-- What an account is told (identity proven, identity detached...): shown on the account page, and
-- mailed to a verified address when mail is configured (`mailed_at`).
CREATE TABLE account_notices (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at    BIGINT,
    mailed_at  BIGINT
);
CREATE INDEX account_notices_account ON account_notices (account_id, created_at);
