DROP INDEX IF EXISTS events_kms;
DROP TABLE IF EXISTS signing_key_wraps;
