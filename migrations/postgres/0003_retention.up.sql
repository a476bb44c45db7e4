-- Retention (docs/decisions/0013-retention.md): what the database keeps of
-- each range `warden archive` moved to a bundle and removed. One row per
-- archive; written by the owner in the transaction that drops the range's
-- partitions.
CREATE TABLE ledger_archives (
    through_seq   BIGINT PRIMARY KEY,     -- the last archived seq
    from_seq      BIGINT      NOT NULL,   -- the first archived seq
    event_seq     BIGINT      NOT NULL,   -- the ledger.archived event recording it
    hashes        BYTEA       NOT NULL,   -- 32 bytes per event, from_seq..=through_seq
    announcements TEXT        NOT NULL,   -- JSON array: every signing_key.added event up to through_seq
    archived_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (from_seq > 0 AND through_seq >= from_seq AND event_seq > through_seq),
    CHECK (length(hashes) = 32 * (through_seq - from_seq + 1))
);
CREATE TRIGGER ledger_archives_append_only BEFORE UPDATE OR DELETE ON ledger_archives
    FOR EACH ROW EXECUTE FUNCTION warden_refuse_change();
CREATE TRIGGER ledger_archives_no_truncate BEFORE TRUNCATE ON ledger_archives
    FOR EACH STATEMENT EXECUTE FUNCTION warden_refuse_change();
GRANT SELECT ON ledger_archives TO warden_writer;
