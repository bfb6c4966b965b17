-- Electronic licences: departments and their certificates, the licence-type catalogue, licences, their
-- status history, and idempotency records. Same conventions as 0001 (BIGINT unix seconds, '' not NULL in
-- keys); keep migrations/postgres/0002_licences.sql in step.

-- An issuing or querying department: its unified social credit code, names, the `iss` URL its licences
-- carry, and the OAuth client its systems authenticate as.
CREATE TABLE departments (
    id         TEXT PRIMARY KEY,
    uscc       TEXT NOT NULL UNIQUE,
    name_zh    TEXT NOT NULL,
    name_en    TEXT NOT NULL,
    iss        TEXT NOT NULL UNIQUE,
    client_id  TEXT UNIQUE,
    created_at BIGINT NOT NULL
);

-- Department certificates issued by our intermediate CA. The private key is sealed (AES-256-GCM with the
-- data key, the serial as associated data) so every node can sign and nothing readable rests on disk.
-- A renewal adds a row; `revoked_at` ends a certificate (licences signed before it still verify).
CREATE TABLE department_certs (
    serial        TEXT PRIMARY KEY,
    department_id TEXT NOT NULL REFERENCES departments (id),
    purpose       TEXT NOT NULL,
    cert_der      BLOB NOT NULL,
    key_sealed    BLOB NOT NULL,
    not_before    BIGINT NOT NULL,
    not_after     BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    revoke_reason TEXT
);
CREATE INDEX department_certs_department ON department_certs (department_id, purpose);

-- A licence type: the code (authority USCC + 3 digits) and its definition as JSON (names, authority,
-- holder kinds, JSON Schema of the fields, disclosable fields, validity, issuers, queriers with their
-- legal basis). Read whole and cached.
CREATE TABLE licence_types (
    code       TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A licence. `sd_jwt_sealed` is the full SD-JWT VC (every disclosure: it holds personal data), sealed like
-- identity numbers. `holder_index` is the blind index of the first holder's identifier; every holder is in
-- licence_holders. The status index is unique within the issuer's list.
CREATE TABLE licences (
    id            TEXT PRIMARY KEY,
    type_code     TEXT NOT NULL REFERENCES licence_types (code),
    issuer_id     TEXT NOT NULL REFERENCES departments (id),
    status_idx    BIGINT NOT NULL,
    status        BIGINT NOT NULL,
    cert_serial   TEXT NOT NULL REFERENCES department_certs (serial),
    sd_jwt_sealed BLOB NOT NULL,
    issued_at     BIGINT NOT NULL,
    expires_at    BIGINT,
    supersedes    TEXT,
    superseded_by TEXT,
    UNIQUE (issuer_id, status_idx)
);

CREATE TABLE licence_holders (
    licence_id   TEXT NOT NULL REFERENCES licences (id),
    holder_index BLOB NOT NULL,
    PRIMARY KEY (holder_index, licence_id)
);

-- Every status change, for `?time=` and "was this licence valid on date D?". Appended, never updated.
CREATE TABLE licence_status_events (
    licence_id TEXT NOT NULL REFERENCES licences (id),
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    status     BIGINT NOT NULL,
    reason     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    PRIMARY KEY (licence_id, seq)
);
CREATE INDEX licence_status_events_at ON licence_status_events (at);

-- Idempotency-Key records: a retried request gets the first response, never a second licence.
CREATE TABLE idempotency_keys (
    client_id    TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    response     TEXT NOT NULL,
    status       BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (client_id, key)
);
