-- A model version's evaluation beyond its metrics (issue 15, model cards): the bootstrap
-- intervals of its holdout metrics, its metrics per slice, its feature importance, its rows
-- and time span. NULL for versions registered before (and for versions logged from the SDK).
ALTER TABLE model_versions ADD COLUMN evaluation JSON;
