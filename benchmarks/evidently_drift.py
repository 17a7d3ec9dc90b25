"""Evidently's data-drift preset on two Parquet files, for `scripts/bench drift` to set
beside ours. Run with a Python that has evidently 0.7 (it needs pandas < 3: a separate
environment, e.g. `python -m venv /tmp/evenv && /tmp/evenv/bin/pip install
"evidently==0.7.23" "pandas<3"`), then `MLOPS_EVIDENTLY_PYTHON=/tmp/evenv/bin/python
scripts/bench drift`.

    python benchmarks/evidently_drift.py REFERENCE.parquet CURRENT.parquet

Prints one JSON line: seconds for the report, the process's peak memory, and per column
the value and verdict (the same tests as mlops' `auto` for large references: Wasserstein
distance normalised by the reference's std and Jensen-Shannon distance, both at 0.1).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def main() -> None:
    reference = pd.read_parquet(sys.argv[1])
    current = pd.read_parquet(sys.argv[2])
    report = Report([DataDriftPreset(num_method="wasserstein", cat_method="jensenshannon",
                                     num_threshold=0.1, cat_threshold=0.1)])
    started = time.perf_counter()
    snapshot = report.run(current_data=current, reference_data=reference)
    seconds = time.perf_counter() - started
    columns = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            value = float(metric["value"])
            columns[config["column"]] = {"value": value, "drifted": value >= config["threshold"]}
    print(json.dumps({"seconds": seconds,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "columns": columns}))


if __name__ == "__main__":
    main()
