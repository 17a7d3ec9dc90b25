"""Hostile sizes cost the daemon nothing: a selector range past the dataset's versions is
refused before it is expanded, a compressed drop that inflates too far is cut off while
it streams and quarantined with its ratio named, and an upload past `[ingest]
max_upload_mb` is refused with a 413 leaving no partial file."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import orjson
import polars as pl
import pytest

from jobs.ingest import source
from jobs.ingest.issues import Rejected
from tests.configs import bikes_config
from tests.daemon_process import DaemonProcess, wait_until
from tests.test_ingest_daemon import EXAMPLE

CONFIG = bikes_config(ingest="max_decompressed_mb = 8\nmax_upload_mb = 1") + (
    "\n[tracking]\nmax_artifact_mb = 1\n")


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory):
    daemon = DaemonProcess(tmp_path_factory.mktemp("limits") / "home", config=CONFIG).start()
    assert daemon.client is not None
    month = tmp_path_factory.mktemp("data") / "jan.csv"
    pl.read_csv(EXAMPLE).head(500).write_csv(month)
    daemon.client.upload("bikes", month)
    wait_until(lambda: daemon.client.list_versions("bikes"), timeout=60, what="bikes@1")
    yield daemon
    assert daemon.stop() == 0


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("selector", ["bikes@1..30000000", "bikes@1..99999999999999999999",
                                      "bikes@99999999999999999999", "bikes@0..1"])
def test_a_huge_selector_range_is_refused_without_expanding_it(d: DaemonProcess,
                                                               selector: str) -> None:
    assert d.client is not None
    before = _peak_rss_mb(d.pid)
    reply = httpx.post(f"{d.client.base_url}/api/v1/selectors/resolve",
                       json={"selector": selector}, timeout=30,
                       headers={"Authorization": f"Bearer {d.home.read_token()}"})
    assert reply.status_code == 422, reply.text
    assert "has no version" in reply.json()["error"]["message"]
    assert "(it has 1..1)" in reply.json()["error"]["message"]
    assert _peak_rss_mb(d.pid) < before + 50, "the range was expanded in memory"


def test_a_decompression_bomb_is_cut_off_and_quarantined_with_its_ratio(
        d: DaemonProcess, tmp_path: Path) -> None:
    bomb = tmp_path / ".bomb.csv.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        header = ",".join(pl.read_csv(EXAMPLE, n_rows=1).columns) + "\n"
        out.write(header.encode())
        row = b"1,Jan,1,0,0,6,0,clear,0.24,0.28,0.81,0,3,13,16\n"
        for _ in range(64):
            out.write(row * (1 << 14))  # 64 x 16,384 rows: ~48 MiB of CSV from ~100 KB
    assert bomb.stat().st_size < 1 << 20
    bomb.rename(d.home.inbox / "bikes" / "bomb.csv.gz")
    quarantine = d.home.quarantine / "bikes"
    reason_file = wait_until(lambda: next(iter(quarantine.glob("*bomb.csv.gz.reason.json")),
                                          None), timeout=60, what="the quarantined bomb")
    wait_until(lambda: (quarantine / reason_file.name.removesuffix(".reason.json")).exists(),
               what="the bomb beside its reason")
    message = orjson.loads(reason_file.read_bytes())["errors"][0]["message"]
    assert "inflates past 8 MiB" in message and "max_decompressed_mb" in message, message
    assert "compression ratio of" in message, message
    assert not list((d.home.artifacts / "tmp").iterdir()), "the partial output was removed"
    assert d.client is not None and len(d.client.list_versions("bikes")) == 1


def test_a_ratio_past_the_limit_is_refused_as_a_bomb(tmp_path: Path) -> None:
    zeros = tmp_path / "zeros.csv.gz"
    with gzip.open(zeros, "wb") as out:
        out.write(b"a\n" + b"0\n" * (8 << 20))
    src = source.inspect(zeros)
    limit = source.InflateLimit(max_bytes=1 << 30, max_ratio=100, ratio_after=1 << 20)
    with pytest.raises(Rejected) as info:
        source.decompress(src, tmp_path / "out.csv", limit)
    message = info.value.issues[0]["message"]
    assert "compression ratio of" in message and "above the limit of 100:1" in message, message
    assert (tmp_path / "out.csv").stat().st_size <= 2 << 20, "cut off soon after the limit"


@pytest.mark.parametrize("call", ["files", "check"])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_upload_past_its_bound_is_refused_leaving_no_partial_file(
        d: DaemonProcess, call: str, declared: bool) -> None:
    """POST /datasets/NAME/files (a drop) and /datasets/NAME/check (mlops check data): a
    body past 1 MiB is refused, whether its length was declared or it is streamed."""
    assert d.client is not None
    body = b"x" * ((1 << 20) + 1)
    content = body if declared else iter([body[:1 << 19], body[1 << 19:]])
    reply = httpx.post(f"{d.client.base_url}/api/v1/datasets/bikes/{call}",
                       params={"filename": "big.csv"}, content=content, timeout=30,
                       headers={"Authorization": f"Bearer {d.home.read_token()}"})
    assert reply.status_code == 413, reply.text
    message = reply.json()["error"]["message"]
    assert "1,048,576 bytes" in message and "[ingest] max_upload_mb" in message, message
    assert [p.name for p in (d.home.inbox / "bikes").iterdir() if p.is_file()] == []
    checks = d.home.run / "checks"
    assert not checks.exists() or not any(checks.iterdir())


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_mlflow_artifact_past_its_bound_is_refused_leaving_no_partial_file(
        d: DaemonProcess, declared: bool) -> None:
    """MLflow's artifacts proxy counts a body as the other uploads do, with its own bound
    ([tracking] max_artifact_mb) and MLflow's error shape."""
    assert d.client is not None
    body = b"x" * ((1 << 20) + 1)
    content = body if declared else iter([body[:1 << 19], body[1 << 19:]])
    reply = httpx.put(f"{d.client.base_url}/api/2.0/mlflow-artifacts/artifacts/1/big.bin",
                      content=content, timeout=30,
                      headers={"Authorization": f"Bearer {d.home.read_token()}"})
    assert reply.status_code == 413, reply.text
    assert "[tracking] max_artifact_mb" in reply.json()["message"], reply.text
    assert not any((d.home.artifacts / "tmp").glob("*.upload")), "no partial file"
