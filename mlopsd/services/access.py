"""Who may do what: the one table of what each call needs (the roles: `services/tokens.py`),
and the check both doors make (the API's middleware, the prediction server's `/v1`). Reads
are a viewer's; a write not listed here needs an admin, so a new route is closed until it
is placed (tests/test_roles.py checks every route is).

viewer reads; operator ingests, trains, exports, predicts, logs runs, deploys canaries and
shadows, checks drift, scores, runs CI checks (mlops check), starts retraining; approver moves
production (aliases, rollbacks, promoting a canary, approving or rejecting pipelines,
archiving); admin manages tokens, reloads the config and takes backups (a backup holds
every row and file of the home).
"""

from __future__ import annotations

import re

from starlette.types import Scope

from mlopsd.services.tokens import ADMIN, ANYONE, APPROVER, OPERATOR, VIEWER, Principal, TokenBook

_SAFE = {"GET", "HEAD", "OPTIONS"}

RULES: list[tuple[str, str, str]] = [
    # (method, path under /api/v1 or /v1 with {params}, role)
    ("POST", "/api/v1/selectors/resolve", VIEWER),  # a read with a body
    ("POST", "/api/v1/jobs", OPERATOR),
    ("POST", "/api/v1/jobs/{job_id}/cancel", OPERATOR),
    ("POST", "/api/v1/datasets/{name}/files", OPERATOR),
    # Checks store nothing, but each runs a job on the daemon's workers with an upload or
    # a holdout: an operator's act, as a drift check is (a viewer only reads).
    ("POST", "/api/v1/datasets/{name}/check", OPERATOR),
    ("POST", "/api/v1/models/{name}/versions/{version}/check", OPERATOR),
    ("POST", "/api/v1/quarantine/requeue", OPERATOR),
    ("POST", "/api/v1/materialise", OPERATOR),
    ("POST", "/api/v1/alerts/{alert_id}/ack", OPERATOR),
    ("POST", "/api/v1/alerts/{alert_id}/resolve", OPERATOR),
    ("POST", "/api/v1/models/{name}/train", OPERATOR),
    ("POST", "/api/v1/models/{name}/versions/{version}/reproduce", OPERATOR),
    ("POST", "/api/v1/models/{name}/versions/{version}/export", OPERATOR),
    ("POST", "/api/v1/models/{name}/aliases/production", APPROVER),
    ("POST", "/api/v1/models/{name}/aliases/{alias}", OPERATOR),
    ("POST", "/api/v1/models/{name}/rollback", APPROVER),
    ("POST", "/api/v1/models/{name}/versions/{version}/archive", APPROVER),
    ("POST", "/api/v1/runs", OPERATOR),
    ("POST", "/api/v1/runs/{run_id}/log", OPERATOR),
    ("POST", "/api/v1/runs/{run_id}/end", OPERATOR),
    ("POST", "/api/v1/runs/{run_id}/models", OPERATOR),
    ("POST", "/api/v1/models/{name}/deploy", OPERATOR),  # blue-green: approver (the route)
    ("POST", "/api/v1/models/{name}/deploy/promote", APPROVER),
    ("POST", "/api/v1/models/{name}/deploy/abort", OPERATOR),
    ("POST", "/api/v1/models/{name}/drill", OPERATOR),
    ("POST", "/api/v1/models/{name}/drift", OPERATOR),
    ("POST", "/api/v1/models/{name}/score", OPERATOR),
    ("POST", "/api/v1/models/{name}/retrain", OPERATOR),
    ("POST", "/api/v1/pipelines/{pipeline_id}/approve", APPROVER),
    ("POST", "/api/v1/pipelines/{pipeline_id}/reject", APPROVER),
    ("POST", "/api/v1/pipelines/{pipeline_id}/cancel", OPERATOR),
    ("POST", "/api/v1/reload", ADMIN),
    ("POST", "/api/v1/backup", ADMIN),
    ("GET", "/api/v1/tokens", ADMIN),
    ("POST", "/api/v1/tokens", ADMIN),
    ("POST", "/api/v1/tokens/{token}/revoke", ADMIN),
    ("GET", "/api/v1/whoami", VIEWER),
    ("POST", "/v1/models/{name}/predict", OPERATOR),
    ("POST", "/v1/models/{name}/versions/{version}/predict", OPERATOR),
    ("POST", "/v1/models/{name}/predict/stream", OPERATOR),
    ("POST", "/v1/models/{name}/feedback", OPERATOR),
    # MLflow's REST API (mlopsd/api/mlflow/): its reads that travel as POST, then its writes.
    ("POST", "/api/2.0/mlflow/experiments/search", VIEWER),
    ("POST", "/api/2.0/mlflow/runs/search", VIEWER),
    ("POST", "/api/2.0/mlflow/logged-models/search", VIEWER),
    ("POST", "/api/2.0/mlflow/registered-models/get-latest-versions", VIEWER),
    ("POST", "/api/2.0/mlflow/experiments/create", OPERATOR),
    *(("POST", f"/api/2.0/mlflow/runs/{call}", OPERATOR) for call in (
        "create", "update", "delete", "restore", "log-metric", "log-parameter", "log-batch",
        "set-tag", "delete-tag", "log-inputs", "outputs")),
    ("POST", "/api/2.0/mlflow/logged-models", OPERATOR),
    ("PATCH", "/api/2.0/mlflow/logged-models/{model_id}", OPERATOR),
    ("PATCH", "/api/2.0/mlflow/logged-models/{model_id}/tags", OPERATOR),
    ("DELETE", "/api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key}", OPERATOR),
    ("POST", "/api/2.0/mlflow/logged-models/{model_id}/params", OPERATOR),
    ("POST", "/api/2.0/mlflow/registered-models/create", OPERATOR),
    ("PATCH", "/api/2.0/mlflow/registered-models/update", OPERATOR),
    ("POST", "/api/2.0/mlflow/registered-models/set-tag", OPERATOR),
    ("DELETE", "/api/2.0/mlflow/registered-models/delete-tag", OPERATOR),
    # production: an approver's (checked by the route, where the body names the alias)
    ("POST", "/api/2.0/mlflow/registered-models/alias", OPERATOR),
    ("DELETE", "/api/2.0/mlflow/registered-models/alias", OPERATOR),
    ("POST", "/api/2.0/mlflow/model-versions/create", OPERATOR),
    ("PATCH", "/api/2.0/mlflow/model-versions/update", OPERATOR),
    ("POST", "/api/2.0/mlflow/model-versions/set-tag", OPERATOR),
    ("DELETE", "/api/2.0/mlflow/model-versions/delete-tag", OPERATOR),
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}", OPERATOR),
    # The rest of MLflow's API is answered "not supported" (its error, naming the call)
    # to anyone who may read.
    *((method, "/api/2.0/{call:path}", VIEWER) for method in ("POST", "PUT", "PATCH",
                                                              "DELETE")),
]


def _pattern(template: str) -> re.Pattern[str]:
    """`{name}` is one path segment; `{name:path}` any number of them."""
    parts = re.split(r"(\{[^}]+\})", template)
    body = "".join((".+" if p.endswith(":path}") else "[^/]+") if p.startswith("{")
                   else re.escape(p) for p in parts)
    return re.compile(f"^{body}/?$")


_COMPILED = [(method, _pattern(path), path, role) for method, path, role in RULES]


def with_article(role: str) -> str:
    """The role with its article: "an operator", "a viewer"."""
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


def rule_for(method: str, path: str) -> tuple[str, str] | None:
    """The first rule matching (its path template and role), or None."""
    for rule_method, pattern, template, role in _COMPILED:
        if rule_method == method and pattern.match(path):
            return template, role
    return None


def needed(method: str, path: str) -> str:
    """The role a call needs: its rule's, else a viewer's for a read, an admin's for a
    write nobody placed."""
    found = rule_for(method, path)
    if found is not None:
        return found[1]
    return VIEWER if method in _SAFE else ADMIN


def bearer(scope: Scope) -> str | None:
    """The secret of an `Authorization: Bearer …` header; "" for another scheme; None when
    there is no header."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1")
            return text[7:].strip() if text[:7].lower() == "bearer " else ""
    return None


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def admit(book: TokenBook, scope: Scope, *, token_required: bool) -> Principal:
    """The request's principal when its role may make the call, else Refused."""
    method, path = scope["method"], scope["path"]
    role = needed(method, path)
    given = bearer(scope)
    if given is None:
        # A read needs no token on loopback, even one sent as POST (a search with a body).
        if token_required or (method not in _SAFE and role != VIEWER):
            why = ("this daemon listens beyond loopback: every call" if token_required
                   else "this call")
            raise Refused(401, f"{why} needs a token: send 'Authorization: Bearer <token>' "
                          f"({with_article(role)}'s or above; the home's own is in HOME/token)")
        principal = ANYONE
    else:
        found = book.who(given) if given else None
        if found is None:
            raise Refused(401, "the token is not one of this home's tokens (revoked, mistyped "
                          "or of another home): `mlops tokens list` names them")
        principal = found
    if not principal.may(role):
        rule = rule_for(method, path)
        what = f"{method} {rule[0] if rule else path}"
        raise Refused(403, f"{what} needs {with_article(role)}'s token; "
                      + (f"token {principal.name!r} is {with_article(principal.role)}'s"
                         if principal is not ANYONE else "no token was sent"))
    return principal
