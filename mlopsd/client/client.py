"""The one Python way to talk to the daemon: used by the CLI, the TUI, notebooks and the
tests.

`Client` is the calls of each area of the API (one module each: system, jobs, data,
registry, runs, serving, monitoring, retraining, checks) over one transport
(`mlopsd.client.transport`). Replies are typed (the wire models of `mlopsd.client.wire`);
listings are pages (`mlopsd.client.pages`); the event stream follows the daemon across
dropped connections and restarts (`mlopsd.client.event_stream`).

Import-light by contract (checked by import-linter and a test): httpx and pydantic, never
the store, the jobs, DuckDB, LightGBM, SciPy or polars.
"""

from __future__ import annotations

from mlopsd.client.check_calls import CheckCalls
from mlopsd.client.data_calls import DataCalls
from mlopsd.client.job_calls import FINAL_JOB_STATES, JobCalls
from mlopsd.client.monitoring_calls import MonitoringCalls
from mlopsd.client.registry_calls import RegistryCalls
from mlopsd.client.retraining_calls import RetrainingCalls
from mlopsd.client.run_calls import RunCalls
from mlopsd.client.serving_calls import PredictionReply, ServingCalls
from mlopsd.client.system_calls import SystemCalls
from mlopsd.client.transport import DaemonNotRunning

__all__ = ["FINAL_JOB_STATES", "Client", "DaemonNotRunning", "PredictionReply"]


class Client(SystemCalls, JobCalls, DataCalls, RegistryCalls, RunCalls, ServingCalls,
             MonitoringCalls, RetrainingCalls, CheckCalls):
    """A client of one daemon: `Client.from_home()` (its address and token from the home)
    or `Client(base_url, token=…)`. Close it (or use it as a context manager) when done."""
