"""The parts of `mlops export` that need no daemon: the exported server's encoder against the
daemon's (value for value, refusal for refusal), what the exported files may import, the C
export's guard against models treelite reads wrongly, and unpacking that refuses to write
outside the folder."""

from __future__ import annotations

import ast
import importlib.util
import io
import shutil
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
import treelite

from jobs.context import JobError
from jobs.export import c_code
from jobs.export.container import SERVER_FILES
from jobs.features import FeatureError, to_matrix
from mlopsd.cli.common import UsageError
from mlopsd.cli.export_commands import unpack
from tests import bikes

SIGNATURE = {"inputs": [
    {"name": "n", "dtype": "float64", "categorical": False, "categories": None},
    {"name": "k", "dtype": "int64", "categorical": False, "categories": None},
    {"name": "flag", "dtype": "bool", "categorical": False, "categories": None},
    {"name": "day", "dtype": "date", "categorical": False, "categories": None},
    {"name": "at", "dtype": "datetime", "categorical": False, "categories": None},
    {"name": "colour", "dtype": "string", "categorical": True,
     "categories": ["blue", "green", "red"]},
    {"name": "size", "dtype": "int64", "categorical": True, "categories": [1, 2, 5]},
    {"name": "yes", "dtype": "bool", "categorical": True, "categories": [False, True]},
]}
GOOD = {"n": 1.5, "k": 3, "flag": True, "day": "2024-02-29", "at": "2024-03-01T09:30:00+01:00",
        "colour": "red", "size": 5, "yes": False}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The exported server's encoder, loaded from the files the export ships, in a folder of
    their own (its sibling `feature_values` found there, not in the project)."""
    folder = tmp_path_factory.mktemp("exported")
    for file, source in SERVER_FILES.items():
        shutil.copyfile(source, folder / file)
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location("exported_inputs", folder / "inputs.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while building
        spec.loader.exec_module(module)
        assert Path(sys.modules["feature_values"].__file__ or "").parent == folder
        yield module
    finally:
        sys.path.remove(str(folder))
        for name in ("exported_inputs", "feature_values"):
            sys.modules.pop(name, None)


ROWS: list[dict[str, Any]] = [
    GOOD,
    {**GOOD, "n": None, "k": None, "flag": None, "day": None, "at": None, "colour": None,
     "size": None, "yes": None},
    {**GOOD, "n": 7, "k": 4.0, "day": "2024-02-29T23:59:59.999999", "at": "2011-01-01",
     "colour": "mauve", "size": 9, "yes": True},
    {**GOOD, "n": -1e300, "k": -(2**63), "at": "2024-03-01T09:30:00Z", "extra": "ignored"},
    {**GOOD, "k": 2**63 - 1, "n": 0, "flag": False, "size": 1},
]
BAD: list[dict[str, Any]] = [
    {**GOOD, "n": "1.5"}, {**GOOD, "n": True}, {**GOOD, "k": 2.5}, {**GOOD, "k": 2**63},
    {**GOOD, "k": float("inf")}, {**GOOD, "flag": 1}, {**GOOD, "day": 20240229},
    {**GOOD, "day": "29/02/2024"}, {**GOOD, "colour": 3}, {**GOOD, "size": True},
    {**GOOD, "size": 5.0}, {**GOOD, "yes": "no"}, {**GOOD, "n": 10**400},
    {k: v for k, v in GOOD.items() if k != "at"}, {**GOOD, "n": [1]},
]


def test_the_exported_encoder_gives_the_daemons_numbers(inputs: ModuleType) -> None:
    encoder = inputs.Encoder(SIGNATURE)
    ours = encoder.matrix(ROWS)
    theirs = to_matrix(ROWS, SIGNATURE)
    assert ours.dtype == np.float64 and ours.shape == theirs.shape == (len(ROWS), 8)
    np.testing.assert_array_equal(ours, theirs)  # NaN where NaN, bit for bit elsewhere
    assert np.isnan(ours[2, 5]) and np.isnan(ours[2, 6])  # unseen categories: missing


@pytest.mark.parametrize("row", BAD, ids=range(len(BAD)))
def test_the_exported_encoder_refuses_what_the_daemon_refuses(inputs: ModuleType,
                                                              row: dict[str, Any]) -> None:
    rows = [GOOD, row]
    with pytest.raises(FeatureError) as theirs:
        to_matrix(rows, SIGNATURE)
    with pytest.raises(inputs.FeatureError) as ours:
        inputs.Encoder(SIGNATURE).matrix(rows)
    assert str(ours.value) == str(theirs.value)
    assert (ours.value.input, ours.value.row) == (theirs.value.input, theirs.value.row) != (
        None, None)


def test_the_exported_files_import_nothing_of_mlops() -> None:
    siblings = {Path(file).stem for file in SERVER_FILES}
    allowed = set(sys.stdlib_module_names) | {"lightgbm", "numpy"} | siblings
    for file, source in SERVER_FILES.items():
        tree = ast.parse(source.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert imported <= allowed, (file, imported - allowed)


def _model(params: dict[str, Any]) -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2000, 3))
    x[rng.random(2000) < 0.2, 1] = 0.0
    y = 2 * x[:, 0] + x[:, 1] + rng.normal(scale=0.1, size=2000)
    booster = lgb.train({"objective": "regression", "verbose": -1, "num_leaves": 7,
                         "num_threads": 1, **params}, lgb.Dataset(x, y), num_boost_round=10)
    return lgb.Booster(model_str=booster.model_to_string()), x


NUMBERS = {"inputs": [{"name": f"x{i}", "dtype": "float64", "categorical": False,
                       "categories": None} for i in range(3)]}


def test_c_is_refused_for_models_treelite_reads_wrongly() -> None:
    linear, _ = _model({"linear_tree": True})
    with pytest.raises(JobError, match="linear trees"):
        c_code.refusals(linear.model_to_string())
    zero, _ = _model({"zero_as_missing": True})
    with pytest.raises(JobError, match="zero as missing"):
        c_code.refusals(zero.model_to_string())
    # The check behind the refusals: treelite reads this model, but predicts it otherwise.
    rows = c_code.probe_rows(zero.model_to_string(), NUMBERS)
    with pytest.raises(JobError, match="predicts differently"):
        c_code.check(treelite.frontend.from_lightgbm(zero), zero, rows)


def test_probe_rows_reach_both_sides_of_every_split() -> None:
    trained = bikes.train("multiclass")
    text = trained.booster.model_to_string()
    rows = c_code.probe_rows(text, trained.signature)
    assert rows.shape == (c_code.PROBE_ROWS, len(trained.signature["inputs"]))
    leaves = trained.booster.predict(rows, pred_leaf=True)
    reached = sum(len(np.unique(leaves[:, t])) for t in range(leaves.shape[1]))
    possible = sum(tree["num_leaves"] for tree in trained.booster.dump_model()["tree_info"])
    assert reached / possible > 0.9  # random rows of the thresholds reach almost every leaf
    model = treelite.frontend.from_lightgbm(trained.booster)
    assert c_code.check(model, trained.booster, rows) <= c_code.TOLERANCE
    assert np.isnan(rows).any() and (rows == 0).any()


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


@pytest.mark.parametrize("name,kind", [("../evil.txt", tarfile.REGTYPE),
                                       ("/tmp/evil.txt", tarfile.REGTYPE),
                                       ("sub/../../evil.txt", tarfile.REGTYPE),
                                       ("link", tarfile.SYMTYPE)])
def test_unpacking_refuses_names_outside_the_folder(tmp_path: Path, name: str,
                                                   kind: bytes) -> None:
    evil = tarfile.TarInfo(name)
    evil.type = kind
    if kind == tarfile.SYMTYPE:
        evil.linkname = "/etc/passwd"
    archive = _tar(tmp_path / "x.tar.gz", [(tarfile.TarInfo("model.txt"), b"tree"),
                                           (evil, b"" if kind == tarfile.SYMTYPE else b"x")])
    target = tmp_path / "out" / "export"
    target.parent.mkdir()
    with pytest.raises(UsageError, match="refused, nothing was written"):
        unpack(archive, target)
    assert list(target.parent.iterdir()) == []  # no folder, no temp folder left
    assert not (tmp_path / "evil.txt").exists()


def test_unpacking_fills_an_empty_folder_whole(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "x.tar.gz", [(tarfile.TarInfo("model.txt"), b"tree"),
                                           (tarfile.TarInfo("c/main.c"), b"int x;")])
    target = tmp_path / "export"
    target.mkdir()
    assert sorted(unpack(archive, target)) == ["c/main.c", "model.txt"]
    assert (target / "c" / "main.c").read_bytes() == b"int x;"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "x.tar.gz"]
