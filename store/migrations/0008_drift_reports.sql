-- Drift reports name the job that made them, the reference profile they used, the model's prediction drift beside the data
-- drift, and the full report (binned distributions for plots) as an artifact.
ALTER TABLE drift_reports ADD COLUMN prediction_drift BOOLEAN;
ALTER TABLE drift_reports ADD COLUMN prediction JSON;
ALTER TABLE drift_reports ADD COLUMN report_sha VARCHAR;
ALTER TABLE drift_reports ADD COLUMN job_id BIGINT;
-- The reference's summary (quantile profiles, category counts), built once and reused.
ALTER TABLE drift_reports ADD COLUMN profile_sha VARCHAR;
-- When the current batch carried the target: the model's metrics on it, and how they
-- compare with its holdout metrics (and which kind of drift a drop is).
ALTER TABLE drift_reports ADD COLUMN performance JSON;
CREATE INDEX drift_reports_model_idx ON drift_reports(model, created_at);
