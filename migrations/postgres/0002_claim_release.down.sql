REVOKE DELETE ON unique_claims FROM warden_writer;
