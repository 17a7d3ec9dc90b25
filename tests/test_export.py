"""`mlops export` on a real daemon: a model trained by `mlops train` (and two classifiers
logged through the SDK) exported as a container, whose server (run directly with this
Python: Docker is not here) answers as the daemon does, and as C, compiled with the
system's compiler, whose example program predicts the holdout as `Booster.predict` does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import lightgbm as lgb
import numpy as np
import polars as pl
import pytest

from jobs.features import to_matrix
from jobs.train import data
from jobs.train.evaluate import predictions_sha
from jobs.train.split import split
from store.artifacts import ArtifactStore
from tests import bikes
from tests.configs import bikes_config
from tests.daemon_process import DaemonProcess, run_mlops, wait_until
from tests.test_ingest_daemon import EXAMPLE

CLASSES = {"binary": ["quiet", "busy"], "multiclass": ["winter", "spring", "summer", "fall"]}
ARM = ("arm-linux-gnueabihf-gcc", "arm-linux-gnueabihf-ar", "qemu-arm")


@dataclass
class Home:
    d: DaemonProcess
    holdout: pl.DataFrame
    """The rows the trained version held out, as the daemon stored them."""
    booster: lgb.Booster
    signature: dict[str, Any]
    classifiers: dict[str, bikes.Trained]
    exports: Path

    def export(self, version: str, fmt: str, name: str) -> subprocess.CompletedProcess[str]:
        return run_mlops(self.d.home.root, "export", version, f"--{fmt}",
                         str(self.exports / name), timeout=300)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    root = tmp_path_factory.mktemp("export")
    (root / "exports").mkdir()
    d = DaemonProcess(root / "home", config=bikes_config(rounds=30)).start()
    try:
        client = d.client
        assert client is not None
        client.upload("bikes", EXAMPLE)
        wait_until(lambda: len(client.list_versions("bikes")) >= 1, timeout=60, what="bikes@1")
        trained = run_mlops(d.home.root, "train", "riders", "--wait", timeout=300)
        assert trained.returncode == 0, trained.stdout + trained.stderr
        version = client.model_version("riders", "1.0.0")
        run = client.get_run(version.run_id)
        artifacts = ArtifactStore(d.home.artifacts)
        booster = lgb.Booster(model_str=artifacts.read_bytes(version.artifact_sha).decode())
        classifiers = {task: bikes.train(task) for task in CLASSES}
        for task, model in classifiers.items():
            assert bikes.log(client, model, task, classes=CLASSES[task]) == "1.0.0"
        yield Home(d, _holdout(client, artifacts, run), booster, version.signature,
                   classifiers, root / "exports")
    finally:
        d.kill()


def _holdout(client: Any, artifacts: ArtifactStore, run: Any) -> pl.DataFrame:
    """The training job's holdout, split again from its data as the job split it (proved by
    the job's recorded hash of its holdout predictions, checked by the C test)."""
    params = client.get_job(run.job_id).params
    frame = pl.read_parquet(artifacts.verify(params["data"][0]["snapshot_sha"]))
    frame, labels = data.labels(frame, params)
    return frame[split(frame, labels.y, labels.classes, params).holdout]


@contextmanager
def exported_server(folder: Path) -> Iterator[str]:
    """The exported server as a process of this Python, from its own folder, with nothing of
    mlops on its path; yields its address."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with open(folder.parent / f"{folder.name}.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "server.py", "--port", "0", "--quiet"],
                                cwd=folder, env=env, stdout=subprocess.PIPE, stderr=log,
                                text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "serving NAME:VERSION (task) on http://HOST:PORT"
        assert " on http://" in line, (folder.parent / f"{folder.name}.log").read_text()
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _post(base: str, path: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else None
    return httpx.post(f"{base}{path}", json=None if content else body, content=content,
                      headers={"content-type": "application/json"}, timeout=30)


def _same_reply(daemon: httpx.Response, exported: httpx.Response) -> dict[str, Any]:
    assert daemon.status_code == exported.status_code == 200, (daemon.text, exported.text)
    ours, theirs = exported.json(), daemon.json()
    for reply in (ours, theirs):
        reply.pop("request_id")
    assert ours == theirs
    for header in ("x-model-version", "x-ignored-columns", "x-unseen-categories"):
        assert exported.headers.get(header) == daemon.headers.get(header), header
    return ours


def _rows_with_gaps(rows: list[dict[str, Any]], signature: dict[str, Any]
                    ) -> list[dict[str, Any]]:
    """The rows again with missing inputs, a category the model never saw, an extra column."""
    inputs = signature["inputs"]
    categorical = next(i["name"] for i in inputs if i.get("categorical"))
    numeric = next(i["name"] for i in inputs if not i.get("categorical"))
    return [{**row, numeric: None} if i % 3 == 0 else
            {**row, categorical: "never seen", "note": "not an input"} if i % 3 == 1 else
            {**row, categorical: None} for i, row in enumerate(rows)]


def test_the_exported_container_answers_as_the_daemon_does(home: Home) -> None:
    done = home.export("riders:1.0.0", "container", "riders-container")
    assert done.returncode == 0, done.stderr
    folder = home.exports / "riders-container"
    assert f"exported as a container to {folder}" in done.stdout
    files = {p.name for p in folder.iterdir()}
    assert {"model.txt", "model.json", "server.py", "inputs.py", "Dockerfile",
            "requirements.txt", "README.md"} <= files
    # The model text is the registered artifact, byte for byte (read as text, never pickle).
    assert folder.joinpath("model.txt").read_text() == home.booster.model_to_string()
    dockerfile = folder.joinpath("Dockerfile").read_text()
    python = ".".join(map(str, sys.version_info[:3]))
    assert f"\nFROM python:{python}-slim-bookworm\n" in dockerfile  # an exact tag
    assert "\nUSER 10001\n" in dockerfile and "HEALTHCHECK" in dockerfile
    # No engine builds it here: the image must at least get every file the server imports.
    copied = next(line for line in dockerfile.splitlines()
                  if line.startswith("COPY ") and "server.py" in line).split()[1:-1]
    assert {"server.py", "inputs.py", "feature_values.py", "prediction_answers.py"} <= {
        p.name for p in folder.glob("*.py")} == set(copied) - {"model.txt", "model.json"}
    kept = folder.joinpath(".dockerignore").read_text().split()
    assert {f"!{file}" for file in copied} <= set(kept)
    assert f"lightgbm=={lgb.__version__}\n" in folder.joinpath("requirements.txt").read_text()

    rows = home.holdout.to_dicts()[:300]
    daemon = home.d.client.base_url  # type: ignore[union-attr]
    pinned = "/v1/models/riders/versions/1.0.0/predict"
    with exported_server(folder) as exported:
        assert httpx.get(f"{exported}/healthz").json()["status"] == "ok"
        check = subprocess.run([sys.executable, "server.py", "--check", "--port",
                                exported.rsplit(":", 1)[-1]], cwd=folder, timeout=30)
        assert check.returncode == 0  # the Dockerfile's health check
        for body in ({"rows": rows}, {"rows": _rows_with_gaps(rows[:30], home.signature)}):
            reply = _same_reply(_post(daemon, pinned, body),
                                _post(exported, "/v1/models/riders/predict", body))
            assert len(reply["predictions"]) == len(body["rows"])
        columns = {k: [r[k] for r in rows[:20]] for k in rows[0]}
        _same_reply(_post(daemon, f"{pinned}?explain=true", {"columns": columns}),
                    _post(exported, f"{pinned}?explain=true", {"columns": columns}))

        numeric = next(i["name"] for i in home.signature["inputs"] if i["dtype"] == "float64")
        row = rows[0]
        for bad in ({"rows": [row, {**row, numeric: "warm"}]},
                    {"rows": [{k: v for k, v in row.items() if k != numeric}]},
                    {"columns": {**columns, numeric: columns[numeric][:3]}},
                    {"columns": {k: v for k, v in columns.items() if k != numeric}},
                    {"rows": []}, {"rows": {"a": 1}}, {"rows": [[1, 2]]}, {"row": [row]}):
            theirs = _post(daemon, pinned, bad)
            ours = _post(exported, "/v1/models/riders/predict", bad)
            assert 400 <= ours.status_code < 500 and ours.status_code == theirs.status_code
            assert ours.json() == theirs.json(), bad
        named = _post(exported, "/v1/models/riders/predict", {"rows": [{**row, numeric: "x"}]})
        assert named.json()["error"]["field"] == f"rows[0].{numeric}"
        assert numeric in named.json()["error"]["message"]
        broken = _post(exported, "/v1/models/riders/predict", b'{"rows": [')
        assert broken.status_code == _post(daemon, pinned, b'{"rows": [').status_code == 400
        assert _post(exported, "/v1/models/ridres/predict", {"rows": [row]}).json()[
            "error"]["code"] == "unknown_model"
        described = httpx.get(f"{exported}/v1/models/riders").json()
        example = described["example_request"]
        assert _post(exported, example["path"], example["body"]).status_code == 200
    exports = home.d.client.audit(action="model.export")  # type: ignore[union-attr]
    assert any(e.details["format"] == "container" and e.details["version"] == "1.0.0"
               for e in exports)


@pytest.mark.parametrize("task", list(CLASSES))
def test_exported_classifiers_give_the_daemons_probabilities_and_labels(home: Home,
                                                                         task: str) -> None:
    assert home.export(f"{task}:1.0.0", "container", f"{task}-container").returncode == 0
    rows = home.classifiers[task].frame.head(200).drop("bikers", "casual", "registered",
                                                       "day").to_dicts()
    pinned = f"/v1/models/{task}/versions/1.0.0/predict"
    with exported_server(home.exports / f"{task}-container") as exported:
        reply = _same_reply(_post(home.d.client.base_url, pinned, {"rows": rows}),  # type: ignore[union-attr]
                            _post(exported, pinned, {"rows": rows}))
    assert reply["classes"] == CLASSES[task] and set(reply["labels"]) <= set(CLASSES[task])


def _run_example(folder: Path, matrix: np.ndarray | str, runner: list[str]) -> np.ndarray:
    text = matrix if isinstance(matrix, str) else "".join(
        ",".join("" if np.isnan(v) else repr(float(v)) for v in row) + "\n" for row in matrix)
    done = subprocess.run([*runner, "./example"], cwd=folder, input=text, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return np.array([[float(v) for v in line.split(",")] for line in done.stdout.splitlines()])


def _compile(folder: Path, *make_args: str) -> None:
    done = subprocess.run(["make", *make_args], cwd=folder, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def _holdout_matrix(home: Home) -> np.ndarray:
    matrix = to_matrix(home.holdout, home.signature)
    gaps = matrix.copy()  # and again with missing values in every input in turn
    for j in range(gaps.shape[1]):
        gaps[j::gaps.shape[1], j] = np.nan
    return np.vstack([matrix, gaps])


def test_the_c_export_predicts_the_holdout_as_lightgbm_does(home: Home) -> None:
    done = home.export("riders:1.0.0", "c", "riders-c")
    assert done.returncode == 0, done.stderr
    folder = home.exports / "riders-c"
    assert {"header.h", "main.c", "Makefile", "example.c", "signature.json"} <= {
        p.name for p in folder.iterdir()}
    run = home.d.client.get_run(home.d.client.model_version("riders", "1.0.0").run_id)  # type: ignore[union-attr]
    holdout = to_matrix(home.holdout, home.signature)
    assert predictions_sha(home.booster.predict(holdout)) == run.lineage[
        "holdout_predictions_sha"]  # these are the rows the training held out
    _compile(folder, "CC=gcc")
    matrix = _holdout_matrix(home)
    found = _run_example(folder, matrix, [])
    np.testing.assert_allclose(found[:, 0], home.booster.predict(matrix), rtol=0, atol=1e-6)
    # The rows shipped beside it (the daemon's example row, and one with every input missing)
    examples = np.genfromtxt(folder / "rows.csv", delimiter=",", comments="#",
                             missing_values="", filling_values=np.nan)
    assert examples.shape == (2, matrix.shape[1]) and np.isnan(examples[1]).all()
    shipped = (folder / "rows.csv").read_text()  # ./example < rows.csv, as its README says
    np.testing.assert_allclose(_run_example(folder, shipped, [])[:, 0],
                               home.booster.predict(examples), rtol=0, atol=1e-6)


@pytest.mark.parametrize("task", list(CLASSES))
def test_c_classifiers_give_lightgbms_probabilities(home: Home, task: str) -> None:
    assert home.export(f"{task}:1.0.0", "c", f"{task}-c").returncode == 0
    folder = home.exports / f"{task}-c"
    _compile(folder, "CC=gcc")
    trained = home.classifiers[task]
    matrix = to_matrix(trained.frame, trained.signature)
    expected = trained.booster.predict(matrix).reshape(len(matrix), -1)
    np.testing.assert_allclose(_run_example(folder, matrix, []), expected, rtol=0, atol=1e-6)


def test_exports_are_refused_before_anything_is_written(home: Home) -> None:
    client = home.d.client
    assert client is not None
    unknown = home.export("riders:9.9.9", "c", "nine")
    assert unknown.returncode == 1 and "has no version '9.9.9'" in unknown.stderr
    assert home.export("ridres:1.0.0", "c", "typo").returncode == 2  # unknown_model
    full = home.exports / "full"
    full.mkdir(parents=True)
    (full / "notes.txt").write_text("mine")
    before = len(client.list_jobs(kind="export", limit=1000))
    refused = home.export("riders:1.0.0", "container", "full")
    assert refused.returncode == 2 and "is not empty" in refused.stderr
    assert [p.name for p in full.iterdir()] == ["notes.txt"]
    assert len(client.list_jobs(kind="export", limit=1000)) == before  # nothing was asked
    assert not (home.exports / "nine").exists() and not (home.exports / "typo").exists()
    assert not [p for p in home.exports.iterdir() if p.name.startswith(".")]  # no temp left


@pytest.mark.slow
@pytest.mark.skipif(not all(map(shutil.which, ARM)),
                    reason="needs a 32-bit ARM cross compiler and an emulator: apt-get install "
                    "-y gcc-arm-linux-gnueabihf qemu-user")
def test_the_c_export_predicts_the_same_on_32_bit_arm(home: Home) -> None:
    assert home.export("riders:1.0.0", "c", "riders-arm").returncode == 0
    folder = home.exports / "riders-arm"
    _compile(folder, f"CC={ARM[0]}", f"AR={ARM[1]}")
    assert b"ARM" in subprocess.run(["file", "example"], cwd=folder, capture_output=True,
                                    check=True).stdout
    matrix = _holdout_matrix(home)
    found = _run_example(folder, matrix, [ARM[2], "-L", "/usr/arm-linux-gnueabihf"])
    np.testing.assert_allclose(found[:, 0], home.booster.predict(matrix), rtol=0, atol=1e-6)
