-- The embedded event log. Same rules as PostgreSQL: append-only by trigger.
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY CHECK (seq > 0),
    id              TEXT    NOT NULL,
    at              TEXT    NOT NULL, -- RFC 3339 UTC, six fractional digits
    kind            TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    subject_version INTEGER NOT NULL CHECK (subject_version > 0),
    actor           TEXT    NOT NULL, -- canonical JSON
    request_id      TEXT    NOT NULL,
    outcome         TEXT    NOT NULL,
    data            TEXT    NOT NULL, -- canonical JSON
    prev            BLOB    NOT NULL,
    hash            BLOB    NOT NULL,
    key_id          TEXT    NOT NULL,
    sig             BLOB    NOT NULL
);

-- Only the signing-key history is looked up by subject.
CREATE INDEX events_signing_keys ON events (subject_version) WHERE subject = 'ledger';

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only: UPDATE on events refused');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only: DELETE on events refused');
END;

CREATE TABLE subjects (
    subject TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);

CREATE TABLE unique_claims (
    namespace TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (namespace, value)
);

CREATE TABLE snapshots (
    name     TEXT PRIMARY KEY,
    version  INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    state    BLOB    NOT NULL,
    saved_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE signing_keys (
    key_id         TEXT PRIMARY KEY,
    public_key     BLOB NOT NULL,
    wrapped_secret BLOB NOT NULL,
    kms_key_ref    TEXT NOT NULL,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TRIGGER signing_keys_no_update BEFORE UPDATE ON signing_keys
BEGIN
    SELECT RAISE(ABORT, 'signing keys are never changed');
END;

CREATE TRIGGER signing_keys_no_delete BEFORE DELETE ON signing_keys
BEGIN
    SELECT RAISE(ABORT, 'signing keys are never deleted');
END;

CREATE TABLE data_keys (
    subject     TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    wrapped     BLOB NOT NULL,
    kms_key_ref TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
