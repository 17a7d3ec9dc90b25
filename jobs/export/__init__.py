"""export: a registered model version as a folder that runs without mlops, packed into one
tar artifact that `mlops export` unpacks.

- `container`: the model text, its signature and a small prediction server with the
  daemon's `/v1/models/{name}/predict` contract, plus a Dockerfile (`jobs/export/container.py`);
- `c`: the model compiled to dependency-free C99 by treelite + tl2cgen, with its header, a
  Makefile and an example program (`jobs/export/c_code.py`).

The model text is read back hash-checked from the artifact store and parsed here, in the
worker (LightGBM's parser, treelite and tl2cgen never run in the daemon). The daemon fills
the params from the registry (`mlopsd/services/exports.py`); people ask by name and version.
"""

from __future__ import annotations

import re
import shutil
from typing import Any

from jobs.context import InvalidParams, JobContext

DESCRIPTION = ("Export a model version as a folder that runs without mlops: a container "
               "(server + Dockerfile) or dependency-free C (treelite + tl2cgen).")
FORMATS = ("container", "c")
UNSEEN = ("missing", "reject")
_SHA = re.compile(r"[0-9a-f]{64}")


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    if params.get("format") not in FORMATS:
        raise InvalidParams("format", f"must be one of {', '.join(FORMATS)}")
    for key in ("model", "version"):
        if not isinstance(params.get(key), str) or not params[key]:
            raise InvalidParams(key, "must be a non-empty string")
    if not isinstance(params.get("sha"), str) or not _SHA.fullmatch(params["sha"]):
        raise InvalidParams("sha", "must be the artifact hash of the model text")
    signature = params.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("inputs"), list):
        raise InvalidParams("signature", "must be the version's signature (with its inputs)")
    if params.setdefault("unseen_categories", "missing") not in UNSEEN:
        raise InvalidParams("unseen_categories", f"must be one of {', '.join(UNSEEN)}")
    limits = params.setdefault("limits", {})
    if not isinstance(limits, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0
            for v in limits.values()):
        raise InvalidParams("limits", "must map max_rows / max_body_mb to positive numbers")
    return params


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    import lightgbm as lgb

    from jobs.export import c_code, container
    from jobs.export.archive import pack

    params = check_params(params)
    text = ctx.artifacts.read_bytes(params["sha"])
    booster = lgb.Booster(model_str=text.decode())
    label = f"{params['model']}:{params['version']}"
    ctx.log.info("exporting %s (%s trees) as %s", label, booster.num_trees(), params["format"])
    folder = ctx.artifacts.tmp_dir("work-export-")
    try:
        if params["format"] == "container":
            details = container.write(folder, params, text)
        else:
            details = c_code.write(folder, params, booster, text, ctx)
        sha, files, size = pack(folder, ctx.artifacts)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ctx.log.info("%s exported: %s files, %s bytes packed, artifact %s", label, len(files), size,
                 sha)
    return {"model": params["model"], "version": params["version"],
            "format": params["format"], "sha": sha, "files": files, "bytes": size, **details}
