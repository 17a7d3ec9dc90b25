"""Backup, restore, verify (issue 14, part 2): a backup taken while the daemon serves
predictions and ingests a file restores into a new home that serves the same production
versions with identical predictions and passes `mlops verify`; damage is named."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest

from mlopsd.client import Client
from mlopsd.client.errors import ApiError
from tests import bikes
from tests.daemon_process import DaemonProcess, run_mlops, wait_until

CONFIG = """\
[[dataset]]
name = "bikes"
target = "bikers"
"""


def _versions(d: DaemonProcess) -> int:
    assert d.client is not None
    try:
        return len(d.client.list_versions("bikes"))
    except ApiError:
        return 0


def _drop(d: DaemonProcess, name: str, lines: int) -> None:
    folder = d.home.inbox / "bikes"
    folder.mkdir(parents=True, exist_ok=True)
    text = bikes.CSV.read_text().splitlines(keepends=True)
    staged = d.home.root / name
    staged.write_text("".join(text[:lines]))
    staged.rename(folder / name)


def _predict_until(client: Client, rows: list[dict], stop: threading.Event,
                   out: dict[str, int]) -> None:
    while not stop.is_set():
        try:
            client.predict("riders", rows)
            out["ok"] += 1
        except Exception as exc:  # counted and shown: the test wants none
            out["failed"] += 1
            out.setdefault("first", repr(exc))  # type: ignore[arg-type]


@pytest.fixture
def served(home: Path):
    d = DaemonProcess(home, config=CONFIG).start()
    try:
        assert d.client is not None
        _drop(d, "first.csv", 3000)
        wait_until(lambda: _versions(d) >= 1, timeout=60, what="bikes@1")
        pair = bikes.riders_pair(d.client)
        yield d, pair
    finally:
        d.kill()


def test_a_backup_under_load_restores_to_a_home_that_serves_the_same(
        served, tmp_path: Path) -> None:
    d, _ = served
    assert d.client is not None
    home = d.home.root
    rows = bikes.frame(200).select(bikes.FEATURES).to_dicts()
    before = d.client.predict("riders", rows).predictions

    # Predictions from another client and a file arriving while the backup runs.
    load = {"ok": 0, "failed": 0}
    stop = threading.Event()
    loader = Client.from_home(home)
    thread = threading.Thread(target=_predict_until, args=(loader, rows[:5], stop, load))
    thread.start()
    try:
        _drop(d, "second.csv", 2000)
        backup = tmp_path / "backup"
        done = run_mlops(home, "backup", str(backup))
        wait_until(lambda: _versions(d) >= 2, timeout=60, what="bikes@2")
    finally:
        stop.set()
        thread.join()
        loader.close()
    assert done.returncode == 0, done.stderr
    assert "riders@production=1.0.0" in done.stdout, done.stdout
    assert load["failed"] == 0 and load["ok"] > 0, load
    manifest = orjson.loads((backup / "manifest.json").read_bytes())
    assert not manifest["token_included"] and not (backup / "token").exists()
    assert manifest["aliases"]["riders"]["production"] == "1.0.0"
    assert run_mlops(home, "verify", "--backup", str(backup)).returncode == 0

    ours = run_mlops(home, "verify")
    assert ours.returncode == 0, ours.stdout
    assert "home ok" in ours.stdout

    # Restore into a new home and serve from it.
    new_home = tmp_path / "restored"
    restored = run_mlops(new_home, "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert "a new token was made" in restored.stdout
    assert (new_home / "token").read_text() != (home / "token").read_text()
    d2 = DaemonProcess(new_home).start()
    try:
        assert d2.client is not None
        assert d2.client.get_model("riders").aliases["production"] == "1.0.0"
        after = d2.client.predict("riders", rows).predictions
        assert after == before
        assert len(d2.client.list_versions("bikes")) >= 1
        checked = run_mlops(new_home, "verify")
        assert checked.returncode == 0, checked.stdout
        chain = run_mlops(new_home, "audit", "verify")
        assert chain.returncode == 0, chain.stdout

        # A snapshot lost behind the restored daemon's back is named.
        version = d2.client.list_versions("bikes")[0]
        blob = new_home / "artifacts" / "sha256" / version.snapshot_sha[:2] / version.snapshot_sha
        blob.unlink()
        broken = run_mlops(new_home, "verify")
        assert broken.returncode == 1
        assert f"data bikes@{version.version}" in broken.stdout
        assert "missing" in broken.stdout
    finally:
        d2.kill()


def test_a_damaged_backup_is_refused_naming_the_file(served, tmp_path: Path) -> None:
    d, _ = served
    home = d.home.root
    backup = tmp_path / "backup"
    assert run_mlops(home, "backup", str(backup), "--with-token").returncode == 0
    assert (backup / "token").read_text() == (home / "token").read_text()
    model = next((backup / "artifacts" / "sha256").glob("*/*"))
    model.write_bytes(model.read_bytes()[:-1] + b"!")
    name = model.relative_to(backup).as_posix()

    checked = run_mlops(home, "verify", "--backup", str(backup))
    assert checked.returncode == 1 and name in checked.stderr, checked.stderr
    refused = run_mlops(tmp_path / "new", "restore", str(backup))
    assert refused.returncode == 2 and name in refused.stderr, refused.stderr
    assert not (tmp_path / "new").exists() and not (tmp_path / ".new.partial").exists()

    again = run_mlops(home, "backup", str(backup))
    assert again.returncode == 2 and "not an empty folder" in again.stderr
    no_home = run_mlops(home, "restore", str(backup))
    assert no_home.returncode == 2 and "not an empty folder" in no_home.stderr


def test_backup_needs_the_token(served) -> None:
    d, _ = served
    assert d.client is not None
    import httpx

    reply = httpx.post(f"{d.client.base_url}/api/v1/backup")
    assert reply.status_code == 401


def test_a_blob_gone_while_it_is_streamed_is_named_and_the_rest_arrives(
        tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from mlopsd.client import backup_files
    from mlopsd.home import Home, init_home
    from mlopsd.services import backups
    from store.artifacts import ArtifactStore
    from store.db import open_store

    home = Home(tmp_path / "home")
    init_home(home)
    store = open_store(home.db)
    artifacts = ArtifactStore(home.artifacts)
    kept, gone = artifacts.put_bytes(b"kept " * 1000), artifacts.put_bytes(b"gone " * 1000)
    made = backups.prepare(home, store, artifacts, with_token=False, now=datetime.now(UTC))
    artifacts.path(gone).unlink()  # after the listing, before the streaming
    manifest = backup_files.receive(made.stream(), tmp_path / "backup")
    store.close()
    name = f"artifacts/sha256/{gone[:2]}/{gone}"
    assert any(item.startswith(f"{name}: gone") for item in manifest["corrupt"])
    assert (tmp_path / "backup" / f"artifacts/sha256/{kept[:2]}/{kept}").read_bytes() == \
        b"kept " * 1000
    assert not list(home.run.glob("backup-*")), "the store's copy is removed after the stream"
