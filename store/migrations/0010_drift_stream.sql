-- Drift reports (issue 11): whether a report belongs to the model's drift stream (made by
-- the daemon on new data, labels or a deploy: it raises and resolves alerts and is the
-- model's latest) or was asked for ad hoc (stored and shown, changes nothing); the rows on
-- each side; its status: drift, no_drift, or not_enough_data (no verdict: dataset_drift is
-- stored false and read back as null); and what else it says (columns left out, notes).
ALTER TABLE drift_reports ADD COLUMN recorded BOOLEAN DEFAULT true;
ALTER TABLE drift_reports ADD COLUMN rows_reference BIGINT;
ALTER TABLE drift_reports ADD COLUMN rows_current BIGINT;
ALTER TABLE drift_reports ADD COLUMN status VARCHAR;
ALTER TABLE drift_reports ADD COLUMN detail JSON;
