-- Unique claims can be released by a compensating event (an import
-- reverted, a user removed), so the value can be claimed again. The claims
-- table is an index beside the log, not the log: the event that released a
-- claim stays in the chain.
GRANT DELETE ON unique_claims TO warden_writer;
