#!/usr/bin/env bash
# The CI gate, as the GitHub Actions and GitLab CI examples run it (and tests/test_ci_gate_parts.py):
# a daemon on a temp home, the repository's example data, a production model trained on the
# first quarter of the year, then the new data checked (mlops check data), a candidate trained
# on it and judged against production (mlops check model). Reports go to REPORTS_DIR
# (default ci-reports/): JUnit XML and Markdown for each check, the daemon's log.
#
#   examples/ci/gate.sh [REPORTS_DIR]
#
# Needs `mlops`, `mlopsd` and a Python with polars on the PATH (pip install the project).
# Exit code: 0 both checks passed, 1 a check failed, 2 a check could not be made (or a
# step before them failed). The home is a new temp folder, removed at the end.
set -euo pipefail
reports=$(mkdir -p "${1:-ci-reports}" && cd "${1:-ci-reports}" && pwd)
cd "$(dirname "$0")/../.."
scratch=$(mktemp -d)
export MLOPS_HOME=$scratch/home
daemon=""
finish() {
    code=$?
    if [ -n "$daemon" ]; then
        kill -TERM "$daemon" 2>/dev/null || true
        wait "$daemon" 2>/dev/null || true
    fi
    cp "$MLOPS_HOME/logs/daemon.log" "$reports/daemon.log" 2>/dev/null || true
    rm -rf "$scratch"
    exit "$code"
}
trap finish EXIT
trap 'exit 2' INT TERM   # a runner's cancel: still stop the daemon and keep the log
step() { printf '\n== %s\n' "$*"; }
fail_setup() { echo "gate: $*" >&2; exit 2; }

step "a daemon on a temp home ($MLOPS_HOME)"
mlops init >/dev/null
cp examples/ci/mlops.toml "$MLOPS_HOME/mlops.toml"
mlopsd --port 0 > "$reports/mlopsd.out" 2>&1 &
daemon=$!
for _ in $(seq 300); do
    mlops status >/dev/null 2>&1 && break
    kill -0 "$daemon" 2>/dev/null || fail_setup "mlopsd exited: $(cat "$reports/mlopsd.out")"
    sleep 0.1
done
mlops status >/dev/null || fail_setup "mlopsd did not answer in 30 s"

step "the repository's data, one file a month"
python examples/bikeshare/make_drops.py "$scratch/drops" >/dev/null
month() { echo "$scratch"/drops/bikeshare-2011-"$1"-*.csv; }
ingest() {  # drops the months into the inbox, as an upstream system would, and waits
    inbox="$MLOPS_HOME/inbox/bikeshare"
    mkdir -p "$inbox"
    for m in "$@"; do
        file=$(month "$m")
        cp "$file" "$inbox/.$(basename "$file").part"   # a temp name, then a rename
        mv "$inbox/.$(basename "$file").part" "$inbox/$(basename "$file")"
        dropped=$((dropped + 1))
    done
    deadline=$((SECONDS + 120))
    while [ "$SECONDS" -lt "$deadline" ]; do
        [ "$(count versions bikeshare)" -ge "$dropped" ] && return 0
        [ "$(count quarantine)" -eq 0 ] || fail_setup "a drop was quarantined: $(mlops data quarantine)"
        sleep 0.2
    done
    fail_setup "the drops were not ingested in 120 s: $(mlops data ingests)"
}
count() { mlops data "$@" --json | python -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
dropped=0

train() {  # prints the version it registered
    mlops train riders --wait --json --reason "$1" > "$scratch/train.json" \
        || fail_setup "training failed: $(cat "$scratch/train.json")"
    python -c 'import json, sys; print(json.load(open(sys.argv[1]))["result"]["version"])' \
        "$scratch/train.json"
}

step "production: riders trained on January to March"
ingest 01 02 03
baseline=$(train "ci: the baseline")
mlops promote riders "$baseline" --reason "ci: the baseline in production" >/dev/null

step "the new data: April to November, and December checked before it is ingested"
ingest 04 05 06 07 08 09 10 11
codes=()
set +e
mlops check data "$(month 12)" --dataset bikeshare \
    --junit "$reports/data.xml" --summary "$reports/data.md"
codes+=($?)
set -e
if [ "${codes[0]}" = 0 ]; then ingest 12; fi

step "a candidate trained on it, judged against production"
candidate=$(train "ci: the candidate")
set +e
mlops check model "riders:$candidate" --against production \
    --junit "$reports/model.xml" --summary "$reports/model.md"
codes+=($?)
set -e

worst=0   # 2 (could not check) over 1 (failed) over 0 (passed)
for code in "${codes[@]}"; do
    case "$code" in
        0) ;;
        1) [ "$worst" = 2 ] || worst=1 ;;
        *) worst=2 ;;
    esac
done
step "gate: exit $worst (data ${codes[0]}, model ${codes[1]}); reports in $reports"
exit "$worst"
