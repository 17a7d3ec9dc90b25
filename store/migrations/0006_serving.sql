-- Serving: one prediction log row per scored row (a batch request logs each of its rows),
-- saying which slot answered; deployments record every step of a deploy.
ALTER TABLE prediction_log ADD COLUMN row_index INTEGER NOT NULL DEFAULT 0;
ALTER TABLE prediction_log ADD COLUMN served_as VARCHAR NOT NULL DEFAULT 'production';
CREATE INDEX prediction_log_request_idx ON prediction_log(request_id);
CREATE INDEX prediction_log_model_idx ON prediction_log(model, predicted_at);
CREATE INDEX deployments_model_idx ON deployments(model);
