-- What a job's worker process used: reported by the worker with its result.
ALTER TABLE jobs ADD COLUMN cpu_s DOUBLE;
ALTER TABLE jobs ADD COLUMN max_rss_mb DOUBLE;
