-- Everything the design names beyond jobs and audit: data, runs, registry, serving,
-- monitoring, alerts, schedules. Repositories per family live in store/<family>.py.
-- No FOREIGN KEYs: DuckDB refuses ALTER TABLE on a table that others reference, which
-- would block every later migration; the repositories keep references consistent.

CREATE TABLE datasets (
    name          VARCHAR PRIMARY KEY,
    created_at    TIMESTAMP NOT NULL,
    schema_json   JSON,
    target        VARCHAR,
    time_column   VARCHAR,
    id_column     VARCHAR,
    config_json   JSON
);

CREATE TABLE data_versions (
    dataset        VARCHAR NOT NULL,
    version        INTEGER NOT NULL,
    content_hash   VARCHAR NOT NULL,
    snapshot_sha   VARCHAR NOT NULL,
    schema_hash    VARCHAR NOT NULL,
    schema_version INTEGER NOT NULL DEFAULT 1,
    n_rows         BIGINT NOT NULL,
    n_columns      INTEGER NOT NULL,
    source_name    VARCHAR NOT NULL,
    received_at    TIMESTAMP NOT NULL,
    committed_at   TIMESTAMP NOT NULL,
    profile        JSON NOT NULL,
    PRIMARY KEY (dataset, version),
    UNIQUE (dataset, content_hash)
);

CREATE TABLE experiments (
    name        VARCHAR PRIMARY KEY,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE runs (
    id            VARCHAR PRIMARY KEY,
    experiment    VARCHAR NOT NULL,
    state         VARCHAR NOT NULL CHECK (state IN ('running', 'finished', 'failed', 'killed')),
    started_at    TIMESTAMP NOT NULL,
    ended_at      TIMESTAMP,
    last_seen_at  TIMESTAMP NOT NULL,
    note          VARCHAR,
    lineage       JSON,
    job_id        BIGINT
);
CREATE TABLE run_params (
    run_id  VARCHAR NOT NULL,
    key     VARCHAR NOT NULL,
    value   VARCHAR NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE TABLE run_tags (
    run_id  VARCHAR NOT NULL,
    key     VARCHAR NOT NULL,
    value   VARCHAR NOT NULL,
    PRIMARY KEY (run_id, key)
);
-- No primary key: metric points are appended in batches and never updated.
CREATE TABLE run_metrics (
    run_id  VARCHAR NOT NULL,
    key     VARCHAR NOT NULL,
    value   DOUBLE NOT NULL,
    step    BIGINT NOT NULL,
    logged_at TIMESTAMP NOT NULL
);

CREATE TABLE models (
    name        VARCHAR PRIMARY KEY,
    created_at  TIMESTAMP NOT NULL,
    task        VARCHAR NOT NULL,
    description VARCHAR
);
CREATE TABLE model_versions (
    model          VARCHAR NOT NULL,
    version        VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    artifact_sha   VARCHAR NOT NULL,
    signature      JSON NOT NULL,
    metrics        JSON NOT NULL,
    run_id         VARCHAR,
    archived       BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (model, version)
);
CREATE TABLE model_aliases (
    model    VARCHAR NOT NULL,
    alias    VARCHAR NOT NULL,
    version  VARCHAR NOT NULL,
    PRIMARY KEY (model, alias)
);
CREATE SEQUENCE alias_history_id_seq START 1;
CREATE TABLE alias_history (
    id            BIGINT PRIMARY KEY DEFAULT nextval('alias_history_id_seq'),
    model         VARCHAR NOT NULL,
    alias         VARCHAR NOT NULL,
    from_version  VARCHAR,
    to_version    VARCHAR,
    actor         VARCHAR NOT NULL,
    reason        VARCHAR,
    moved_at      TIMESTAMP NOT NULL
);

CREATE SEQUENCE deployment_id_seq START 1;
CREATE TABLE deployments (
    id            BIGINT PRIMARY KEY DEFAULT nextval('deployment_id_seq'),
    model         VARCHAR NOT NULL,
    strategy      VARCHAR NOT NULL,
    from_version  VARCHAR,
    to_version    VARCHAR NOT NULL,
    state         VARCHAR NOT NULL,
    detail        JSON,
    actor         VARCHAR NOT NULL,
    reason        VARCHAR,
    started_at    TIMESTAMP NOT NULL,
    ended_at      TIMESTAMP
);

CREATE SEQUENCE drift_report_id_seq START 1;
CREATE TABLE drift_reports (
    id                 BIGINT PRIMARY KEY DEFAULT nextval('drift_report_id_seq'),
    model              VARCHAR,
    model_version      VARCHAR,
    dataset            VARCHAR NOT NULL,
    reference          VARCHAR NOT NULL,
    current            VARCHAR NOT NULL,
    dataset_drift      BOOLEAN NOT NULL,
    drift_share        DOUBLE NOT NULL,
    columns            JSON NOT NULL,
    created_at         TIMESTAMP NOT NULL
);

CREATE SEQUENCE alert_id_seq START 1;
CREATE TABLE alerts (
    id            BIGINT PRIMARY KEY DEFAULT nextval('alert_id_seq'),
    rule          VARCHAR NOT NULL,
    subject       VARCHAR NOT NULL,
    severity      VARCHAR NOT NULL,
    state         VARCHAR NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    message       VARCHAR NOT NULL,
    detail        JSON,
    count         INTEGER NOT NULL DEFAULT 1,
    opened_at     TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    note          VARCHAR
);
CREATE INDEX alerts_rule_subject_idx ON alerts(rule, subject);

-- Appended in batches off the prediction hot path.
CREATE TABLE prediction_log (
    request_id  VARCHAR NOT NULL,
    model       VARCHAR NOT NULL,
    version     VARCHAR NOT NULL,
    predicted_at TIMESTAMP NOT NULL,
    latency_ms  DOUBLE NOT NULL,
    inputs      JSON,
    output      JSON,
    label       JSON
);

CREATE TABLE schedules (
    id          VARCHAR PRIMARY KEY,
    model       VARCHAR,
    kind        VARCHAR NOT NULL,
    cron        VARCHAR NOT NULL,
    params      JSON,
    source      VARCHAR NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT true,
    last_run_at TIMESTAMP,
    updated_at  TIMESTAMP NOT NULL
);
