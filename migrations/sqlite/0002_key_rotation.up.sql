-- Rotating the KMS key (docs/operations/kms.md): signing keys stay
-- append-only; a new wrapping of a secret is added beside the first.
CREATE TABLE signing_key_wraps (
    key_id         TEXT NOT NULL REFERENCES signing_keys (key_id),
    kms_key_ref    TEXT NOT NULL,
    wrapped_secret BLOB NOT NULL,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (key_id, kms_key_ref)
);

CREATE TRIGGER signing_key_wraps_no_update BEFORE UPDATE ON signing_key_wraps
BEGIN
    SELECT RAISE(ABORT, 'signing-key wrappings are never changed');
END;

CREATE TRIGGER signing_key_wraps_no_delete BEFORE DELETE ON signing_key_wraps
BEGIN
    SELECT RAISE(ABORT, 'signing-key wrappings are never deleted');
END;

CREATE INDEX events_kms ON events (subject_version) WHERE subject = 'kms';
