DROP TABLE IF EXISTS ledger_archives;
