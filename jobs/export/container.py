"""The container export: the model text, its signature, a prediction server with the daemon's
contract and a Dockerfile.

The server is `jobs/export/standalone/` with the daemon's own row encoding
(`jobs/feature_values.py`) and replies (`jobs/prediction_answers.py`) beside it, each file
copied as it is: the exported model encodes and answers with the daemon's code, not a copy
kept equal by hand. None of them imports anything of mlops (tests/test_export_parts.py).

The Dockerfile pins what the server runs on to what the model was served with here: the
Python of the worker (`python:X.Y.Z-slim-bookworm`), and LightGBM, numpy and scipy (which
LightGBM needs) at the worker's exact versions; it runs as a non-root user and checks
`/healthz`. Nothing is built here: Docker need not be on the daemon's machine.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
from pathlib import Path
from typing import Any

from jobs.prediction_answers import example_row

_JOBS = Path(__file__).resolve().parents[1]
SERVER_FILES = {"server.py": _JOBS / "export" / "standalone" / "server.py",
                "inputs.py": _JOBS / "export" / "standalone" / "inputs.py",
                "feature_values.py": _JOBS / "feature_values.py",
                "prediction_answers.py": _JOBS / "prediction_answers.py"}
"""The exported server's files: its name in the export -> the file copied."""
PORT = 8080
USER_ID = 10001

DOCKERFILE = """\
# {label} as a container: `docker build -t {tag} . && docker run -p {port}:{port} {tag}`
# Made by `mlops export {label} --container`. The versions are those the model was
# served with when it was exported.
FROM python:{python}-slim-bookworm

# LightGBM's wheel links OpenMP, which the slim image leaves out.
RUN apt-get update \\
    && apt-get install -y --no-install-recommends libgomp1 \\
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/model
COPY requirements.txt .
RUN pip install --no-cache-dir --no-compile -r requirements.txt

COPY {server_files} model.txt model.json ./
RUN useradd --system --uid {uid} --no-create-home --shell /usr/sbin/nologin model
USER {uid}

ENV PYTHONUNBUFFERED=1
EXPOSE {port}
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \\
    CMD ["python", "server.py", "--check", "--port", "{port}"]
CMD ["python", "server.py", "--host", "0.0.0.0", "--port", "{port}"]
"""

README = """\
# {label}: a prediction server

Exported by `mlops export {label} --container` ({task} model, {inputs} inputs). It answers
the mlops daemon's prediction contract for this version, with LightGBM and the standard
library (no mlops needed):

```sh
docker build -t {tag} .
docker run --rm -p {port}:{port} {tag}
curl -s localhost:{port}/v1/models/{name}/predict -H 'content-type: application/json' \\
     -d @example.json
```

Without Docker: `pip install -r requirements.txt && python server.py --port {port}`.

- `POST /v1/models/{name}/predict` (and `/v1/models/{name}/versions/{version}/predict`):
  `{{"rows": [{{input: value}}]}}` or `{{"columns": {{input: [values]}}}}`; the reply is the
  daemon's (`predictions`, and `labels`, `classes` for classifiers; `?explain=true` adds
  per-feature contributions). Bad input is a 4xx `{{"error": {{"code", "message",
  "field"}}}}` naming the row and the input.
- `GET /v1/models/{name}`: the signature and an example request; `GET /healthz`: liveness.
- Not here: CSV, Parquet and Arrow bodies, `/predict/stream`, feedback, the prediction
  log and metrics; those need the daemon.

`model.txt` is the LightGBM model text; the server refuses to start if its SHA-256 is not
the one in `model.json`. `model.json` also holds the input signature (names, types, the
category lists: a category's code is its position in its list).
"""


def write(folder: Path, params: dict[str, Any], text: bytes) -> dict[str, Any]:
    import lightgbm
    import numpy
    import scipy

    name, version = params["model"], params["version"]
    signature = params["signature"]
    label = f"{name}:{version}"
    tag = f"{name.lower()}:{version}"
    (folder / "model.txt").write_bytes(text)
    meta = {"model": name, "version": version, "task": signature.get("task"),
            "model_sha256": hashlib.sha256(text).hexdigest(), "signature": signature,
            "unseen_categories": params["unseen_categories"], "limits": params["limits"],
            "lightgbm": lightgbm.__version__}
    (folder / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    for file, source in SERVER_FILES.items():
        shutil.copyfile(source, folder / file)
    pins = {"lightgbm": lightgbm.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__}
    (folder / "requirements.txt").write_text(
        "".join(f"{package}=={pinned}\n" for package, pinned in pins.items()))
    python = platform.python_version()
    (folder / "Dockerfile").write_text(DOCKERFILE.format(
        label=label, tag=tag, port=PORT, python=python, uid=USER_ID,
        server_files=" ".join(SERVER_FILES)))
    kept = ("requirements.txt", *SERVER_FILES, "model.txt", "model.json")
    (folder / ".dockerignore").write_text("*\n" + "".join(f"!{file}\n" for file in kept))
    (folder / "example.json").write_text(json.dumps({"rows": [example_row(signature)]}) + "\n")
    (folder / "README.md").write_text(README.format(
        label=label, tag=tag, port=PORT, name=name, version=version,
        task=signature.get("task") or "regression", inputs=len(signature["inputs"])))
    return {"python": python, "pins": pins, "base_image": f"python:{python}-slim-bookworm"}

