-- Ground truth that comes back after predictions: by request id (POST …/feedback), or by
-- entity id from label files dropped in a dataset's inbox. Kept apart from the prediction
-- log and joined when performance is computed, so a label may arrive before its prediction
-- is written (the log is written in batches) or long after.
CREATE TABLE feedback (
    model       VARCHAR NOT NULL,
    request_id  VARCHAR NOT NULL,
    row_index   INTEGER,
    label       JSON NOT NULL,
    received_at TIMESTAMP NOT NULL,
    source      VARCHAR NOT NULL
);
CREATE INDEX feedback_request_idx ON feedback(model, request_id);
CREATE TABLE entity_labels (
    dataset     VARCHAR NOT NULL,
    entity_id   VARCHAR NOT NULL,
    label       JSON NOT NULL,
    received_at TIMESTAMP NOT NULL,
    source      VARCHAR NOT NULL
);
CREATE INDEX entity_labels_idx ON entity_labels(dataset, entity_id);
