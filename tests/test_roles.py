"""Who may do what (issue 14, part 3): tokens with roles, made, used and revoked through the
CLI and the API of a real daemon, and every audit entry names the token."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute

from mlopsd.api.mlflow import app as mlflow_app
from mlopsd.client import Client
from mlopsd.client.errors import ApiError
from mlopsd.services.access import RULES, rule_for
from tests import bikes
from tests.daemon_process import DaemonProcess, mlops_cmd, run_mlops


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(tmp_path_factory.mktemp("roles") / "home").start()
    yield daemon
    daemon.kill()


def _client(d: DaemonProcess, secret: str | None) -> Client:
    assert d.client is not None
    return Client(d.client.base_url, token=secret, actor="test")


def _made(d: DaemonProcess, name: str, role: str) -> str:
    done = run_mlops(d.home.root, "tokens", "create", name, "--role", role)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[1].strip()


def _mlflow_routes() -> set[tuple[str, str]]:
    """MLflow's API (mounted at /api/2.0, not in our OpenAPI document): its routes."""
    routes = [r for router in mlflow_app.ROUTERS for r in router.routes]
    routes += mlflow_app.create_app(None).routes  # the answer to every other call
    return {(method, mlflow_app.errors.PREFIX + route.path) for route in routes
            if isinstance(route, APIRoute) for method in route.methods}


_MLFLOW_REST = mlflow_app.errors.PREFIX + "/{call:path}"


def _has_rule(method: str, path: str) -> bool:
    found = rule_for(method, path.replace("{", "x").replace("}", "x"))
    # MLflow's catch-all rule (a viewer's, for the calls answered "not supported") matches
    # every path under its prefix: a write route of MLflow's needs a rule of its own, or it
    # would be anyone's on loopback.
    return found is not None and (found[0] != _MLFLOW_REST or path == _MLFLOW_REST)


def test_every_write_has_a_rule_and_every_rule_a_route(d: DaemonProcess) -> None:
    assert d.client is not None
    spec = httpx.get(f"{d.client.base_url}/openapi.json").json()["paths"]
    routes = {(m.upper(), p) for p, ops in spec.items() for m in ops} | _mlflow_routes()
    unplaced = [f"{m} {p}" for m, p in sorted(routes)
                if m not in ("GET", "HEAD", "OPTIONS")
                and not _has_rule(m, p)]
    assert unplaced == []
    templates = routes
    stale = [(m, p) for m, p, _ in RULES
             if (m, p.replace("/aliases/production", "/aliases/{alias}")) not in templates]
    assert stale == []


def test_each_role_may_do_its_part_and_no_more(d: DaemonProcess) -> None:
    viewer = _client(d, _made(d, "vera", "viewer"))
    operator = _client(d, _made(d, "otto", "operator"))
    approver = _client(d, _made(d, "alice", "approver"))
    anonymous = _client(d, None)
    try:
        assert viewer.whoami().role == "viewer" and anonymous.whoami().name == "anonymous"
        viewer.list_models()  # reads: anyone on loopback
        anonymous.list_models()
        trained = bikes.train("regression")
        with pytest.raises(ApiError) as refused:
            bikes.log(viewer, trained, "riders")
        assert refused.value.status == 403
        assert "needs an operator's token" in refused.value.message
        assert "'vera' is a viewer's" in refused.value.message

        version = bikes.log(operator, trained, "riders")
        operator.promote("riders", version, to="staging")
        with pytest.raises(ApiError) as refused:
            operator.promote("riders", version)
        assert refused.value.status == 403 and "approver" in refused.value.message
        with pytest.raises(ApiError) as refused:
            operator.deploy("riders", version, strategy="blue-green")
        assert refused.value.status == 403 and "blue-green" in refused.value.message
        with pytest.raises(ApiError) as refused:
            operator.tokens()
        assert refused.value.status == 403 and "admin" in refused.value.message
        with pytest.raises(ApiError) as refused:
            anonymous.promote("riders", version)
        assert refused.value.status == 401

        approver.promote("riders", version, reason="four eyes")
        entry = next(e for e in approver.audit(action="model.promote"))
        assert entry.actor == "test@alice"
        assert any(e.actor == "test@otto" for e in operator.audit(action="model.promote"))
        assert operator.predict("riders", bikes.frame(2).select(bikes.FEATURES).to_dicts())

        # Revoked: it stops working at once, and the name is not reused.
        revoked = run_mlops(d.home.root, "tokens", "revoke", "otto", "--reason", "left")
        assert revoked.returncode == 0, revoked.stderr
        with pytest.raises(ApiError) as refused:
            operator.promote("riders", version, to="staging")
        assert refused.value.status == 401 and "not one of this home's tokens" in \
            refused.value.message
        again = run_mlops(d.home.root, "tokens", "create", "otto", "--role", "viewer")
        assert again.returncode == 1 and "exists" in again.stderr
        listed = run_mlops(d.home.root, "tokens")
        assert "otto" in listed.stdout and "revoked" in listed.stdout
        assert "owner" in listed.stdout and "admin" in listed.stdout
        audit = run_mlops(d.home.root, "audit", "--action", "token.revoke")
        assert "otto" in audit.stdout and "@owner" in audit.stdout
    finally:
        for client in (viewer, operator, approver, anonymous):
            client.close()


def test_the_cli_uses_MLOPS_TOKEN(d: DaemonProcess) -> None:
    secret = _made(d, "ci", "viewer")
    import subprocess

    env = {**os.environ, "MLOPS_TOKEN": secret}
    me = subprocess.run(mlops_cmd(d.home.root, "whoami"), capture_output=True, text=True,
                        env=env, timeout=60)
    assert me.stdout.strip() == "ci (viewer)", me.stderr
    refused = subprocess.run(mlops_cmd(d.home.root, "tokens", "create", "x", "--role",
                                       "admin"), capture_output=True, text=True, env=env,
                             timeout=60)
    assert refused.returncode == 1 and "admin" in refused.stderr
    assert run_mlops(d.home.root, "whoami").stdout.strip() == "owner (admin)"


def test_a_replaced_token_file_is_the_owner_after_a_restart(home: Path) -> None:
    d = DaemonProcess(home).start()
    try:
        old = (home / "token").read_text().strip()
        d.stop()
        (home / "token").write_text("a-new-secret-for-the-owner-0123456789\n")
        d.start()
        assert run_mlops(home, "whoami").stdout.strip() == "owner (admin)"
        stale = _client(d, old)
        with pytest.raises(ApiError) as refused:
            stale.promote("riders", "1.0.0", to="staging")
        assert refused.value.status == 401
        stale.close()
        replaced = run_mlops(home, "audit", "--action", "token.replace")
        assert "owner" in replaced.stdout
    finally:
        d.kill()
