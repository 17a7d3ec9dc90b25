"""MLflow's own client against a real daemon (issue 15, part 1): a notebook's MLflow code,
unchanged (examples/mlflow/notebook.py, run by this venv's Python in a process of its own
with MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN), tracks, searches, trains LightGBM
under autolog, registers and aliases; then this system is asked what it recorded: the runs
through our client, `mlops runs` and the terminal UI, the version in our registry, the
alias moved through the same door as `mlops promote`, and a prediction equal to the
booster's. And what is refused, in MLflow's error shape: a call it does not answer, no
token, the wrong role, a path leaving the artifact root, a pickled model, a model without
a signature."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import bikes
from tests.daemon_process import DaemonProcess, run_mlops
from tests.tui_screen import Opened, loaded, pilot_test, type_text, wait_for, wait_for_text
from tui.widgets.keyed_table import KeyedTable

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "mlflow" / "notebook.py"
MLFLOW = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(tmp_path_factory.mktemp("mlflow") / "home").start()
    yield daemon
    assert daemon.stop() == 0


@pytest.fixture(scope="module")
def notebook(d: DaemonProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the notebook made (its JSON summary), run once for the module."""
    assert d.client is not None
    out = tmp_path_factory.mktemp("notebook") / "summary.json"
    env = {**os.environ, "MLFLOW_TRACKING_URI": d.client.base_url,
           "MLFLOW_TRACKING_TOKEN": d.home.read_token(),
           # a refusal fails the notebook at once instead of after minutes of retries
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "GIT_PYTHON_REFRESH": "quiet"}
    done = subprocess.run([sys.executable, str(NOTEBOOK), str(bikes.CSV), str(out)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=out.parent)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())


def _http(d: DaemonProcess, token: str | None = "owner") -> httpx.Client:
    assert d.client is not None
    secret = d.home.read_token() if token == "owner" else token
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.Client(base_url=d.client.base_url, headers=headers, timeout=60)


def test_the_notebook_runs_unchanged(notebook: dict[str, Any]) -> None:
    assert notebook["found"] == [notebook["run_id"]], "search_runs with MLflow's filter"
    assert notebook["history"] == 1000
    assert notebook["scratch_id"] not in notebook["active_after_delete"]
    assert (notebook["deleted_stage"], notebook["restored_stage"]) == ("deleted", "active")
    assert (notebook["version"], notebook["version_status"]) == ("1", "READY")
    assert notebook["alias_version"] == "1"


def test_its_runs_are_ours_like_any_other(d: DaemonProcess, notebook: dict[str, Any]) -> None:
    assert d.client is not None
    run = d.client.get_run(notebook["run_id"])
    assert run.experiment == "notebook" and run.state == "finished"
    assert run.params == {"learning_rate": "0.1", "num_leaves": "15", "features": "numeric"}
    assert run.tags["team"] == "growth" and run.tags["mlflow.runName"] == "notebook"
    assert run.metrics == {"loss": 0.001, "rmse": 12.5}
    history = d.client.metric_history(notebook["run_id"], "loss")
    assert [p.step for p in history] == list(range(1000))
    assert history[9].value == pytest.approx(0.1)
    found = d.client.list_runs(filter="params.learning_rate = '0.1' and tags.team = growth")
    assert [r.id for r in found] == [notebook["run_id"]]
    trained = d.client.get_run(notebook["trained_run_id"])
    assert trained.params["objective"] == "regression"
    assert len(d.client.metric_history(trained.id, "valid_0-l2")) >= 20
    assert trained.tags["model_version"] == "bikes-mlflow:1.0.0"
    listed = run_mlops(d.home.root, "runs", "list", "--filter", "tags.team = growth")
    assert listed.returncode == 0, listed.stderr
    assert notebook["run_id"][:12] in listed.stdout and "notebook" in listed.stdout
    assert run_mlops(d.home.root, "runs", "show", notebook["run_id"][:12]).returncode == 0
    entries = {(e.action, e.subject) for e in d.client.audit()}
    assert ("run.delete", f"run:{notebook['scratch_id']}") in entries
    assert ("run.restore", f"run:{notebook['scratch_id']}") in entries


@pilot_test
async def test_its_runs_are_in_the_terminal_ui_like_any_other(d: DaemonProcess,
                                                             notebook: dict[str, Any]) -> None:
    async with Opened(d.home, size=(200, 50)) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ExperimentsScreen")
        await loaded(pilot)
        table = pilot.app.screen.query_one("#runs-table", KeyedTable)
        await pilot.press("slash")
        await type_text(pilot, "tags.team = growth")
        await pilot.press("enter")
        await wait_for(pilot, lambda: [k.value for k in table.rows] == [notebook["run_id"]],
                       what="the notebook's run, alone, under MLflow's tag")
        await wait_for_text(pilot, "notebook", "12.5")  # its experiment, its rmse


def test_the_registered_model_is_served_as_production(d: DaemonProcess,
                                                      notebook: dict[str, Any]) -> None:
    assert d.client is not None
    model = d.client.get_model("bikes-mlflow")
    assert model.task == "regression" and model.aliases == {"production": "1.0.0"}
    version = d.client.model_version("bikes-mlflow", "1.0.0")
    assert version.run_id == notebook["trained_run_id"]
    assert [i["name"] for i in version.signature["inputs"]] == [
        "season", "hr", "holiday", "weekday", "workingday", "temp", "atemp", "hum", "windspeed"]
    assert {i["dtype"] for i in version.signature["inputs"]} == {"int64", "float64"}
    promoted = next(iter(d.client.audit(action="model.promote")))
    assert promoted.actor == "mlflow@owner" and promoted.details["to"] == "1.0.0"
    assert next(iter(d.client.audit(action="model.log"))).details["mlflow_version"] == 1
    served = d.client.predict("bikes-mlflow", notebook["rows"])
    assert served.version == "1.0.0"
    assert served.predictions == notebook["predictions"]  # Booster.predict's, bit for bit


def test_mlflow_reads_what_it_wrote(d: DaemonProcess, notebook: dict[str, Any]) -> None:
    with _http(d) as http:
        model = http.get(f"{MLFLOW}/registered-models/get",
                         params={"name": "bikes-mlflow"}).json()["registered_model"]
        assert model["aliases"] == [{"alias": "production", "version": "1"}]
        assert model["latest_versions"][0]["aliases"] == ["production"]
        got = http.get(f"{MLFLOW}/experiments/get-by-name",
                       params={"experiment_name": "notebook"}).json()["experiment"]
        assert got["experiment_id"] == notebook["experiment_id"]
        missing = http.get(f"{MLFLOW}/experiments/get-by-name",
                           params={"experiment_name": "nope"})
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        paged = http.post(f"{MLFLOW}/runs/search", json={
            "experiment_ids": [notebook["experiment_id"]], "max_results": 1,
            "order_by": ["attributes.start_time ASC"]}).json()
        assert paged["runs"][0]["info"]["run_id"] == notebook["run_id"]
        rest = http.post(f"{MLFLOW}/runs/search", json={
            "experiment_ids": [notebook["experiment_id"]], "max_results": 10,
            "order_by": ["attributes.start_time ASC"],
            "page_token": paged["next_page_token"]}).json()
        assert notebook["run_id"] not in [r["info"]["run_id"] for r in rest["runs"]]
        assert len(rest["runs"]) == 2 and "next_page_token" not in rest
        trained = http.get(f"{MLFLOW}/runs/get", params={"run_id": notebook["trained_run_id"]})
        inputs = trained.json()["run"]["inputs"]["dataset_inputs"]
        assert inputs[0]["dataset"]["digest"]
        folder = trained.json()["run"]["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
        listed = http.get(ARTIFACTS, params={"path": folder}).json()["files"]
        assert {"path": "feature_importance_gain.json", "is_dir": False} .items() <= (
            next(f for f in listed if f["path"] == "feature_importance_gain.json").items())
        gain = http.get(f"{ARTIFACTS}/{folder}/feature_importance_gain.json")
        assert set(gain.json()) >= {"hr", "temp"}


def test_refusals_are_mlflows_errors_naming_the_call(d: DaemonProcess,
                                                     notebook: dict[str, Any]) -> None:
    with _http(d) as http:
        unsupported = http.post(f"{MLFLOW}/experiments/delete", json={"experiment_id": "1"})
        assert unsupported.status_code == 404
        assert unsupported.json()["error_code"] == "ENDPOINT_NOT_FOUND"
        assert "DeleteExperiment" in unsupported.json()["message"]
        unknown = http.get("/api/2.0/mlflow/no/such/call")
        assert unknown.json()["error_code"] == "ENDPOINT_NOT_FOUND"
        assert "GET /api/2.0/mlflow/no/such/call" in unknown.json()["message"]
        for escape in ("1/%2E%2E/%2E%2E/etc/passwd", "%2E%2E/x", "1//x"):
            refused = http.put(f"{ARTIFACTS}/{escape}", content=b"x")
            assert refused.status_code == 400, escape
            assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert "artifact root" in refused.json()["message"]
        assert http.get(ARTIFACTS, params={"path": "../x"}).status_code == 400
        bad_filter = http.post(f"{MLFLOW}/runs/search", json={"filter": "metrics.x >> 1"})
        assert bad_filter.status_code == 400 and "filter" in bad_filter.json()["message"]
    with _http(d, token=None) as anonymous:
        refused = anonymous.post(f"{MLFLOW}/runs/create", json={"experiment_id": "1"})
        assert refused.status_code == 401
        assert refused.json()["error_code"] == "UNAUTHENTICATED"
        assert anonymous.put(f"{ARTIFACTS}/1/x.txt", content=b"x").status_code == 401
        # reads need no token on loopback, also MLflow's searches sent as POST
        assert anonymous.post(f"{MLFLOW}/runs/search", json={}).status_code == 200
    made = run_mlops(d.home.root, "tokens", "create", "otto", "--role", "operator")
    assert made.returncode == 0, made.stderr
    with _http(d, token=made.stdout.splitlines()[1].strip()) as operator:
        production = operator.post(f"{MLFLOW}/registered-models/alias", json={
            "name": "bikes-mlflow", "alias": "production", "version": "1"})
        assert production.status_code == 403
        assert production.json()["error_code"] == "PERMISSION_DENIED"
        assert "approver" in production.json()["message"]
        staging = operator.post(f"{MLFLOW}/registered-models/alias", json={
            "name": "bikes-mlflow", "alias": "staging", "version": "1"})
        assert staging.status_code == 200, staging.text
        assert d.client is not None
        assert d.client.get_model("bikes-mlflow").aliases["staging"] == "1.0.0"
        gone = operator.request("DELETE", f"{MLFLOW}/registered-models/alias",
                                json={"name": "bikes-mlflow", "alias": "staging"})
        assert gone.status_code == 200, gone.text
        assert "staging" not in d.client.get_model("bikes-mlflow").aliases
        moves = [(m.alias, m.to_version, m.actor) for m in d.client.alias_history("bikes-mlflow")]
        assert moves[:2] == [("staging", None, "mlflow@otto"), ("staging", "1.0.0", "mlflow@otto")]


def _logged_model(http: httpx.Client, experiment_id: str, files: dict[str, bytes]) -> str:
    made = http.post(f"{MLFLOW}/logged-models", json={"experiment_id": experiment_id,
                                                      "name": "model"})
    assert made.status_code == 200, made.text
    info = made.json()["model"]["info"]
    folder = info["artifact_uri"].removeprefix("mlflow-artifacts:/")
    for name, data in files.items():
        assert http.put(f"{ARTIFACTS}/{folder}/{name}", content=data).status_code == 200
    return f"models:/{info['model_id']}"


_SKLEARN = b"""flavors:
  python_function:
    loader_module: mlflow.sklearn
    pickled_model: model.pkl
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
"""
_UNSIGNED = b"""flavors:
  lightgbm:
    data: model.lgb
    model_class: lightgbm.basic.Booster
"""


@pytest.mark.parametrize(("name", "mlmodel", "says"), [
    ("pickled", _SKLEARN, "saved as a pickle (model.pkl), which is never loaded here"),
    ("unsigned", _UNSIGNED, "the MLmodel file has none"),
    ("flat", b"flavors:\n  lightgbm: model.lgb\n",
     "the MLmodel file's flavors.lightgbm is 'model.lgb', not a mapping"),
    ("listed", b"flavors: [lightgbm]\n",
     "the MLmodel file's flavors is ['lightgbm'], not a mapping"),
], ids=["pickled", "unsigned", "flavour-not-a-mapping", "flavours-not-a-mapping"])
def test_a_model_that_cannot_be_read_as_lightgbm_text_is_refused(
        d: DaemonProcess, notebook: dict[str, Any], name: str, mlmodel: bytes,
        says: str) -> None:
    with _http(d) as http:
        logged = http.get(ARTIFACTS, params={"path": f"{notebook['experiment_id']}/models"})
        assert logged.json()["files"][0]["is_dir"], "the notebook's logged model, listed"
        source = _logged_model(http, notebook["experiment_id"],
                               {"MLmodel": mlmodel, "model.pkl": b"\x80\x04 not read",
                                "model.lgb": b"tree\nversion=v4\n"})
        assert http.post(f"{MLFLOW}/registered-models/create",
                         json={"name": name}).status_code == 200
        version = http.post(f"{MLFLOW}/model-versions/create",
                            json={"name": name, "source": source}).json()["model_version"]
        assert version["status"] == "FAILED_REGISTRATION"
        assert says in version["status_message"]
        again = http.post(f"{MLFLOW}/registered-models/create", json={"name": name})
        assert again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
        alias = http.post(f"{MLFLOW}/registered-models/alias",
                          json={"name": name, "alias": "production", "version": "1"})
        assert alias.status_code == 400 and "FAILED_REGISTRATION" in alias.json()["message"]


def test_what_mlflow_refuses_when_logging_is_refused_alike(d: DaemonProcess,
                                                           notebook: dict[str, Any]) -> None:
    with _http(d) as http:
        run_id = notebook["run_id"]
        changed = http.post(f"{MLFLOW}/runs/log-parameter",
                            json={"run_id": run_id, "key": "num_leaves", "value": "63"})
        assert changed.status_code == 400 and "set once" in changed.json()["message"]
        same = http.post(f"{MLFLOW}/runs/log-parameter",
                         json={"run_id": run_id, "key": "num_leaves", "value": "15"})
        assert same.status_code == 200
        too_many = http.post(f"{MLFLOW}/runs/log-batch", json={"run_id": run_id, "metrics": [
            {"key": "m", "value": 1, "timestamp": 1, "step": i} for i in range(1001)]})
        assert too_many.status_code == 400 and "at most 1000" in too_many.json()["message"]
        late = http.post(f"{MLFLOW}/runs/log-metric", json={
            "run_id": run_id, "key": "late", "value": "NaN", "timestamp": 1, "step": 0})
        assert late.status_code == 200, "MLflow logs into an ended run (and takes NaN)"
        http.post(f"{MLFLOW}/runs/delete", json={"run_id": notebook["scratch_id"]})
        deleted = http.post(f"{MLFLOW}/runs/set-tag", json={
            "run_id": notebook["scratch_id"], "key": "k", "value": "v"})
        assert deleted.status_code == 400 and "deleted" in deleted.json()["message"]
        http.post(f"{MLFLOW}/runs/restore", json={"run_id": notebook["scratch_id"]})
        missing = http.get(f"{MLFLOW}/runs/get", params={"run_id": "0" * 32})
        assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_model_of_our_own_is_seen_by_mlflow_without_its_numbers(d: DaemonProcess) -> None:
    assert d.client is not None
    d.client.promote("riders", bikes.log(d.client, bikes.train(rounds=5), "riders"))
    with _http(d) as http:
        ours = http.get(f"{MLFLOW}/registered-models/get", params={"name": "riders"})
        assert ours.json()["registered_model"]["aliases"] == []  # 1.0.0 has no MLflow number
        alias = http.get(f"{MLFLOW}/registered-models/alias",
                         params={"name": "riders", "alias": "production"})
        assert alias.status_code == 404 and "1.0.0" in alias.json()["message"]
        taken = http.post(f"{MLFLOW}/registered-models/create", json={"name": "riders"})
        assert taken.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
        names = http.get(f"{MLFLOW}/registered-models/search",
                         params={"filter": "name LIKE 'r%'"}).json()["registered_models"]
        assert [m["name"] for m in names] == ["riders"]


def test_a_time_past_the_year_9999_is_refused_naming_its_field(d: DaemonProcess) -> None:
    """Milliseconds Python's datetime cannot hold were a 500 (which MLflow's client retries
    for minutes): a 400 naming the field instead, and nothing logged."""
    late = 10**17
    with _http(d) as http:
        refused = http.post(f"{MLFLOW}/runs/create", json={"start_time": late})
        assert refused.status_code == 400, refused.text
        assert "'start_time'" in refused.json()["message"]
        run_id = http.post(f"{MLFLOW}/runs/create", json={}).json()["run"]["info"]["run_id"]
        for call, body, field in (
                ("update", {"status": "FINISHED", "end_time": late}, "'end_time'"),
                ("log-metric", {"key": "k", "value": 1, "timestamp": late}, "'timestamp'"),
                ("log-batch", {"metrics": [{"key": "k", "value": 1, "timestamp": 1},
                                           {"key": "k", "value": 2, "timestamp": late}]},
                 "'metrics[1].timestamp'")):
            refused = http.post(f"{MLFLOW}/runs/{call}", json={"run_id": run_id, **body})
            assert refused.status_code == 400, (call, refused.text)
            assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert field in refused.json()["message"] and "year 9999" in refused.json()["message"]
        run = http.get(f"{MLFLOW}/runs/get", params={"run_id": run_id}).json()["run"]
        assert run["info"]["status"] == "RUNNING" and run["data"]["metrics"] == []


def test_an_artifact_whose_bytes_are_gone_or_changed_says_so_without_a_retry(
        d: DaemonProcess) -> None:
    """A blob removed or rotted behind the daemon's back was a 500, which MLflow's client
    retries for minutes to no avail: a 404 or a 409 naming the hash instead."""
    uploads = {"gone.txt": b"bytes that go away", "rotted.txt": b"bytes to rot"}
    blobs = {name: d.home.artifacts / "sha256" / sha[:2] / sha for name, sha in (
        (name, hashlib.sha256(data).hexdigest()) for name, data in uploads.items())}
    with _http(d) as http:
        for name, data in uploads.items():
            assert http.put(f"{ARTIFACTS}/9/lost/{name}", content=data).status_code == 200
        blobs["gone.txt"].unlink()
        blobs["rotted.txt"].chmod(0o600)
        blobs["rotted.txt"].write_bytes(b"bytes that rot")

        gone = http.get(f"{ARTIFACTS}/9/lost/gone.txt")
        assert gone.status_code == 404, gone.text
        assert gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert "is missing from" in gone.json()["message"]
        rotted = http.get(f"{ARTIFACTS}/9/lost/rotted.txt")
        assert rotted.status_code == 409, rotted.text
        assert rotted.json()["error_code"] == "DATA_LOSS"
        assert "no longer match its hash" in rotted.json()["message"]


def test_registry_descriptions_and_tags_are_audited_with_their_event(
        d: DaemonProcess, notebook: dict[str, Any]) -> None:
    """A registered model's and a numbered version's description and tags are the
    registry's, changed as an archive or an alias is: an audit entry `model.update` naming
    who and what, and `model.updated` pointing at it, in one transaction."""
    assert d.client is not None
    after = d.client.status().last_event_id
    model, version = {"name": "bikes-mlflow"}, {"name": "bikes-mlflow", "version": "1"}
    with _http(d) as http:
        for method, call, body in (
                ("PATCH", "registered-models/update", {**model, "description": "riders"}),
                ("POST", "registered-models/set-tag", {**model, "key": "team", "value": "a"}),
                ("DELETE", "registered-models/delete-tag", {**model, "key": "team"}),
                ("PATCH", "model-versions/update", {**version, "description": "checked"}),
                ("POST", "model-versions/set-tag", {**version, "key": "validated",
                                                     "value": "yes"}),
                ("DELETE", "model-versions/delete-tag", {**version, "key": "validated"})):
            done = http.request(method, f"{MLFLOW}/{call}", json=body)
            assert done.status_code == 200, (call, done.text)
        missing = http.request("DELETE", f"{MLFLOW}/model-versions/delete-tag",
                               json={**version, "key": "never-set"})
        assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    entries = list(d.client.audit(action="model.update", subject="model:bikes-mlflow"))[::-1]
    assert [(e.actor, e.details) for e in entries] == [
        ("mlflow@owner", {"via": "mlflow", "description": "riders"}),
        ("mlflow@owner", {"via": "mlflow", "tags": {"team": "a"}}),
        ("mlflow@owner", {"via": "mlflow", "tag_removed": "team"}),
        ("mlflow@owner", {"via": "mlflow", "number": 1, "version": "1.0.0",
                          "description": "checked"}),
        ("mlflow@owner", {"via": "mlflow", "number": 1, "version": "1.0.0",
                          "tags": {"validated": "yes"}}),
        ("mlflow@owner", {"via": "mlflow", "number": 1, "version": "1.0.0",
                          "tag_removed": "validated"}),
    ]  # the refused removal left none
    stream = d.client.events(types=["model.updated"], after=after, timeout=10)
    try:
        events = [next(stream) for _ in entries]
    finally:
        stream.close()
    assert [e.audit_id for e in events] == [e.id for e in entries]
    assert events[4].data == {"model": "bikes-mlflow", "version": "1.0.0", "number": 1,
                              "changed": "tags", "actor": "mlflow@owner"}


def test_a_filter_ending_in_and_is_refused_naming_it(d: DaemonProcess,
                                                     notebook: dict[str, Any]) -> None:
    with _http(d) as http:
        for method, call, body in (
                ("POST", "logged-models/search", {
                    "experiment_ids": [notebook["experiment_id"]],
                    "filter": "name = 'model' and"}),
                ("GET", "model-versions/search", {"filter": "name = 'bikes-mlflow' and "})):
            sent = {"json": body} if method == "POST" else {"params": body}
            refused = http.request(method, f"{MLFLOW}/{call}", **sent)
            assert refused.status_code == 400, (call, refused.text)
            assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert "filter" in refused.json()["message"], refused.text
            assert "ends with 'and'" in refused.json()["message"], refused.text
            assert body["filter"].strip() in refused.json()["message"], refused.text


def test_a_version_from_an_artifacts_path_is_checked_as_uploads_are(
        d: DaemonProcess, notebook: dict[str, Any]) -> None:
    with _http(d) as http:
        assert http.put(f"{ARTIFACTS}/notes.txt", content=b"at the root").status_code == 200
        for source in ("mlflow-artifacts:/1/../2/models", "mlflow-artifacts:/a//b"):
            refused = http.post(f"{MLFLOW}/model-versions/create",
                                json={"name": "bikes-mlflow", "source": source})
            assert refused.status_code == 400, (source, refused.text)
            assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert "source" in refused.json()["message"]
            assert "artifact root" in refused.json()["message"], refused.text
        root = http.post(f"{MLFLOW}/model-versions/create",
                         json={"name": "bikes-mlflow", "source": "mlflow-artifacts:/"})
        assert root.status_code == 400, root.text
        assert "holds no MLmodel file" in root.json()["message"]
        assert "'notes.txt'" in root.json()["message"], "a stored path cut short"
