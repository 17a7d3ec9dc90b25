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
"""
