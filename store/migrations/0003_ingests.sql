-- File-drop ingestion: what each dropped file became, and the dataset's schema versions.
ALTER TABLE datasets ADD COLUMN schema_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE datasets ADD COLUMN schema_declared BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE datasets ADD COLUMN reference_version INTEGER;

CREATE SEQUENCE ingest_id_seq START 1;
CREATE TABLE ingests (
    id               BIGINT PRIMARY KEY DEFAULT nextval('ingest_id_seq'),
    dataset          VARCHAR NOT NULL,
    source_name      VARCHAR NOT NULL,
    outcome          VARCHAR NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'rejected', 'vanished', 'failed')),
    version          INTEGER,
    content_hash     VARCHAR,
    size_bytes       BIGINT,
    received_at      TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP NOT NULL,
    job_id           BIGINT,
    quarantine_path  VARCHAR,
    issues           JSON,
    schema_change    JSON,
    requeued_at      TIMESTAMP
);
CREATE INDEX ingests_dataset_idx ON ingests(dataset);
