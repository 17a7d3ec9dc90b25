-- The event outbox (issue 12): every event the daemon publishes is written here in the same
-- transaction as the change it tells of, with an id that survives restarts, so a client
-- resumes with Last-Event-ID across a restart too. Kept bounded by count and age (pruned by
-- the daemon). `audit_id` names the audit entry written with the change, if any.
CREATE TABLE events (
    id BIGINT PRIMARY KEY,
    occurred_at TIMESTAMP NOT NULL,
    type VARCHAR NOT NULL,
    data JSON NOT NULL,
    audit_id BIGINT
);

-- Where each of the daemon's own subscribers (alert hooks, retrain triggers) has got to in
-- the outbox: at start each reads on from there, so nothing published while it was down,
-- or just before a crash, is missed.
CREATE TABLE event_cursors (
    name VARCHAR PRIMARY KEY,
    last_id BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
