"""No job reads, moves or writes a file outside the home, whoever asks and however.

Three doors are checked: the API (people may queue only kinds whose params are names,
selectors and numbers), the daemon (every path-bearing param resolves inside the home
before a job is queued) and the job itself (it checks again before it opens anything).
A sentinel file outside the home keeps its inode, size and mtime throughout.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from jobs import labels, score
from jobs.context import InvalidParams, JobContext
from jobs.ingest import run as ingest_run
from jobs.registry import KINDS
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.runner import JobRunner
from store.artifacts import ArtifactStore
from store.db import open_store
from tests import bikes
from tests.daemon_process import DaemonProcess, wait_until

PEOPLE = {"selfcheck", "train", "reproduce", "materialise", "drift"}
CONFIG = """
[ingest]
settle_s = 0.2

[[dataset]]
name = "rides"
id_column = "instant"
target = "bikers"
"""


class Sentinel:
    """A file outside the home whose identity must not change."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "secret.csv"
        self.path.write_text("instant,bikers\n1,2\n")
        self.before = self._identity()

    def _identity(self) -> tuple[int, int, int]:
        st = self.path.stat()
        return st.st_ino, st.st_size, st.st_mtime_ns

    def untouched(self) -> bool:
        return self.path.exists() and self._identity() == self.before


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory):
    daemon = DaemonProcess(tmp_path_factory.mktemp("paths") / "home", config=CONFIG).start()
    yield daemon
    assert daemon.stop() == 0


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Sentinel:
    return Sentinel(tmp_path_factory.mktemp("outside"))


def _hostile_paths(d: DaemonProcess, sentinel: Sentinel) -> dict[str, str]:
    link = d.home.root / "inbox" / "link-to-secret.csv"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(sentinel.path)
    up = os.path.relpath(sentinel.path, d.home.root / "inbox")
    return {"absolute": str(sentinel.path), "dotdot": str(d.home.root / "inbox" / up),
            "relative": up, "symlink": str(link)}


def _post(d: DaemonProcess, body: dict[str, Any]) -> httpx.Response:
    assert d.client is not None
    with httpx.Client(base_url=d.client.base_url, timeout=10) as http:
        return http.post("/api/v1/jobs", json=body,
                         headers={"Authorization": f"Bearer {d.home.read_token()}"})


def test_job_kinds_say_who_may_queue_them(d: DaemonProcess) -> None:
    assert d.client is not None
    kinds = {k["name"]: k for k in httpx.get(f"{d.client.base_url}/api/v1/job-kinds").json()}
    assert set(kinds) == set(KINDS)
    assert {n for n, k in kinds.items() if k["queued_by"] == "people"} == PEOPLE
    assert kinds["train"]["params"]["model"]
    assert kinds["ingest"]["params"] == {}


@pytest.mark.parametrize("kind", sorted(set(KINDS) - PEOPLE))
def test_the_daemons_own_kinds_cannot_be_queued_with_any_path(
        d: DaemonProcess, sentinel: Sentinel, kind: str) -> None:
    fields = KINDS[kind].path_params or ("path",)
    for how, path in _hostile_paths(d, sentinel).items():
        for field in fields:
            params = {"dataset": "rides", "model": "m", field: path,
                      "output": str(d.home.root / "outbox" / "x.parquet")}
            if field == "output":
                params["source"] = str(d.home.root / "score" / "m" / "x.csv")
            reply = _post(d, {"kind": kind, "params": params})
            assert reply.status_code == 403, (kind, how, field, reply.text)
            error = reply.json()["error"]
            assert error["field"] == "kind" and "queued by the daemon" in error["message"]
    assert sentinel.untouched()
    assert not any(p.name.endswith("secret.csv") for p in d.home.root.rglob("*")
                   if not p.is_symlink())


@pytest.mark.parametrize("kind,field", [("train", "model"), ("reproduce", "model"),
                                        ("materialise", "selector"), ("drift", "model"),
                                        ("drift", "against"), ("selfcheck", "path")])
def test_peoples_kinds_take_names_not_paths(d: DaemonProcess, sentinel: Sentinel,
                                            kind: str, field: str) -> None:
    for how, path in _hostile_paths(d, sentinel).items():
        others = {"reproduce": {"version": "1.0.0"}, "drift": {"model": "riders"}}.get(kind, {})
        reply = _post(d, {"kind": kind, "params": {**others, field: path}})
        assert 400 <= reply.status_code < 500, (kind, how, reply.text)
        assert reply.json()["error"]["field"] == f"params.{field}", reply.text
    assert sentinel.untouched()


def test_a_person_queues_a_training_by_the_models_name(d: DaemonProcess) -> None:
    reply = _post(d, {"kind": "train", "params": {"model": "nope"}})
    assert reply.status_code == 404 and "nope" in reply.json()["error"]["message"]
    queued = _post(d, {"kind": "selfcheck", "params": {}})
    assert queued.status_code == 202 and queued.json()["kind"] == "selfcheck"


def test_a_symlinked_score_drop_is_quarantined_and_its_target_untouched(
        d: DaemonProcess, sentinel: Sentinel) -> None:
    assert d.client is not None
    trained = bikes.train()
    d.client.promote("riders", bikes.log(d.client, trained, "riders"))
    folder = d.home.score / "riders"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "linked.csv").symlink_to(sentinel.path)
    quarantine = folder / ".quarantine"
    reason_file = wait_until(lambda: next(iter(quarantine.glob("*linked.csv.reason.json")),
                                          None), timeout=30, what="the quarantined link")
    assert "symbolic link" in orjson.loads(reason_file.read_bytes())["reason"]
    assert (quarantine / reason_file.name.removesuffix(".reason.json")).is_symlink()
    assert sentinel.untouched()
    assert not list((d.home.outbox / "riders").glob("linked*"))


def test_a_symlinked_label_file_is_quarantined_and_its_target_untouched(
        d: DaemonProcess, sentinel: Sentinel) -> None:
    folder = d.home.inbox / "rides"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "late.labels.csv").symlink_to(sentinel.path)
    quarantine = d.home.quarantine / "rides"
    wait_until(lambda: next(iter(quarantine.glob("*late.labels.csv*")), None), timeout=30,
               what="the quarantined label link")
    assert sentinel.untouched()


# --- the daemon's check, then the job's own ------------------------------------------------


def test_the_runner_refuses_a_path_outside_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "inbox" / "rides").mkdir(parents=True)
    store = open_store(home / "meta.duckdb")
    try:
        runner = JobRunner(store=store, bus=EventBus(), job_logs=home / "logs",
                           artifacts_root=home / "artifacts", home_root=home, workers=1)
        sentinel = Sentinel(tmp_path / "outside")
        link = home / "inbox" / "rides" / "x.csv"
        link.symlink_to(sentinel.path)
        for path in (sentinel.path, home / "inbox" / ".." / ".." / "outside" / "secret.csv",
                     link):
            with pytest.raises(InvalidParams, match="outside the home"):
                runner.submit("ingest", {"dataset": "rides", "path": str(path)}, actor="test")
            with pytest.raises(InvalidParams, match="outside the home"):
                runner.submit("labels", {"path": str(path), "dataset": "rides",
                                         "id_column": "instant", "target": "bikers"},
                              actor="test")
        assert sentinel.untouched()
    finally:
        store.close()


def _ctx(home: Path) -> JobContext:
    return JobContext(job_id=1, log=logging.getLogger("test.paths"),
                      artifacts=ArtifactStore(home / "artifacts"), emit=lambda *a, **k: None,
                      home=home)


def test_each_job_checks_its_paths_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "score").mkdir(parents=True)
    sentinel = Sentinel(tmp_path / "outside")
    link = home / "score" / "linked.csv"
    link.symlink_to(sentinel.path)
    ctx = _ctx(home)
    inside = str(home / "outbox" / "x.predictions.parquet")
    for path in (str(sentinel.path), str(home / ".." / "outside" / "secret.csv"), str(link)):
        with pytest.raises(InvalidParams, match="outside the home"):
            ingest_run({"dataset": "rides", "path": path}, ctx)
        with pytest.raises(InvalidParams, match="outside the home"):
            labels.run({"path": path, "id_column": "instant", "target": "bikers"}, ctx)
        base = {"model": "m", "version": "1.0.0", "sha": "0" * 64, "signature": {"inputs": []}}
        with pytest.raises(InvalidParams, match="outside the home"):
            score.run({**base, "source": path, "output": inside}, ctx)
    outside = sentinel.path.with_name("out.parquet")
    (home / "outbox").mkdir()
    (home / "outbox" / "linked").symlink_to(outside.parent, target_is_directory=True)
    for output in (outside, home / ".." / "outside" / "out.parquet",
                   home / "outbox" / "linked" / "out.parquet"):
        with pytest.raises(InvalidParams, match="outside the home"):
            score.run({**base, "source": str(home / "score" / "in.csv"),
                       "output": str(output)}, ctx)
    assert sentinel.untouched()
    assert not (sentinel.path.parent / "out.parquet").exists()
