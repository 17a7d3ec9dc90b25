-- The MLflow client's view of the store (issue 15). Experiments get numbers (MLflow's
-- experiment_id; those already there are numbered by age). Runs can be deleted and restored
-- (MLflow's lifecycle_stage), and say which client made them: MLflow's sends no heartbeat,
-- so its runs are never failed for silence. Beside our registry: MLflow's logged models,
-- the files its client uploads (each a path naming a content-addressed blob), its runs'
-- inputs and outputs, and its registered models and numbered versions, each version
-- pointing at ours once its check has passed.
ALTER TABLE experiments ADD COLUMN id BIGINT;
UPDATE experiments SET id = numbered.id
FROM (SELECT name, row_number() OVER (ORDER BY created_at, name) AS id FROM experiments) numbered
WHERE experiments.name = numbered.name;

ALTER TABLE runs ADD COLUMN deleted_at TIMESTAMP;
ALTER TABLE runs ADD COLUMN via VARCHAR;

CREATE TABLE mlflow_artifacts (
    path       VARCHAR PRIMARY KEY,
    sha        VARCHAR NOT NULL,
    size       BIGINT NOT NULL,
    stored_at  TIMESTAMP NOT NULL
);

CREATE TABLE mlflow_logged_models (
    id             VARCHAR PRIMARY KEY,
    experiment_id  BIGINT NOT NULL,
    name           VARCHAR NOT NULL,
    source_run_id  VARCHAR,
    status         VARCHAR NOT NULL,
    model_type     VARCHAR,
    params         JSON NOT NULL,
    tags           JSON NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

-- No primary key: appended (log-inputs, log-outputs) and never updated.
CREATE TABLE mlflow_run_links (
    run_id     VARCHAR NOT NULL,
    direction  VARCHAR NOT NULL CHECK (direction IN ('input', 'output')),
    kind       VARCHAR NOT NULL CHECK (kind IN ('dataset', 'model')),
    body       JSON NOT NULL,
    logged_at  TIMESTAMP NOT NULL
);

CREATE TABLE mlflow_registered_models (
    name         VARCHAR PRIMARY KEY,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    description  VARCHAR,
    tags         JSON NOT NULL
);

CREATE TABLE mlflow_model_versions (
    model        VARCHAR NOT NULL,
    number       INTEGER NOT NULL,
    version      VARCHAR,
    job_id       BIGINT,
    source       VARCHAR NOT NULL,
    run_id       VARCHAR,
    model_id     VARCHAR,
    description  VARCHAR,
    tags         JSON NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (model, number)
);
