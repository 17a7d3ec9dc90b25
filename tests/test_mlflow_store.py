"""The store's side of MLflow's client (issue 15): run search takes MLflow's filter syntax as
written, deleted runs leave searches, experiments are numbered (those already there too),
MLflow's runs are never failed for silence, and the artifact proxy's paths list as
folders. On a real DuckDB store, in-process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store import mlflow_artifacts, mlflow_models, mlflow_runs, run_filter, run_search
from store import runs as run_repo
from store.db import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(tmp_path / "meta.duckdb")
    yield opened
    opened.close()


def _run(store: Store, name: str, *, state: str = "finished", rate: str = "0.1",
         team: str = "growth", rmse: float = 12.5, started: datetime | None = None) -> str:
    return run_repo.create_run(
        store, experiment="notebook", state=state, started_at=started,
        params={"learning_rate": rate}, tags={"team": team, "mlflow.runName": name},
        metrics=[("rmse", rmse, 0, None)]).id


def _found(store: Store, expression: str, **kwargs: object) -> list[str]:
    page = run_search.search_runs(store, filter=expression, **kwargs)  # type: ignore[arg-type]
    return [r.tags["mlflow.runName"] for r in page.items]


def test_mlflow_filters_are_read_as_written(store: Store) -> None:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    _run(store, "a", started=base)
    _run(store, "b", rate="0.05", rmse=30.0, started=base + timedelta(hours=1))
    _run(store, "c", state="running", started=base + timedelta(hours=2))
    _run(store, "d", team="risk", rmse=8.0, started=base + timedelta(hours=3))
    mlflow = ("metrics.rmse < 20 and params.learning_rate = '0.1' and tags.team = 'growth' "
              "and attributes.status = 'FINISHED'")
    assert _found(store, mlflow) == ["a"]
    assert _found(store, "attributes.status = 'RUNNING'") == ["c"]
    assert _found(store, "status IN ('FINISHED', 'RUNNING') and tags.team != 'risk'") == [
        "c", "b", "a"]
    assert _found(store, "attributes.run_name ILIKE 'B'") == ["b"]
    assert _found(store, 'tags."mlflow.runName" not in (\'a\', \'b\')') == ["d", "c"]
    assert _found(store, "metrics.`rmse` in (8, 30)") == ["d", "b"]
    after = round((base + timedelta(minutes=90)).timestamp() * 1000)
    assert _found(store, f"attributes.start_time > {after}") == ["d", "c"]
    # A quoted value holding 'and' is one value, not two clauses.
    _run(store, "e", team="this and that")
    assert _found(store, "tags.team = 'this and that'") == ["e"]
    by_rmse = _found(store, "", order_by="metrics.rmse DESC")  # ties: newest first
    assert (by_rmse[0], by_rmse[-2:]) == ("b", ["a", "d"])
    assert _found(store, "", order_by="params.learning_rate ASC")[0] == "b"
    assert _found(store, "", order_by="attributes.start_time ASC")[0] == "a"


@pytest.mark.parametrize(("expression", "says"), [
    ("metrics.rmse > 'high'", "compares with a number"),
    ("datasets.name = 'x'", "cannot filter by 'datasets.name'"),
    ("attributes.artifact_uri = 'x'", "unknown attribute 'artifact_uri'"),
    ("metrics.rmse < 1 or metrics.rmse > 2", "joined by 'and'"),
    ("run_id IN ('a' 'b')", "cannot read the list"),
    ("run_id = ('a', 'b')", "one value, not a list"),
    ("attributes.start_time > 'yesterday'", "milliseconds since the epoch"),
])
def test_a_filter_that_does_not_parse_says_where(expression: str, says: str) -> None:
    with pytest.raises(run_filter.FilterError, match=says.replace("(", r"\(")):
        run_filter.parse(expression)


@pytest.mark.parametrize(("expression", "says"), [
    ("attributes.start_time > 100000000000000000000", "up to 253402300799999"),
    ("start_time > 1e30", "up to 253402300799999"),
    ("end_time < 10000000000000000", "the year 9999"),
    ("start_time IN (1, 1.5)", "a whole number"),
    ("started_at > 'yesterday'", "ISO-8601"),
    ("ended_at IN ('2026-11-01', 'soon')", "not 'soon'"),
])
def test_a_time_the_store_cannot_compare_is_refused_before_the_query(
        store: Store, expression: str, says: str) -> None:
    """Times that parse but that DuckDB cannot convert (beyond its range, not ISO text)
    failed in the query: an error with no word of the filter."""
    _run(store, "a")
    with pytest.raises(run_filter.FilterError, match=says):
        run_search.search_runs(store, filter=expression)
    assert _found(store, "start_time > 0 and started_at > '2000-01-01'") == ["a"]


def test_deleted_runs_leave_searches_and_come_back(store: Store) -> None:
    kept, deleted = _run(store, "kept"), _run(store, "deleted")
    mlflow_runs.set_deleted(store, deleted, True)
    assert _found(store, "") == ["kept"]
    assert _found(store, "", lifecycle="deleted") == ["deleted"]
    assert sorted(_found(store, "", lifecycle="all")) == ["deleted", "kept"]
    assert run_search.get_experiment(store, "notebook").runs == 1
    assert run_repo.get_run(store, deleted).deleted_at is not None
    with pytest.raises(Exception, match="is deleted"):
        run_repo.log_batch(store, deleted, tags={"x": "1"}, running_only=False)
    mlflow_runs.set_deleted(store, deleted, False)
    assert sorted(_found(store, "")) == ["deleted", "kept"]
    assert run_repo.get_run(store, kept).deleted_at is None


def test_experiments_are_numbered_and_default_is_mlflows_zero(store: Store) -> None:
    _run(store, "a")
    made = mlflow_runs.create_experiment(store, "second")
    assert (run_search.get_experiment(store, "notebook").id, made.id) == (1, 2)
    assert mlflow_runs.experiment_for(store, 2).name == "second"
    default = mlflow_runs.experiment_for(store, 0)
    assert default.name == "Default" and mlflow_runs.mlflow_id(default) == 0
    run_repo.create_run(store, experiment="Default")
    stored = run_search.get_experiment(store, "Default")
    assert stored.id == 3 and mlflow_runs.mlflow_id(stored) == 0
    assert mlflow_runs.mlflow_ids(store, ["Default", "second"]) == {"Default": 0, "second": 2}


def test_the_migration_numbers_experiments_already_there_by_age(tmp_path: Path) -> None:
    db = tmp_path / "meta.duckdb"
    old = open_store(db, upto=14)
    with old.transaction() as cur:
        for name, created in (("later", "2026-02-01"), ("first", "2026-01-01")):
            cur.execute("INSERT INTO experiments (name, created_at) VALUES (?, ?)",
                        [name, created])
    old.close()
    new = open_store(db)
    try:
        assert [run_search.get_experiment(new, n).id for n in ("first", "later")] == [1, 2]
        with new.transaction() as cur:
            run_repo.ensure_experiment(cur, "new")
        assert run_search.get_experiment(new, "new").id == 3
    finally:
        new.close()


def test_mlflows_runs_are_not_failed_for_silence(store: Store) -> None:
    ours = run_repo.create_run(store, experiment="e").id
    theirs = run_repo.create_run(store, experiment="e").id
    with store.transaction() as cur:
        mlflow_runs.mark_mlflow(cur, theirs)
    failed = run_repo.fail_stale_runs(store, older_than=datetime.now(UTC) + timedelta(hours=1))
    assert failed == [ours]
    assert run_repo.get_run(store, theirs).state == "running"


def test_uploaded_paths_list_as_folders(store: Store) -> None:
    with store.transaction() as cur:
        for path, size in (("1/r/artifacts/model/MLmodel", 10), ("1/r/artifacts/model/m.lgb", 20),
                           ("1/r/artifacts/a_b.json", 3), ("1/rx/artifacts/other.json", 4)):
            mlflow_artifacts.put(cur, path, "0" * 64, size)
        mlflow_artifacts.put(cur, "1/r/artifacts/a_b.json", "1" * 64, 5)  # uploaded again
    listed = mlflow_artifacts.listing(store, "1/r/artifacts")
    assert [(e.path, e.is_dir, e.size) for e in listed] == [
        ("1/r/artifacts/a_b.json", False, 5), ("1/r/artifacts/model", True, None)]
    assert [f.path for f in mlflow_artifacts.under(store, "1/r")] == [
        "1/r/artifacts/a_b.json", "1/r/artifacts/model/MLmodel", "1/r/artifacts/model/m.lgb"]
    # '_' and '%' in a folder's name are not wildcards
    assert mlflow_artifacts.under(store, "1/a%") == []


def test_tags_set_at_once_on_a_model_and_a_version_all_stay(store: Store) -> None:
    """MLflow's client tags from several threads (or notebooks): each tag read the old set
    and wrote it back with its own in another transaction, so about half were lost."""
    mlflow_models.create_registered_model(store, "m", description=None, tags={})
    with store.transaction() as cur:
        number = mlflow_models.add_version(cur, model="m", source="s", run_id=None,
                                           model_id=None, description=None, tags={})

    def tag_model(key: str) -> None:
        mlflow_models.update_registered_model(store, "m", tags={key: "v"})

    def tag_version(key: str) -> None:
        mlflow_models.update_version(store, "m", number, tags={key: "v"})

    def at_once(tag: Callable[[str], None]) -> None:
        threads = [threading.Thread(target=lambda t=t: [tag(f"{t}-{i}") for i in range(50)])
                   for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    at_once(tag_model)
    at_once(tag_version)
    assert len(mlflow_models.get_registered_model(store, "m").tags) == 200
    assert len(mlflow_models.get_version(store, "m", number).tags) == 200


def test_experiments_are_searched_by_name_with_like_patterns(store: Store) -> None:
    for name in ("a_b", "axb", "other"):
        mlflow_runs.create_experiment(store, name)

    def named(pattern: str | None) -> list[str]:
        return [e.name for e in run_search.page_experiments(store, name_like=pattern).items]

    assert named(None) == ["a_b", "axb", "other"]
    assert named("a%") == ["a_b", "axb"]
    assert named("a\\_b") == ["a_b"]  # name = 'a_b': the '_' escaped, not a wildcard
    page = run_search.page_experiments(store, name_like="%", limit=2)
    assert [e.name for e in page.items] == ["a_b", "axb"]
    rest = run_search.page_experiments(store, name_like="%", after=page.next, limit=2)
    assert [e.name for e in rest.items] == ["other"] and rest.next is None
