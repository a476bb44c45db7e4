DROP INDEX IF EXISTS events_kms;
DROP TABLE IF EXISTS signing_key_wraps;
REVOKE UPDATE (wrapped, kms_key_ref) ON data_keys FROM warden_writer;
