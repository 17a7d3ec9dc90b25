-- Retraining: one row per pipeline run (its steps as JSON, rewritten at each change in one
-- transaction). Schedules use the `schedules` table of 0002 (kind retrain / retrain_dry_run,
-- source config).
CREATE SEQUENCE pipelines_id_seq START 1;
CREATE TABLE pipelines (
    id            BIGINT PRIMARY KEY DEFAULT nextval('pipelines_id_seq'),
    model         VARCHAR NOT NULL,
    state         VARCHAR NOT NULL,
    trigger       VARCHAR NOT NULL,
    trigger_detail JSON,
    dry_run       BOOLEAN NOT NULL DEFAULT false,
    actor         VARCHAR NOT NULL,
    steps         JSON NOT NULL,
    merged        JSON NOT NULL,
    challenger    VARCHAR,
    champion      VARCHAR,
    reason        VARCHAR,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    ended_at      TIMESTAMP
);
CREATE INDEX pipelines_model_idx ON pipelines(model);
