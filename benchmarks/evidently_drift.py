"""Evidently's data-drift preset on two Parquet files, for `scripts/bench drift` to set
beside ours. It runs with the anchors' Python (.venv-anchors, made by
`scripts/bench --with-anchors`: evidently 0.7 needs pandas < 3), never .venv's.

    python benchmarks/evidently_drift.py REFERENCE.parquet CURRENT.parquet [COLUMNS]

COLUMNS: comma-separated, the columns to compare (default: all). Prints one JSON line:
seconds to read both files and for the report, the process's peak memory, and per column
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
    import evidently

    started = time.perf_counter()
    columns = sys.argv[3].split(",") if len(sys.argv) > 3 else None
    reference = pd.read_parquet(sys.argv[1], columns=columns)
    current = pd.read_parquet(sys.argv[2], columns=columns)
    read_s = time.perf_counter() - started
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
    print(json.dumps({"seconds": seconds, "read_s": read_s, "version": evidently.__version__,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "columns": columns}))


if __name__ == "__main__":
    main()
