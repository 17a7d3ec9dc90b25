-- The job table is the daemon's durable queue: queued rows are picked up in id order,
-- running rows left by a crash become interrupted at the next start.
CREATE SEQUENCE job_id_seq START 1;
CREATE TABLE jobs (
    id           BIGINT PRIMARY KEY DEFAULT nextval('job_id_seq'),
    kind         VARCHAR NOT NULL,
    params       JSON NOT NULL,
    state        VARCHAR NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'interrupted', 'cancelled')),
    idempotent   BOOLEAN NOT NULL,
    attempt      INTEGER NOT NULL DEFAULT 1,
    retry_of     BIGINT,
    actor        VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    started_at   TIMESTAMP,
    ended_at     TIMESTAMP,
    worker_pid   INTEGER,
    log_path     VARCHAR,
    error        VARCHAR,
    result       JSON
);
CREATE INDEX jobs_state_idx ON jobs(state);

-- Append-only: rows are inserted, never updated or deleted.
CREATE SEQUENCE audit_id_seq START 1;
CREATE TABLE audit_log (
    id        BIGINT PRIMARY KEY DEFAULT nextval('audit_id_seq'),
    occurred_at TIMESTAMP NOT NULL,
    actor     VARCHAR NOT NULL,
    action    VARCHAR NOT NULL,
    subject   VARCHAR NOT NULL,
    reason    VARCHAR,
    details   JSON
);
