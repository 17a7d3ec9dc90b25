"""`/metrics` in the Prometheus text format (version 0.0.4), built on each scrape from what
the daemon already keeps: per-version serving numbers (requests, errors, rows, latency
quantiles over the recent window), the prediction log's counters, jobs by state, open
alerts by rule, and the daemon process's CPU and memory."""

from __future__ import annotations

import resource
import time
from collections import Counter
from typing import Any

from store import alerts as alert_repo
from store import jobs as job_repo

_QUANTILES = (("0.5", "p50_ms"), ("0.95", "p95_ms"), ("0.99", "p99_ms"))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


class _Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help: str,
               samples: list[tuple[dict[str, str], float]], suffix: str = "") -> None:
        # The text format names a counter by its samples' name (with _total) in HELP and
        # TYPE too, as prometheus_client writes it.
        full = name + suffix
        self.lines.append(f"# HELP {full} {help}")
        self.lines.append(f"# TYPE {full} {kind}")
        for labels, value in samples:
            self.lines.append(f"{full}{_labels(labels)} {_number(value)}")


def _number(value: float) -> str:
    if value != value:
        return "NaN"
    return repr(float(value))


def _rss_bytes() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def render(daemon: Any) -> str:
    out = _Text()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.family("mlops_uptime_seconds", "gauge", "Seconds since the daemon started.",
               [({}, time.monotonic() - daemon.started_monotonic)])
    out.family("mlops_process_cpu_seconds", "counter", "CPU time of the daemon process.",
               [({}, usage.ru_utime + usage.ru_stime)], suffix="_total")
    out.family("mlops_process_resident_memory_bytes", "gauge",
               "Resident memory of the daemon process.", [({}, _rss_bytes())])
    counts = job_repo.count_by_state(daemon.store)
    out.family("mlops_jobs", "gauge", "Jobs by state.",
               [({"state": s}, float(counts.get(s, 0)))
                for s in ("queued", "running", "succeeded", "failed", "interrupted",
                          "cancelled")])
    stats = daemon.serving_stats.summary()

    def per_version(field: str) -> list[tuple[dict[str, str], float]]:
        samples = []
        for key, numbers in sorted(stats.items()):
            model, _, version = key.rpartition(":")
            samples.append(({"model": model, "version": version}, float(numbers[field])))
        return samples

    out.family("mlops_predict_requests", "counter", "Prediction requests per version.",
               per_version("requests"), suffix="_total")
    out.family("mlops_predict_errors", "counter",
               "Prediction requests the version failed (served by a fallback or a 500).",
               per_version("errors"), suffix="_total")
    out.family("mlops_predict_client_errors", "counter",
               "Prediction requests refused for their input (4xx).",
               per_version("client_errors"), suffix="_total")
    out.family("mlops_predict_rows", "counter", "Rows scored per version.",
               per_version("rows"), suffix="_total")
    latency = []
    for key, numbers in sorted(stats.items()):
        model, _, version = key.rpartition(":")
        for quantile, field in _QUANTILES:
            if numbers[field] is not None:
                latency.append(({"model": model, "version": version, "quantile": quantile},
                                numbers[field] / 1000))
    out.family("mlops_predict_latency_seconds", "gauge",
               "Request latency quantiles over each version's recent requests.", latency)
    log = daemon.prediction_log.stats()
    out.family("mlops_prediction_log_rows", "counter", "Rows written to the prediction log.",
               [({}, float(log["logged_rows"]))], suffix="_total")
    out.family("mlops_prediction_log_dropped", "counter",
               "Requests not logged because the log's queue was full.",
               [({}, float(log["dropped"]))], suffix="_total")
    out.family("mlops_prediction_log_sample_rate", "gauge",
               "Share of requests logged now.", [({}, float(log["sample_rate"]))])
    issues = log["input_issues"]
    for kind, name, help in (
            ("ignored_columns", "mlops_predict_ignored_columns",
             "Prediction requests that sent an input column the model does not use."),
            ("unseen_categories", "mlops_predict_unseen_categories",
             "Rows with a category the model never saw in training (scored as missing).")):
        out.family(name, "counter", help,
                   [({"model": model, "column": column}, float(n))
                    for model, found in sorted(issues.items())
                    for column, n in sorted(found[kind].items())], suffix="_total")
    open_by_rule = Counter(a.rule for a in alert_repo.list_alerts(daemon.store, state="open",
                                                                  limit=10_000))
    out.family("mlops_alerts_open", "gauge", "Open alerts by rule.",
               [({"rule": rule}, float(n)) for rule, n in sorted(open_by_rule.items())])
    out.family("mlops_models_served", "gauge", "Models with a live production version.",
               [({}, float(len(daemon.served.served())))])
    return "\n".join(out.lines) + "\n"
