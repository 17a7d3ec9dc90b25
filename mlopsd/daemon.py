"""The daemon: owns the store, the job runner, the scheduler and the HTTP server.

Start-up order matters for "touch nothing on refusal": lock, config, bind, store. Each
refusal has its own exit code (see `ExitCode`) and a message that says what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import uvicorn
import uvloop

from mlopsd import __version__
from mlopsd.api.app import create_app
from mlopsd.api.auth import is_loopback
from mlopsd.atomic import write_bytes_atomic
from mlopsd.client.events import (
    DaemonStarted,
    DaemonStopped,
)
from mlopsd.config import Config
from mlopsd.config_reload import ConfigReload
from mlopsd.home import Home
from mlopsd.retraining.clock import SystemClock
from mlopsd.retraining.model_gate import ModelGate
from mlopsd.retraining.pipeline import Env as PipelineEnv
from mlopsd.retraining.schedules import RetrainSchedules
from mlopsd.retraining.service import RetrainService
from mlopsd.retraining.triggers import TriggerWatch
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.http_protocol import OneWriteHttpProtocol
from mlopsd.runtime.listening import ExitCode, StartError, bind_socket
from mlopsd.runtime.run_journal import RunJournal
from mlopsd.runtime.runner import JobRunner
from mlopsd.runtime.scheduler import Scheduler
from mlopsd.services.alerts import Alerts
from mlopsd.services.data_checks import DataChecks
from mlopsd.services.deploys import DeployService
from mlopsd.services.exports import ExportService
from mlopsd.services.home_writable import HomeWritableAlerts
from mlopsd.services.ingest import IngestService
from mlopsd.services.labels import LabelService
from mlopsd.services.logged_models import LoggedModels
from mlopsd.services.mlflow_artifacts import MlflowArtifacts
from mlopsd.services.mlflow_registry import MlflowRegistry
from mlopsd.services.mlflow_runs import MlflowRuns
from mlopsd.services.model_names import ModelNames
from mlopsd.services.monitoring import MonitoringService
from mlopsd.services.notify import Notifier
from mlopsd.services.prediction_records import PredictionRecords
from mlopsd.services.registry import Registry
from mlopsd.services.runs import Runs
from mlopsd.services.scoring import ScoringService
from mlopsd.services.service_watch import ServiceWatch
from mlopsd.services.tokens import TokenBook
from mlopsd.services.training import TrainService
from mlopsd.services.unservable import UnservableModels
from mlopsd.serving.http import PredictionApp
from mlopsd.serving.loaded import import_lightgbm_for_serving
from mlopsd.serving.prediction_log import PredictionLogger
from mlopsd.serving.served import ServedModels
from mlopsd.serving.stats import BatchingStats, ServingStats
from mlopsd.serving.stats_events import ServingStatsTicker
from store import audit
from store.artifacts import ArtifactStore
from store.db import Store, open_store

log = logging.getLogger("mlops.daemon")

__all__ = ["Daemon", "ExitCode", "StartError", "bind_socket"]


class _Server(uvicorn.Server):
    """Uvicorn re-raises SIGTERM after a graceful stop, which would end us with -15 instead
    of 0; the daemon installs its own handlers instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Daemon:
    def __init__(self, home: Home, config: Config, *, host: str, port: int) -> None:
        self.home, self.config = home, config
        self.host, self.requested_port = host, port
        self.port = port
        self.pid = os.getpid()
        self.require_token_for_reads = not is_loopback(host)
        self.token = home.read_token()
        self.bus = EventBus(keep=config.daemon.events_keep,
                            keep_age=timedelta(days=config.daemon.events_keep_days))
        self.scheduler = Scheduler()
        self.started_at = datetime.now(UTC)
        self.started_monotonic = time.monotonic()
        self.store: Store
        self.runner: JobRunner
        self.ingest: IngestService
        self.training: TrainService
        self.artifacts: ArtifactStore
        self.run_journal: RunJournal
        self.logged_models: LoggedModels
        self.exports: ExportService
        self.mlflow_runs: MlflowRuns
        self.mlflow_registry: MlflowRegistry
        self.mlflow_artifacts: MlflowArtifacts
        self.served: ServedModels
        self.deploys: DeployService
        self.scoring: ScoringService
        self.monitoring: MonitoringService
        self.service_watch: ServiceWatch
        self.notifier: Notifier
        self.serving_stats: ServingStats
        self.batching: BatchingStats
        """How concurrent requests were predicted together (micro-batches)."""
        self.prediction_log: PredictionLogger
        self.retraining: RetrainService
        self.retrain_schedules: RetrainSchedules
        self.data_checks: DataChecks
        self.model_gate: ModelGate
        self._server: _Server | None = None
        self.config_reload = ConfigReload(self)
        self._early_signals: list[int] = []

    def watched_dirs(self) -> list[Path]:
        return self.ingest.watched_dirs()

    def open(self, sock: socket.socket) -> None:
        """Open the store and start the parts; the socket is already bound."""
        self.port = sock.getsockname()[1]
        # A stop asked for while starting (daemon.json is written before the event loop
        # takes the signals over) is kept and honoured as soon as serving begins.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._early_signal)
        # Before any thread starts: the import briefly hides scikit-learn (see _lightgbm).
        import_lightgbm_for_serving()
        self.store = open_store(self.home.db)
        self.bus.attach(self.store)
        self.bus.prune()
        self.tokens = TokenBook(self.store, self.bus)
        self.tokens.ensure_owner(self.token)
        self.alerts = Alerts(self.store, self.bus)
        self.registry = Registry(self.store, self.bus)
        self.model_names = ModelNames(self.store, lambda: self.config.models())
        self.run_journal = RunJournal(self.store, self.home.run / "journal", self.bus)
        self.run_journal.start()
        self.runs = Runs(self.store, self.bus, self.run_journal)
        self.artifacts = ArtifactStore(self.home.artifacts)
        removed = self.artifacts.clean_tmp()
        if removed:
            log.info("removed %s partial artifact file(s) left by a crash", removed)
        for leftover in self.home.run.glob("backup-*"):  # a backup cut off by a crash
            shutil.rmtree(leftover, ignore_errors=True)
        self.runner = JobRunner(
            store=self.store,
            bus=self.bus,
            job_logs=self.home.job_logs,
            artifacts_root=self.home.artifacts,
            home_root=self.home.root,
            workers=self.config.daemon.worker_count(),
        )
        self.home_writable = HomeWritableAlerts(self.home.root, self.store, self.bus,
                                                self.runner.home_writes)
        requeued = self.runner.recover()
        if requeued:
            log.info("queued %s interrupted job(s) again", len(requeued))
        self.ingest = IngestService(self.home, self.config, self.store, self.runner, self.bus)
        self.ingest.labels = LabelService(self.home, self.config, self.store, self.runner,
                                          self.bus)
        self.training = TrainService(self.config, self.store, self.runner, self.bus)
        self.logged_models = LoggedModels(self.store, self.artifacts, self.runner, self.bus)
        self.exports = ExportService(self.store, self.runner, lambda: self.config.serving)
        self.mlflow_runs = MlflowRuns(self.store, self.bus, self.runs)
        self.mlflow_registry = MlflowRegistry(self.store, self.runner, self.bus)
        self.mlflow_artifacts = MlflowArtifacts(self.store, self.artifacts, lambda: int(
            self.config.tracking.max_artifact_mb * 1024 * 1024))
        self.served = ServedModels(self.store, self.artifacts,
                                   fallback_to_previous=self.config.serving.fallback_to_previous)
        self.served.start()
        self.deploys = DeployService(self.config, self.store, self.served, self.bus)
        self.unservable = UnservableModels(self.store, self.served, self.bus)
        self.unservable.report()
        self.deploys.production_moved.append(self.unservable.production_moved)
        self.training.repaired_hooks.append(
            lambda name, version: self.unservable.repaired(name, version, actor="mlopsd"))
        self.scoring = ScoringService(self.home, self.config, self.store, self.runner,
                                      self.served, self.bus, self.model_names)
        self.monitoring = MonitoringService(self.config, self.store, self.runner, self.served,
                                            self.bus, self.artifacts)
        self.deploys.production_moved.append(self.monitoring.production_moved)
        # CI gates: before the runner starts, so a check queued before a restart finds
        # its completion and its file.
        self.data_checks = DataChecks(self.home, self.store, self.runner, self.ingest)
        self.data_checks.start()
        self.model_gate = ModelGate(self.store, self.runner, lambda: self.config)
        self.serving_stats = ServingStats()
        self.batching = BatchingStats()
        self.serving_ticker = ServingStatsTicker(self.serving_stats, self.bus)
        self.prediction_log = PredictionLogger(self.store, sample=self.config.serving.log_sample,
                                               queue_size=self.config.serving.log_queue)
        self.prediction_log.start()
        self.prediction_records = PredictionRecords(self.store, self.bus,
                                                    lambda: self.config.serving.log_keep_days)
        self.runner.warm_up()
        self.ingest.recover_files()
        self.runner.start()
        self.ingest.start()
        self.scoring.start()
        self.scheduler.start()
        self.prediction_records.start(self.scheduler.aps)
        self.scheduler.aps.add_job(
            self.ingest.rescan, "interval", seconds=self.config.ingest.rescan_interval_s,
            id="inbox-rescan", name="inbox rescan",
        )
        self.scheduler.aps.add_job(self.deploys.check_canaries, "interval", seconds=1.0,
                                   id="canary-watch", name="canary watch")
        self.service_watch = ServiceWatch(self.config.monitoring, self.store, self.served,
                                          self.serving_stats, self.bus,
                                          label_join=self.label_join,
                                          limits=self._alert_limits)
        self.scheduler.aps.add_job(self.service_watch.check, "interval",
                                   seconds=self.config.monitoring.check_interval_s,
                                   id="service-watch", name="service alerts")
        self.scheduler.aps.add_job(self.service_watch.check_performance, "interval",
                                   seconds=self.config.monitoring.performance_check_s,
                                   id="performance-watch", name="performance alerts")
        self.scheduler.aps.add_job(self.serving_ticker.tick, "interval", seconds=1.0,
                                   id="serving-stats", name="serving statistics events")
        self.scheduler.aps.add_job(self.bus.prune, "interval", seconds=60.0,
                                   id="event-prune", name="event outbox pruning")
        self._start_retraining()
        self.notifier = Notifier(self.config.hook, self.bus)
        self.notifier.start()
        timeout = self.config.tracking.run_timeout_s
        self.scheduler.aps.add_job(
            self._fail_stale_runs, "interval", seconds=max(1.0, min(30.0, timeout / 4)),
            id="stale-runs", name="stale run check",
        )
        with self.store.transaction():
            entry = audit.append(self.store, actor="mlopsd", action="daemon.start",
                                 subject=str(self.home.root),
                                 details={"pid": self.pid, "port": self.port,
                                          "version": __version__})
            self.bus.publish(DaemonStarted(pid=self.pid, port=self.port, version=__version__),
                             audit=entry)
        self._write_daemon_json()

    def _start_retraining(self) -> None:
        clock = SystemClock()
        self.retraining = RetrainService(PipelineEnv(
            store=self.store, runner=self.runner, training=self.training,
            deploys=self.deploys, served=self.served, stats=self.serving_stats, bus=self.bus,
            model=self.training.spec, monitoring=lambda: self.config.monitoring,
            label_join=self.label_join, clock=clock))
        self.retraining.start()
        self.triggers = TriggerWatch(self.store, self.bus, self.retraining,
                                     lambda: self.config.models())
        self.triggers.start()
        self.retrain_schedules = RetrainSchedules(self.store, self.scheduler.aps,
                                                  self.retraining, clock)
        self.retrain_schedules.sync(self.config.models())
        missed = self.retrain_schedules.run_missed(self.config.models())
        if missed:
            log.info("ran %s schedule(s) missed while the daemon was down", missed)
        self.scheduler.aps.add_job(self.config_reload.if_changed, "interval", seconds=2.0,
                                   id="config-watch", name="mlops.toml watch")

    def reload(self, *, actor: str) -> dict[str, object]:
        """Read mlops.toml again and apply its models (see mlopsd.config_reload)."""
        return self.config_reload.reload(actor=actor)

    def _prediction_failed(self, model: str, version: str, error: str, answered_by: str) -> None:
        """A served version raised on a request (called off the event loop)."""
        self.alerts.raise_(
            rule="prediction_failed", subject=f"model:{model}", severity="critical",
            message=f"{model}:{version} failed to predict ({error}); {answered_by} answered",
            detail={"version": version, "error": error, "answered_by": answered_by})

    def _alert_limits(self, model: str) -> dict[str, float | None]:
        declared = self.config.models().get(model)
        if declared is None:
            return {}
        m = declared.monitoring
        return {"latency_p95_ms": m.latency_p95_ms, "error_rate": m.error_rate,
                "performance_drop": m.performance_drop}

    def label_join(self, model: str) -> tuple[str | None, str | None]:
        """The dataset and id column that label files for `model` join on."""
        declared = self.config.models().get(model)
        dataset = self.config.datasets().get(declared.data.split("@", 1)[0]) if declared \
            else None
        return (dataset.name, dataset.id_column) if dataset else (None, None)

    def _fail_stale_runs(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(seconds=self.config.tracking.run_timeout_s)
        for run_id in self.runs.fail_stale(cutoff):
            log.warning("run %s stopped reporting; marked failed", run_id)

    def _write_daemon_json(self) -> None:
        info = {
            "pid": self.pid,
            "host": self.host,
            "port": self.port,
            "started_at": self.started_at.isoformat(),
            "version": __version__,
        }
        write_bytes_atomic(self.home.daemon_json, orjson.dumps(info, option=orjson.OPT_INDENT_2))

    def serve(self, sock: socket.socket) -> None:
        serving = self.config.serving
        app = PredictionApp(
            create_app(self), served=self.served, logger=self.prediction_log,
            fallback=serving.fallback, on_failure=self._prediction_failed,
            on_feedback=self.prediction_records.feedback, unseen=serving.unseen_categories,
            stats=self.serving_stats, tokens=self.tokens,
            require_token=self.require_token_for_reads, max_rows=serving.max_rows,
            max_body_bytes=int(serving.max_body_mb * 1024 * 1024),
            model_names=self.model_names, batch_wait_ms=serving.batch_wait_ms,
            batch_max_rows=serving.batch_max_rows, batching=self.batching)
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            http=OneWriteHttpProtocol,
            timeout_graceful_shutdown=5,
        )
        self._server = _Server(config)
        log.info("mlopsd %s listening on http://%s:%s (home %s)", __version__, self.host,
                 self.port, self.home.root)
        if self.require_token_for_reads and not self.config.daemon.tls_terminator:
            log.warning("listening beyond loopback on plain HTTP: tokens and data cross the "
                        "network in clear text. Put a TLS terminator in front (a reverse "
                        "proxy such as Caddy or nginx, see the README) and say so in "
                        "mlops.toml: [daemon] tls_terminator = \"...\"")
        # uvicorn's loop="uvloop" only applies inside uvicorn.run(); serving on our own
        # socket, the loop is made here (uvloop: ~30% less loop overhead per request).
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self._serve_until_signalled(sock))

    def _early_signal(self, sig: int, _frame: object) -> None:
        self._early_signals.append(sig)

    async def _serve_until_signalled(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._request_stop, sig)
        assert self._server is not None
        if self._early_signals:
            self._request_stop(self._early_signals[0])
        await self._server.serve(sockets=[sock])

    def _request_stop(self, sig: int) -> None:
        assert self._server is not None
        if self._server.should_exit:
            self._server.force_exit = True
            return
        log.info("received %s: stopping", signal.Signals(sig).name)
        self._server.should_exit = True
        self.bus.close_streams()  # event streams end now, not after the graceful timeout

    def close(self) -> None:
        """Stop the parts in reverse order; leave a store that opens cleanly."""
        self.scheduler.shutdown()
        self.triggers.stop()
        self.retraining.stop()
        self.ingest.stop()
        self.scoring.stop()
        self.runner.stop(self.config.daemon.shutdown_grace_s)
        self.prediction_log.stop()
        self.notifier.stop()
        self.run_journal.stop()
        try:
            with self.store.transaction():
                entry = audit.append(self.store, actor="mlopsd", action="daemon.stop",
                                     subject=str(self.home.root), details={"pid": self.pid})
                self.bus.publish(DaemonStopped(pid=self.pid), audit=entry)
            self.store.checkpoint()
        except Exception:
            # The WAL still holds every committed change; the next start replays it.
            log.exception("could not checkpoint the store on the way out")
        finally:
            self.store.close()
