-- The event log and what the append transaction keeps beside it.
-- See docs/operations/postgres.md for roles, partitions and maintenance.

-- The role the server runs as: INSERT and SELECT on the log, nothing more.
-- Created once per cluster (roles are cluster-wide); migrating another
-- database needs no CREATEROLE right once it exists.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'warden_writer') THEN
        CREATE ROLE warden_writer NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- created concurrently by another migration
END
$$;

CREATE TABLE ledger_settings (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
-- Events per partition; partitions are ranges of seq. May be changed any
-- time: it applies to partitions created afterwards.
INSERT INTO ledger_settings (name, value) VALUES ('partition_size', 1000000);
-- The first seq no partition covers yet.
INSERT INTO ledger_settings (name, value) VALUES ('partitions_end', 1);

CREATE TABLE events (
    seq             BIGINT      NOT NULL CHECK (seq > 0),
    id              UUID        NOT NULL,
    at              TIMESTAMPTZ NOT NULL,
    kind            TEXT        NOT NULL,
    subject         TEXT        NOT NULL,
    subject_version BIGINT      NOT NULL CHECK (subject_version > 0),
    actor           TEXT        NOT NULL, -- canonical JSON
    request_id      TEXT        NOT NULL,
    outcome         TEXT        NOT NULL,
    data            TEXT        NOT NULL, -- canonical JSON
    prev            BYTEA       NOT NULL,
    hash            BYTEA       NOT NULL,
    key_id          TEXT        NOT NULL,
    sig             BYTEA       NOT NULL,
    PRIMARY KEY (seq)
) PARTITION BY RANGE (seq);

-- Only the signing-key history is looked up by subject here (per-subject
-- history is the read models' and the audit index's job), so the index
-- costs appends nothing for other events.
CREATE INDEX events_signing_keys ON events (subject_version) WHERE subject = 'ledger';

CREATE FUNCTION warden_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'WA001';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION warden_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change();

-- Creates partitions until seq `upto` and the partition after it are
-- covered; returns the first seq no partition covers. Called by the append
-- transaction (under the append lock) once appends enter the last
-- partition. Runs with the owner's rights: the writer needs no DDL right.
CREATE FUNCTION warden_ensure_partitions(upto BIGINT) RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    size  BIGINT;
    start BIGINT;
    part  TEXT;
BEGIN
    SELECT value INTO size FROM ledger_settings WHERE name = 'partition_size';
    SELECT value INTO start FROM ledger_settings WHERE name = 'partitions_end' FOR UPDATE;
    WHILE start <= upto + size LOOP
        part := format('events_p%s', lpad(start::text, 19, '0'));
        EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%s) TO (%s)',
                       part, start, start + size);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change()',
                       part || '_no_truncate', part);
        start := start + size;
    END LOOP;
    UPDATE ledger_settings SET value = start WHERE name = 'partitions_end';
    RETURN start;
END
$$;

-- Current version of every subject (optimistic concurrency).
CREATE TABLE subjects (
    subject TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);

-- Globally unique values, claimed in the append transaction.
CREATE TABLE unique_claims (
    namespace TEXT   NOT NULL,
    value     TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (namespace, value)
);

-- Read-model snapshots: position + serialized state.
CREATE TABLE snapshots (
    name     TEXT PRIMARY KEY,
    version  INTEGER     NOT NULL,
    seq      BIGINT      NOT NULL,
    state    BYTEA       NOT NULL,
    saved_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Signing keys, secret part wrapped by the KMS. Never updated or deleted.
CREATE TABLE signing_keys (
    key_id         TEXT PRIMARY KEY,
    public_key     BYTEA       NOT NULL,
    wrapped_secret BYTEA       NOT NULL,
    kms_key_ref    TEXT        NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TRIGGER signing_keys_append_only BEFORE UPDATE OR DELETE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION warden_refuse_change();
CREATE TRIGGER signing_keys_no_truncate BEFORE TRUNCATE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change();

-- Per-subject data keys for sealed fields, wrapped by the KMS. Deleting a
-- row crypto-shreds the subject's sealed fields.
CREATE TABLE data_keys (
    subject     TEXT PRIMARY KEY,
    key_id      TEXT        NOT NULL,
    wrapped     BYTEA       NOT NULL,
    kms_key_ref TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT ON events TO warden_writer;
GRANT SELECT ON ledger_settings TO warden_writer;
GRANT SELECT, INSERT, UPDATE ON subjects TO warden_writer;
GRANT SELECT, INSERT ON unique_claims TO warden_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON snapshots TO warden_writer;
GRANT SELECT, INSERT ON signing_keys TO warden_writer;
GRANT SELECT, INSERT, DELETE ON data_keys TO warden_writer;
REVOKE EXECUTE ON FUNCTION warden_ensure_partitions(BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden_ensure_partitions(BIGINT) TO warden_writer;
-- So a node running as the writer can tell that the schema is current.
GRANT SELECT ON _sqlx_migrations TO warden_writer;
