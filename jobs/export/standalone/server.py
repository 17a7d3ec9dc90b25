"""A prediction server for one model exported by `mlops export NAME:VERSION --container DIR`.

It answers the mlops daemon's prediction contract for this one version, with LightGBM,
numpy, the standard library and the files beside it (`inputs.py`, and the daemon's own
`feature_values.py` and `prediction_answers.py`, copied by the export); mlops need not be
installed:

    POST /v1/models/{name}/predict                  {"rows": [...]} or {"columns": {...}}
    POST /v1/models/{name}/versions/{version}/predict   the same (this version only)
    GET  /v1/models/{name}                          signature, version, an example request
    GET  /healthz, /api/v1/health                   liveness (the Dockerfile's HEALTHCHECK)

Replies are the daemon's: {"model", "version", "request_id", "predictions"} plus "labels",
"classes" (and "threshold") for classifiers, "features", "contributions" and "base_value"
with ?explain=true; a refused request is {"error": {"code", "message", "field", "row"}}
with the daemon's status. The model is read as LightGBM text, after its SHA-256 matched
the one recorded at export.

    python server.py --host 0.0.0.0 --port 8080
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

import numpy as np
import prediction_answers
from inputs import BadRequest, Encoder, decode


def _import_lightgbm() -> Any:
    """LightGBM without its scikit-learn wrappers: `import lightgbm` imports scikit-learn
    when it is installed (seconds on a busy machine), and the server needs only the
    Booster. A container installs no scikit-learn; elsewhere this keeps start-up quick."""
    if "sklearn" in sys.modules:
        import lightgbm
        return lightgbm
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # makes its import fail
    try:
        import lightgbm
    finally:
        del sys.modules["sklearn"]
    return lightgbm


lgb = _import_lightgbm()

HERE = Path(__file__).resolve().parent
SINGLE_THREAD_ROWS = 200
"""Up to this many rows LightGBM predicts on one thread (its threading costs more than it
gives on a few rows), as the daemon does."""
_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 411: "bad_request",
          413: "too_large", 415: "unsupported_media", 422: "invalid", 500: "internal"}
HEALTH_PATHS = ("/healthz", "/api/v1/health")


class Model:
    """The exported version: its booster, signature and how it answers."""

    def __init__(self, folder: Path) -> None:
        self.meta = json.loads((folder / "model.json").read_text())
        text = (folder / "model.txt").read_bytes()
        if hashlib.sha256(text).hexdigest() != self.meta["model_sha256"]:
            raise SystemExit(f"{folder / 'model.txt'} does not match the SHA-256 recorded in "
                             "model.json: it was changed or cut short; export it again")
        self.booster = lgb.Booster(model_str=text.decode())
        self.name, self.version = self.meta["model"], self.meta["version"]
        self.signature = self.meta["signature"]
        self.task = self.signature.get("task") or "regression"
        self.features = [item["name"] for item in self.signature["inputs"]]
        if self.booster.feature_name() != self.features:
            raise SystemExit("model.txt's features are not the signature's inputs")
        target = self.signature.get("target") or {}
        self.classes = target.get("classes")
        self.threshold = self.signature.get("threshold")
        self.encoder = Encoder(self.signature)
        self.reject_unseen = self.meta.get("unseen_categories") == "reject"

    def predict(self, matrix: np.ndarray, *, contributions: bool = False) -> np.ndarray:
        threads = 1 if matrix.shape[0] <= SINGLE_THREAD_ROWS else 0
        return self.booster.predict(matrix, num_threads=threads, pred_contrib=contributions)

    def answer(self, raw: np.ndarray) -> dict[str, Any]:
        return prediction_answers.answer(self.task, self.classes, self.threshold, raw)

    def explain(self, contributions: np.ndarray) -> dict[str, Any]:
        return prediction_answers.explain(self.task, self.features, contributions)

    def example_row(self) -> dict[str, Any]:
        return prediction_answers.example_row(self.signature)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every reply says its Content-Length
    disable_nagle_algorithm = True  # else small replies wait ~40 ms for a delayed ACK
    server_version = "mlops-export"
    model: Model
    max_rows: int
    max_body_bytes: int

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        request_id = (self.headers.get("x-request-id") or "")[:200] or uuid.uuid4().hex
        try:
            self._route(method, request_id)
        except BadRequest as exc:
            self._error(exc, request_id)
        except Exception as exc:  # a reply, never a dropped connection
            self.log_error("unhandled error on %s %s: %r", method, self.path, exc)
            self._error(BadRequest(500, f"internal error: {type(exc).__name__}"), request_id)

    def _route(self, method: str, request_id: str) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        if path in HEALTH_PATHS:
            self._only(method, "GET")
            self._drain()
            self._send(200, {"status": "ok", "model": self.model.name,
                             "version": self.model.version}, request_id)
            return
        parts = path.split("/")[1:]
        if len(parts) < 3 or parts[:2] != ["v1", "models"]:
            self._drain()
            raise BadRequest(404, "no such endpoint: predictions are POST "
                             f"/v1/models/{self.model.name}/predict")
        name, _, alias = parts[2].partition("@")
        rest = parts[3:]
        if name == self.model.name and alias:
            self._drain()
            raise BadRequest(404, f"aliases are not exported: this server serves "
                             f"{name}:{self.model.version} at /v1/models/{name}/predict",
                             field="alias")
        if name != self.model.name:
            self._drain()
            raise BadRequest(404, f"no model named {name!r} (this server serves "
                             f"{self.model.name!r} only)", field="name", code="unknown_model")
        if not rest:
            self._only(method, "GET")
            self._drain()
            self._send(200, self._describe(), request_id)
            return
        if rest[0] == "versions" and len(rest) == 3 and rest[2] == "predict":
            if rest[1] != self.model.version:
                self._drain()
                raise BadRequest(404, f"version {rest[1]!r} is not served here (this server "
                                 f"serves {self.model.name}:{self.model.version})",
                                 field="version")
            rest = rest[2:]
        if rest != ["predict"]:
            self._drain()
            raise BadRequest(404, f"no such endpoint under /v1/models/{name}: use /predict "
                             "(the daemon's /predict/stream and /feedback are not exported)")
        self._only(method, "POST")
        self._predict(url.query, request_id)

    def _predict(self, query: str, request_id: str) -> None:
        body = self._body()
        media = (self.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media not in ("", "application/json"):
            raise BadRequest(415, f"content type {media!r} is not accepted: send "
                             "application/json (an exported server reads JSON only)",
                             field="content-type")
        model = self.model
        batch = decode(body, model.encoder, max_rows=self.max_rows,
                       reject_unseen=model.reject_unseen)
        found = model.answer(model.predict(batch.matrix))
        values = parse_qs(query).get("explain", [])
        if values and values[-1].lower() in ("1", "true", "yes"):
            found.update(model.explain(model.predict(batch.matrix, contributions=True)))
        headers = [("x-model-version", model.version)]
        if batch.ignored:
            headers.append(("x-ignored-columns", ",".join(batch.ignored)[:4000]))
        if batch.unseen:
            headers.append(("x-unseen-categories", ",".join(
                f"{column}={rows}" for column, rows in batch.unseen.items())[:4000]))
        self._send(200, {"model": model.name, "version": model.version,
                         "request_id": request_id, **found}, request_id, headers)

    def _describe(self) -> dict[str, Any]:
        model = self.model
        return {"model": model.name, "version": model.version, "task": model.task,
                "aliases": {}, "signature": model.signature, "features": model.features,
                "example_request": {"method": "POST",
                                    "path": f"/v1/models/{model.name}/predict",
                                    "body": {"rows": [model.example_row()]}}}

    def _only(self, method: str, allowed: str) -> None:
        if method != allowed:
            self._drain()
            raise BadRequest(405, f"{method} {self.path.split('?')[0]}: use {allowed}",
                             allow=allowed)

    def _body(self) -> bytes:
        declared = self.headers.get("content-length")
        if declared is None or not declared.strip().isdigit():
            self.close_connection = True
            raise BadRequest(411, "send the body with a Content-Length", field="body")
        size = int(declared)
        if size > self.max_body_bytes:
            self.close_connection = True  # its body is left unread
            raise BadRequest(413, f"the body is {size:,} bytes; this server takes at most "
                             f"{self.max_body_bytes:,} (--max-body-mb)", field="body")
        return self.rfile.read(size)

    def _drain(self) -> None:
        """Read a body nobody will use, so the connection can carry the next request."""
        declared = (self.headers.get("content-length") or "0").strip()
        size = int(declared) if declared.isdigit() else 0
        if size > self.max_body_bytes or self.headers.get("transfer-encoding"):
            self.close_connection = True
        elif size:
            self.rfile.read(size)

    def _error(self, error: BadRequest, request_id: str) -> None:
        found: dict[str, Any] = {"code": error.code or _CODES.get(error.status, "error"),
                                 "message": error.message}
        if error.field:
            found["field"] = error.field
        if error.row is not None:
            found["row"] = error.row
        headers = [("allow", error.allow)] if error.allow else []
        self._send(error.status, {"error": found}, request_id, headers)

    def _send(self, status: int, body: dict[str, Any], request_id: str,
              headers: list[tuple[str, str]] | None = None) -> None:
        data = json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", request_id)
        for key, value in headers or ():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def _check(port: int) -> int:
    try:
        with urlopen(f"http://127.0.0.1:{port}{HEALTH_PATHS[0]}", timeout=4) as reply:
            return 0 if reply.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


def _stop(*_: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default 127.0.0.1; 0.0.0.0 in a "
                        "container)")
    parser.add_argument("--port", type=int, default=8080, help="the port (default 8080)")
    parser.add_argument("--max-rows", type=int, help="rows in one request at most (default: "
                        "the daemon's [serving] max_rows at export)")
    parser.add_argument("--max-body-mb", type=float, help="request body size at most (default: "
                        "the daemon's [serving] max_body_mb at export)")
    parser.add_argument("--quiet", action="store_true", help="no line per request on stderr")
    parser.add_argument("--check", action="store_true", help="ask the server on --port for "
                        "its health and exit 0 when it answers (the Dockerfile's HEALTHCHECK)")
    args = parser.parse_args(argv)
    if args.check:
        return _check(args.port)
    model = Model(HERE)
    limits = model.meta.get("limits") or {}
    Handler.model = model
    Handler.max_rows = args.max_rows or int(limits.get("max_rows", 100_000))
    Handler.max_body_bytes = int((args.max_body_mb or limits.get("max_body_mb", 64.0))
                                 * 1024 * 1024)
    if args.quiet:
        Handler.log_message = lambda *_: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    # As a container's process 1, a signal with no handler is ignored: `docker stop` would
    # wait its grace period and kill. SIGTERM ends the server as Ctrl-C does.
    signal.signal(signal.SIGTERM, _stop)
    host, port = server.server_address[:2]
    print(f"serving {model.name}:{model.version} ({model.task}) on http://{host}:{port}",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
