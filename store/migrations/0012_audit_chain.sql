-- The audit log becomes a hash chain (issue 14): each entry keeps the previous entry's hash
-- and its own (store/audit_chain.py). Entries written before this migration are sealed by
-- it, in id order (store/db.py runs store.audit.seal_unsealed after this file), so the chain
-- covers them from the upgrade on.
ALTER TABLE audit_log ADD COLUMN prev_hash VARCHAR;
ALTER TABLE audit_log ADD COLUMN entry_hash VARCHAR;
