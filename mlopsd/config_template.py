"""The commented mlops.toml that `mlops init` writes. Every commented value is the default."""

CONFIG_TEMPLATE = """\
# mlops configuration. Each commented line shows a key with its default value:
# uncomment and change it to override. Unknown keys are refused at start-up.

[daemon]
# host = "127.0.0.1"        # a non-loopback host makes every API call need the token
# port = 8765               # 0 picks a free port; the port in use goes to run/daemon.json
# workers = 0               # job worker processes; 0 = cores - 1 (at least 1), leaving a core
#                           # for serving
# log_level = "info"        # debug | info | warning | error
# log_max_bytes = 10485760  # logs/daemon.log is rotated at this size
# log_backups = 5           # rotated files kept
# shutdown_grace_s = 10.0   # on stop, running jobs get this long before they are interrupted
# events_keep = 100000      # events kept for clients resuming the stream (Last-Event-ID)...
# events_keep_days = 7.0    # ...and none older than this; older ones are told as stream.lost
# tls_terminator = ""       # beyond loopback: what terminates TLS in front (e.g. "caddy on
#                           # https://models.example.org"); unsaid, the start warns that
#                           # tokens would cross the network in clear text

[ingest]
# auto_create = true        # a folder made in inbox/ creates a dataset; its first file fixes
#                           # the schema
# settle_s = 0.5            # a file seen without a close event counts once its size and
#                           # mtime held still this long
# rescan_interval_s = 30.0  # inboxes are rescanned this often (inotify can drop events)
# polling = false           # watch by polling instead of inotify (network file systems)
# max_attempts = 2          # an ingest whose worker crashes this often is quarantined
# max_decompressed_mb = 16384.0  # a .gz/.zst drop inflating past this is refused as it streams
# max_compression_ratio = 200.0  # ...and one inflating more than this many times its size
#                                # (judged past 256 MiB): a likely decompression bomb
# max_upload_mb = 4096.0    # a file uploaded over HTTP (mlops data ingest, mlops check data;
#                           # more: 413)

[tracking]
# run_timeout_s = 120.0     # an SDK run that reports nothing this long is marked failed
# max_artifact_mb = 1024.0  # a file MLflow's client uploads (more: 413)

[serving]
# fallback_to_previous = true  # a production version that cannot load at start (corrupt
#                           # artifact): the version before it answers, marked as a fallback
# max_rows = 100000         # rows in one prediction request (more: 413; drop files in score/)
# max_body_mb = 64.0        # request body size limit (more: 413)
# batch_wait_ms = 0.2       # concurrent requests for one version are predicted in one call;
#                           # a batch waits at most this long for requests on their way
#                           # (a lone request never waits)
# batch_max_rows = 128      # rows in one such call at most (1: no micro-batching)
# log_sample = 1.0          # share of prediction requests logged (one row per scored row)
# log_queue = 10000         # requests waiting to be logged; when full, entries are dropped,
#                           # counted, and the sampling rate halves until the writer catches up
# log_keep_days = 90.0      # logged predictions (and their feedback) older than this are
#                           # deleted, hourly and at start
# canary_min_requests = 200 # a canary is judged after this many candidate requests, and
# canary_error_margin = 0.01 # rolled back when its error rate exceeds the champion's by more
# canary_latency_margin = 0.5 # or its p95 latency by more than this share
# canary_latency_floor_ms = 5.0 # and by more than this many milliseconds
#
# [serving.unseen_categories] # per model: "missing" (default: treated as missing) or
# churn = "reject"          # "reject" (422 naming the row and the unseen value)
#
# [serving.fallback]        # per model: the answer when the live version fails and no
# riders = 0.0              # previous version can answer (counted as errors, alerted)

[monitoring]
# latency_p95_ms = 200.0    # alert when a live version's p95 over the window is above this
# error_rate = 0.01         # or its share of failed requests is above this
# min_requests = 20         # once the window holds this many requests
# window_s = 60.0           # the window
# resolve_after_s = 60.0    # an alert resolves itself once clear this long
# check_interval_s = 5.0
# performance_drop = 0.05   # alert when rmse rises / auc or accuracy falls this much (relative)
# min_labels = 50           #   against the holdout, on this many labelled rows at least
# performance_window_s = 3600.0  # feedback is judged on this last stretch of predictions
# performance_check_s = 30.0     # this often

# Where alerts go (any number of [[hook]]): a file (a JSON line each), a command (the
# alert as JSON on stdin) or a webhook (POSTed). A failing hook is retried with backoff.
# [[hook]]
# kind = "webhook"                   # file, command or webhook
# target = "https://example.org/alerts"
# rules = ["dataset_drift", "error_rate"]   # or ["*"] (the default)
# timeout_s = 10.0
# retries = 4

# A declared dataset (one [[dataset]] per dataset). Only `name` is required.
# [[dataset]]
# name = "bikeshare"
# target = "bikers"                  # checked present and not all-null in every file
# time_column = "ts"                 # dates/datetimes (ISO-8601 text parsed, kept as UTC):
#                                    # enables time windows in selectors and time splits
# id_column = "id"                   # joins feedback labels later
# time_parts = ["yr", "mnth"]        # calendar columns: no learned range/category checks
#                                    # (unset: columns named year, month, hour, … ; [] none)
# delimiter = ","                    # CSV delimiter
# on_schema_change = "quarantine"    # or "accept": a new schema version
# target_optional = false            # true: drops may lack the target (production inputs,
#                                    # labelled later by *.labels.csv on id_column); not for
#                                    # a dataset a model trains on
#
# [dataset.schema]                   # optional dtypes: int64 float64 bool string date datetime
# temp = "float64"
#
# [dataset.rules]                    # dataset-wide defaults; otherwise rules are learned
#                                    # from the reference: the versions its models train on
#                                    # (else every version of its schema so far)
# max_null_share = 0.05              # default: the reference's share + 0.05
# max_out_of_range_share = 0.01      # of values outside the reference range (+/- margin)
# max_unseen_share = 0.01            # of categories never seen in the reference
# max_duplicate_share = 0.01         # of duplicate rows
# range_margin = 0.1                 # the learned range is widened by this share of its span
#
# [dataset.columns.temp]             # per-column rules
# min = 0.0                          # declared bounds: outside them is an error
# max = 1.0
# max_null_share = 0.0
# allowed = []                       # the only values allowed
# level = "warning"                  # "error" makes this column's warnings quarantine the file

# A model (one [[model]] per model). name, data and target are required.
# [[model]]
# name = "riders"
# data = "bikeshare@all"             # a data selector: @all @latest @N @N..M @last:K [START..END]
# target = "bikers"
# task = "regression"                # regression | binary | multiclass
# include = []                       # features to use (default: every other column)
# exclude = ["casual", "registered"] # columns that must not be features (they leak the target)
# categorical = []                   # extra categorical columns (text columns always are)
# rounds = 500
# early_stopping = 50                # rounds without gain on the holdout; 0: all rounds
# threshold = 0.5                    # binary decision threshold
# seed = 42
# num_threads = 2                    # fixed, so the same data gives the same model text
# experiment = "riders"              # default: the model's name
#
# [model.params]                     # LightGBM parameters
# num_leaves = 31
# learning_rate = 0.05
#
# [model.split]                      # by the dataset's time_column when it has one (the
# holdout = 0.2                      # most recent share is held out), else stratified random
# seed = 42
#
# [model.monitoring]                 # drift tests and alert limits for this model
# numeric_test = "auto"              # auto | ks | wasserstein | psi
# categorical_test = "auto"          # auto | chisquare | jensenshannon | psi
# drift_share = 0.5                  # dataset drift when this share of columns drifted
# correction = "none"                # none | bonferroni | bh (for p-value tests)
# significance = 0.01                # wasserstein/jensenshannon/psi drift only if also p < this
# min_rows = 100                     # fewer rows on a side: "not enough data", no verdict
# exclude = []                       # inputs left out of drift, e.g. ["season", "mnth"]
# inputs = "bikeshare-live"          # a dataset of production inputs this model watches
# latency_p95_ms = 200.0             # this model's own limits (default: [monitoring])
# error_rate = 0.01
# performance_drop = 0.05
#
# [model.monitoring.columns.temp]    # one column's own test and threshold
# test = "psi"
# threshold = 0.2
#
# [model.retrain]                    # the retraining policy (mlops retrain MODEL: at once)
# schedule = ["0 3 * * mon"]         # cron, UTC: 5 fields, or 6 with seconds first
# dry_run_schedule = []              # cron of dry runs (up to the gate, no deploy)
# retrain_on = ["drift", "performance_drop", "new_rows >= 10000"]
#                                    # also prediction_drift, schema_change, manual
# cooldown = "6h"                    # at most one retrain from alerts/new rows per span
# training_window = "last 3 versions"  # "" (the model's data), all, last K versions,
#                                    # last D days (of the dataset's time column)
# approval = "auto"                  # or "required": mlops approve/reject PIPELINE
# separate_approver = false          # with "required": four eyes, the token that started the
#                                    # pipeline or trained the version may not approve it
# deploy = "canary 10% for 500 requests"  # direct | canary P% for 10m | shadow for 1h
# watch = "30m"                      # after full deployment: rolled back on a performance
#                                    # drop or an error-rate rise
# grace = "1h"                       # a schedule missed while down runs once if this recent
#
# [model.retrain.gates]
# metric = "rmse"                    # default rmse / auc / log_loss by task
# maximum = 120.0                    # rmse, mae, log_loss: at most; others: minimum = …
# min_improvement = 0.0              # the CI's lower bound of the gain must be above this
# bootstrap = 1000                   # paired resamples of the same holdout (seeded)
# confidence = 0.95
# seed = 42
#
# [model.card]                       # mlops models card MODEL:VERSION --html card.html
# intended_use = "Hourly rider counts for planning, a day ahead."   # a string or a list
# assumptions = ["Weather is known an hour ahead."]
# limitations = ["Trained on 2011 only: no holidays of other years."]
# slices = ["weathersit", "temp"]    # up to 3 columns: the holdout's metrics per value
#                                    # (numbers in quantile bins; text: top values)
"""
