-- Drops the log and everything beside it. The cluster-wide role
-- warden_writer is kept: other databases of the cluster may use it.
DROP TABLE IF EXISTS data_keys;
DROP TABLE IF EXISTS signing_keys;
DROP TABLE IF EXISTS snapshots;
DROP TABLE IF EXISTS unique_claims;
DROP TABLE IF EXISTS subjects;
DROP TABLE IF EXISTS events;
DROP FUNCTION IF EXISTS warden_ensure_partitions(BIGINT);
DROP FUNCTION IF EXISTS warden_refuse_change();
DROP TABLE IF EXISTS ledger_settings;
