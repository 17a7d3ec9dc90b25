"""The floor under any Python prediction server on this machine: an ASGI app that reads the
body and answers a constant, served by uvicorn with the daemon's own stack (httptools, uvloop,
no access log), measured with the same client code as both real servers. What it reaches with
8 clients bounds what a goal stated against MLflow can ask of a server written in Python."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator

from benchmarks.http_clients import Target, connect, post
from benchmarks.mlflow_serve import free_port, stop

ANSWER = b'{"predictions":[0.5]}'

APP = f"""
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]}})
    await send({{"type": "http.response.body", "body": {ANSWER!r}}})
"""


@contextlib.contextmanager
def serving(body: bytes) -> Iterator[Target]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", APP + "\nimport uvicorn\nuvicorn.run(app, host='127.0.0.1', "
         f"port={port}, http='httptools', loop='uvloop', access_log=False, "
         "log_level='warning', lifespan='off')"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    target = Target(f"http://127.0.0.1:{port}", "/predict")
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError("the empty ASGI server exited during start")
            try:
                conn = connect(target.base_url)
                status, reply = post(conn, target.path, body)
                conn.close()
                if status == 200 and reply == ANSWER:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield target
    finally:
        stop(proc)
