-- Rotating the KMS key (docs/operations/kms.md, decision 0026): every data
-- key and signing-key secret is wrapped again under the new KMS key.
--
-- A data key's wrapping is replaced in place (its subject and key id stay):
-- the writer may change those two columns and no other.
GRANT UPDATE (wrapped, kms_key_ref) ON data_keys TO warden_writer;

-- Signing keys stay append-only: a new wrapping of a secret is added
-- beside the one it was stored with, never replacing it.
CREATE TABLE signing_key_wraps (
    key_id         TEXT        NOT NULL REFERENCES signing_keys (key_id),
    kms_key_ref    TEXT        NOT NULL,
    wrapped_secret BYTEA       NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, kms_key_ref)
);
CREATE TRIGGER signing_key_wraps_append_only BEFORE UPDATE OR DELETE ON signing_key_wraps
    FOR EACH ROW EXECUTE FUNCTION warden_refuse_change();
CREATE TRIGGER signing_key_wraps_no_truncate BEFORE TRUNCATE ON signing_key_wraps
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change();
GRANT SELECT, INSERT ON signing_key_wraps TO warden_writer;

-- The latest rotation event, found without a scan of the log.
CREATE INDEX events_kms ON events (subject_version) WHERE subject = 'kms';
