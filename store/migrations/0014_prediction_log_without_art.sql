-- The prediction log is appended to on every request and read by time and by request id.
-- Its two ART indexes lived in memory until each checkpoint (~1 MiB a minute at 80 requests/s,
-- found by the soak) and made each logged row dearer to insert. Time ranges are served by
-- DuckDB's min/max per row group (rows arrive in time order), and request ids are made in
-- time order (mlopsd/serving/request_ids.py), so a lookup by id skips all but a row group or two.
DROP INDEX prediction_log_request_idx;
DROP INDEX prediction_log_model_idx;
