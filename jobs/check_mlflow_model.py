"""check_mlflow_model: a model MLflow's client logged (`mlflow.lightgbm.log_model`, or
autolog) and asked to register, read in a worker: its MLmodel file says which file holds
the model and what its signature is; the model must be a LightGBM Booster saved as text,
which is loaded and checked like an SDK upload (jobs/check_model.py).

A pickle (the scikit-learn flavour, `LGBMRegressor`, `model.pkl`) is never loaded: it is
refused, saying why and what to log instead. The MLmodel file is YAML from an upload,
read with `yaml.safe_load` here rather than in the daemon, and bounded in size.
"""

from __future__ import annotations

import json
from typing import Any

from jobs import check_model
from jobs.context import InvalidParams, JobContext, JobError

DESCRIPTION = ("Read a model MLflow's client logged (its MLmodel file, its LightGBM text) "
               "and check it against its signature.")
MAX_MLMODEL_BYTES = 1 << 20
_DTYPES = {"boolean": "bool", "integer": "int64", "long": "int64", "float": "float64",
           "double": "float64", "datetime": "datetime"}
_PICKLES = (".pkl", ".pickle", ".joblib", ".skops", ".cloudpickle")
_LOG_THE_BOOSTER = ("log the Booster instead: mlflow.lightgbm.log_model(booster, ...) (for a "
                    "scikit-learn model: its .booster_)")


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    files = params.get("files")
    if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise InvalidParams("files", "must map the model folder's file names to artifact "
                                     "hashes")
    if not isinstance(params.get("model"), str) or not isinstance(params.get("number"), int):
        raise InvalidParams("model", "must name the model and the version number")
    return params


def _flavour(mlmodel: dict[str, Any], files: dict[str, str]) -> str:
    """The file holding the LightGBM text, or a JobError saying why there is none."""
    flavors = mlmodel.get("flavors")
    if flavors is not None and not isinstance(flavors, dict):
        raise JobError(f"source: the MLmodel file's flavors is {_shown(flavors)}, not a "
                       "mapping of flavour names to their settings")
    if flavors is None or "lightgbm" not in flavors:
        named = sorted(str(name) for name in flavors or {})
        pickled = sorted({str(f.get("pickled_model")) for f in (flavors or {}).values()
                          if isinstance(f, dict) and f.get("pickled_model")})
        why = (f"it was saved as a pickle ({', '.join(pickled)}), which is never loaded here"
               if pickled else "only a LightGBM model (mlflow.lightgbm) can be registered "
               "here: its text is read by LightGBM, never unpickled")
        raise JobError(f"source: the model's flavours are {named or 'not given'}: {why}; "
                       + _LOG_THE_BOOSTER)
    flavour = flavors["lightgbm"] or {}
    if not isinstance(flavour, dict):
        raise JobError(f"source: the MLmodel file's flavors.lightgbm is {_shown(flavour)}, "
                       "not a mapping (data: the model's file, model_class)")
    data = str(flavour.get("data") or "")
    model_class = str(flavour.get("model_class") or "")
    if data.endswith(_PICKLES) or (model_class and model_class != "lightgbm.basic.Booster"):
        raise JobError(f"source: the model was saved as a pickle ({data or 'no data file'}, "
                       f"{model_class or 'an unknown class'}); a pickle is never loaded here: "
                       + _LOG_THE_BOOSTER)
    if data not in files:
        raise JobError(f"source: the MLmodel file names {data!r} as the model, and no such "
                       f"file was uploaded (there are: {sorted(files)})")
    return data


def _shown(value: Any) -> str:
    return repr(value) if len(repr(value)) <= 80 else repr(value)[:80] + "…"


def signature_of(mlmodel: dict[str, Any]) -> dict[str, Any]:
    """Our signature ({"inputs": [{name, dtype, categorical, categories}]}) from the
    MLmodel's column signature."""
    signature = mlmodel.get("signature")
    if not isinstance(signature, dict) or not signature.get("inputs"):
        raise JobError("signature: the MLmodel file has none; log the model with "
                       "input_example= or signature= (autolog infers one from the training "
                       "data when it is a pandas DataFrame)")
    try:
        columns = json.loads(signature["inputs"])
    except (TypeError, ValueError) as exc:
        raise JobError(f"signature: its inputs are not JSON: {exc}") from None
    if not isinstance(columns, list) or not columns:
        raise JobError("signature: its inputs are empty")
    inputs = []
    for column in columns:
        if not isinstance(column, dict) or column.get("type") == "tensor" or "name" not in column:
            raise JobError("signature: a tensor signature (from a numpy input) names no "
                           "columns; train on (or give input_example=) a pandas DataFrame "
                           "with the feature names")
        name, kind = str(column["name"]), str(column.get("type"))
        if kind == "string":
            raise JobError(f"signature: column {name!r} is a string; an MLflow signature "
                           "carries no categories, so encode it as integers before training")
        if kind not in _DTYPES:
            raise JobError(f"signature: column {name!r} is {kind}, which cannot be a model "
                           f"input (known: {', '.join(sorted(_DTYPES))})")
        inputs.append({"name": name, "dtype": _DTYPES[kind], "categorical": False,
                       "categories": None})
    return {"inputs": inputs}


def _read_mlmodel(text: bytes) -> dict[str, Any]:
    import yaml

    if len(text) > MAX_MLMODEL_BYTES:
        raise JobError(f"source: the MLmodel file is {len(text):,} bytes; at most "
                       f"{MAX_MLMODEL_BYTES:,} are read")
    try:
        document = yaml.safe_load(text.decode())
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise JobError(f"source: the MLmodel file is not YAML: {exc}") from None
    if not isinstance(document, dict):
        raise JobError("source: the MLmodel file is not a YAML mapping")
    return document


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    params = check_params(params)
    files: dict[str, str] = params["files"]
    if "MLmodel" not in files:
        raise JobError(f"source: no MLmodel file was uploaded there (there are: "
                       f"{sorted(files)})")
    mlmodel = _read_mlmodel(ctx.artifacts.read_bytes(files["MLmodel"]))
    data = _flavour(mlmodel, files)
    signature = signature_of(mlmodel)
    raw = ctx.artifacts.read_bytes(files[data])
    if not raw.startswith(b"tree\n"):
        raise JobError(f"source: {data} is not a LightGBM model text (it does not begin with "
                       "'tree'); " + _LOG_THE_BOOSTER)
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise JobError(f"source: {data} is not text") from None
    names = [item["name"] for item in signature["inputs"]]
    result = check_model.check(text, names, None, ctx, files[data], field=data)
    return {**result, "sha": files[data], "signature": signature}
