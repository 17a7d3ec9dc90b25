"""Jobs and schedules: running and recent jobs with progress, the selected job's log
(following while it runs), the schedules with their next run; cancel a job, run a
schedule now."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Log
from textual.worker import get_current_worker

from mlopsd.client.pages import PagedList
from mlopsd.client.wire import EventOut, JobOut, ScheduleOut
from tui.dialogs.confirm_action import ActionSpec
from tui.format import short, state_text, when
from tui.keys import JOBS
from tui.screens.base import MlopsScreen
from tui.widgets.filter_bar import FilterBar
from tui.widgets.keyed_table import KeyedTable

JOB_COLUMNS = ["id", "kind", "state", "progress", "actor", "created", "took", "error"]
SCHEDULE_COLUMNS = ["model", "next run", "cron", "kind", "last run"]
LOG_POLL_S = 0.3


class JobsScreen(MlopsScreen):
    MODE = "jobs"
    TITLE = "Jobs"
    AUTO_FOCUS = "#jobs-table"
    EVENTS = ("job", "ingest", "train.queued", "drift.queued", "score", "pipeline", "config")
    BINDINGS = [*MlopsScreen.BINDINGS, *JOBS]

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[JobOut] = []
        self.schedules: list[ScheduleOut] = []
        self.progress: dict[int, str] = {}
        self.following: int | None = None
        self.follow = True

    def compose_body(self) -> ComposeResult:
        with Vertical(id="jobs-body"):
            yield Label("Jobs", id="jobs-title", classes="section-title")
            yield KeyedTable(JOB_COLUMNS, id="jobs-table", classes="filterable")
            yield FilterBar()
            with Horizontal(id="jobs-lower"):
                with Vertical(id="log-pane"):
                    yield Label("Log", id="log-title", classes="section-title")
                    yield Log(id="job-log", max_lines=5000)
                with Vertical(id="schedules-pane"):
                    yield Label("Schedules", classes="section-title")
                    yield KeyedTable(SCHEDULE_COLUMNS, id="schedules-table")

    def fetch(self) -> tuple[list[JobOut], list[ScheduleOut]]:
        running = self.source.jobs(state="running")
        recent = self.source.jobs(pages=self.pages, page_size=self.page)
        seen = {j.id for j in running}
        jobs = PagedList([*running, *(j for j in recent if j.id not in seen)], recent.next)
        return jobs, self.source.schedules()

    def show(self, data: tuple[list[JobOut], list[ScheduleOut]]) -> None:
        self.clear_problem()
        self.jobs, self.schedules = data
        self.query_one("#jobs-table", KeyedTable).sync(
            [(str(j.id), self._job_cells(j)) for j in self.jobs])
        self.set_label("#jobs-title",
            f"Jobs: {sum(j.state == 'running' for j in self.jobs)} running, newest "
            f"{len(self.jobs)} shown{self.more_hint(self.jobs, 'newest')}")
        self.query_one("#schedules-table", KeyedTable).sync([
            (s.id, [s.model, when(s.next_run_at), s.cron, "dry run" if s.dry_run else "retrain",
                    when(s.last_run_at)]) for s in self.schedules])
        self._follow_selected()

    def _job_cells(self, j: JobOut) -> list[Any]:
        took = "-"
        if j.started_at:
            took = (f"{(j.ended_at - j.started_at).total_seconds():.1f}s" if j.ended_at
                    else "running")
        return [str(j.id), j.kind, state_text(j.state), self.progress.get(j.id, ""),
                j.actor, when(j.created_at), took, Text(short(j.error, 50), style="red")]

    def daemon_event(self, event: EventOut) -> None:
        job_id = event.data.get("job_id")
        if event.type in ("train.iteration", "job.progress", "score.progress") and job_id:
            self.progress[job_id] = _progress(event)
            job = next((j for j in self.jobs if j.id == job_id), None)
            if job is not None:
                table = self.query_one("#jobs-table", KeyedTable)
                if str(job_id) in [r.value for r in table.rows]:
                    table.update_cell(str(job_id), "progress", self.progress[job_id],
                                      update_width=True)
                    table._measure()
            return
        super().daemon_event(event)

    # --- the log -------------------------------------------------------------------------

    def selected_job(self) -> JobOut | None:
        key = self.query_one("#jobs-table", KeyedTable).selected_key
        return next((j for j in self.jobs if str(j.id) == key), None)

    @on(DataTable.RowHighlighted, "#jobs-table")
    def _job_chosen(self, _event: DataTable.RowHighlighted) -> None:
        self._follow_selected()

    def _follow_selected(self) -> None:
        job = self.selected_job()
        if job is None or job.id == self.following:
            return
        self.following = job.id
        log = self.query_one("#job-log", Log)
        log.clear()
        self.set_label("#log-title", f"Log of job {job.id} ({job.kind})")
        self.run_worker(lambda: self._tail(job.id), thread=True, group="log",
                        exclusive=True, exit_on_error=False)

    def _tail(self, job_id: int) -> None:
        """One long-lived loop per followed job: reads the log from where it left off
        until the job has ended (and its last text is read) or another job is chosen."""
        worker = get_current_worker()
        offset = 0
        while not worker.is_cancelled:
            chunk = self.source.job_log(job_id, offset)
            if chunk.text:
                self.app.call_from_thread(self._append, job_id, chunk.text)
            offset = chunk.next_offset
            if chunk.complete and not chunk.text:
                self.app.call_from_thread(self._append, job_id, "")
                return
            if not chunk.text:
                deadline = time.monotonic() + LOG_POLL_S
                while not worker.is_cancelled and time.monotonic() < deadline:
                    time.sleep(0.05)

    def _append(self, job_id: int, text: str) -> None:
        if job_id != self.following:
            return
        log = self.query_one("#job-log", Log)
        log.auto_scroll = self.follow
        if text:
            log.write(text)
        else:
            self.set_label("#log-title", f"Log of job {job_id} (ended)")

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.query_one("#job-log", Log).auto_scroll = self.follow
        self.notify("following the log" if self.follow else "not following the log")

    # --- actions -------------------------------------------------------------------------

    def action_cancel_job(self) -> None:
        job = self.selected_job()
        if job is None:
            self.notify("no job selected", severity="warning")
            return
        if job.state not in ("queued", "running"):
            self.notify(f"job {job.id} is {job.state}: nothing to cancel", severity="warning")
            return
        spec = ActionSpec(f"Cancel job {job.id} ({job.kind})", [
            f"the job is {job.state}; it stops and ends as cancelled",
            "the reason is kept with the job and in the audit log"], confirm="Cancel job")
        self.app.ask_and_run(spec, f"job {job.id}", lambda given: (
            f"job {job.id}: cancel requested (was "
            f"{self.source.cancel_job(job.id, given.reason).state})"))

    def action_run_now(self) -> None:
        key = self.query_one("#schedules-table", KeyedTable).selected_key
        schedule = next((s for s in self.schedules if s.id == key), None)
        if schedule is None:
            self.notify("no schedule selected", severity="warning")
            return
        spec = ActionSpec(f"Run {schedule.id} now", [
            f"a retraining pipeline of {schedule.model} starts now"
            + (" (a dry run: up to the gate's decision)" if schedule.dry_run else ""),
            f"the schedule keeps its next run ({when(schedule.next_run_at)})",
            "one pipeline per model: if one runs already this is merged into it"],
            confirm="Run now")

        def run(given: Any) -> str:
            out = self.source.retrain(schedule.model, given.reason, dry_run=schedule.dry_run)
            if out.pipeline is None:
                return f"{schedule.model}: no retrain ({out.skipped})"
            return f"{schedule.model}: pipeline {out.pipeline.id} {out.pipeline.state}"

        self.app.ask_and_run(spec, schedule.id, run)


def _progress(event: EventOut) -> str:
    data = event.data
    if event.type == "train.iteration":
        valid = data.get("valid") or {}
        metric = next(iter(valid.items()), None)
        return f"round {data.get('iteration')}" + (
            f" {metric[0]} {metric[1]:.4g}" if metric and metric[1] is not None else "")
    if event.type == "score.progress":
        return f"{data.get('rows', '?')} rows"
    return str(data.get("step", ""))
