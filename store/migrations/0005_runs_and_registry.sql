-- Training runs and the registry: what a run was for, and what a version's semver rests on.
ALTER TABLE runs ADD COLUMN model VARCHAR;
ALTER TABLE runs ADD COLUMN error VARCHAR;
CREATE INDEX runs_experiment_idx ON runs(experiment);
CREATE INDEX run_metrics_run_idx ON run_metrics(run_id);

ALTER TABLE model_versions ADD COLUMN major INTEGER NOT NULL DEFAULT 0;
ALTER TABLE model_versions ADD COLUMN minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE model_versions ADD COLUMN patch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE model_versions ADD COLUMN signature_hash VARCHAR;
ALTER TABLE model_versions ADD COLUMN data_key VARCHAR;
ALTER TABLE model_versions ADD COLUMN config_hash VARCHAR;
ALTER TABLE model_versions ADD COLUMN bump_reason VARCHAR;

-- 'move' (promote, demote) or 'rollback': rollbacks undo moves, so the next rollback goes
-- further back instead of toggling between two versions.
ALTER TABLE alias_history ADD COLUMN kind VARCHAR NOT NULL DEFAULT 'move';
