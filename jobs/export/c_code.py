"""The C export: the model compiled to dependency-free C99 by treelite (reads the LightGBM
text) and tl2cgen (writes the C), with tl2cgen's header, a Makefile, an example program
(`jobs/export/c_files/`), the signature and a README.

Nothing wrong is written: a model treelite cannot represent faithfully is refused, naming
why. Two kinds are known and refused up front (linear trees; zero treated as missing, which
treelite 4.8 reads but predicts differently), and every model is checked before its C is
written: treelite's own predictor (GTIL, the same trees the C is generated from) must give
`Booster.predict`'s numbers, to 1e-6, on rows made to reach both sides of every split of
the model (each threshold and the next value past it, each category, zero, negatives and
missing values).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from jobs.context import JobContext, JobError
from jobs.features import to_matrix
from jobs.prediction_answers import example_row

C_FILES = Path(__file__).resolve().parent / "c_files"
PROBE_ROWS = 1_000
TOLERANCE = 1e-6
"""|C - Booster.predict| at most this, times the prediction's size when it is above 1."""
TREES_PER_SOURCE = 200
"""tl2cgen writes this many trees per C file at most, so `make -j` compiles them in parallel
and no one file grows too large for a small compiler."""
_MISSING_ZERO = 1
"""LightGBM's decision_type bits 2-3: the missing type (0 none, 1 zero, 2 NaN)."""

README = """\
# {label} as C

Exported by `mlops export {label} --c`: the model's {trees} trees as C99 (by treelite
{treelite} and tl2cgen {tl2cgen}) that needs nothing but a C compiler and libm.

```sh
make                          # libmodel.a and ./example (CC=..., AR=... to cross-compile)
./example < rows.csv          # one prediction line per row (rows.csv: two examples)
```

- `header.h` declares `void predict(union Entry* data, int pred_margin, double* result)`:
  `data` holds the {features} inputs in the order of `signature.json`, each `fvalue` a
  number or `missing = -1`; `result` ({outputs} double(s), zeroed first) receives
  {what}. `pred_margin = 1` gives the raw score instead.
- Inputs are numbers as the daemon encodes them: numbers and booleans as they are (true
  1), a category as its position in its input's category list in `signature.json` (an
  unknown category as missing), a date as seconds since 1970-01-01 UTC.
- `example.c` reads rows of comma-separated numbers (empty or `nan`: missing) and prints
  each row's prediction(s) with 17 significant digits.

Checked at export: treelite's predictions of this model equal LightGBM's `Booster.predict`
to 1e-6 on {probe} rows reaching both sides of every split.
"""


def refusals(text: str) -> None:
    """The models treelite cannot turn into faithful C, refused with the reason."""
    for line in text.splitlines():
        if line == "is_linear=1":
            raise JobError("the model has linear trees (linear_tree=true), which treelite cannot "
                           "compile to C: export it as a container, or retrain without "
                           "linear_tree")
        if line.startswith("decision_type=") and any(
                (int(v) >> 2) & 3 == _MISSING_ZERO for v in line[14:].split()):
            raise JobError("the model treats zero as missing (zero_as_missing=true), which "
                           "treelite's C does not reproduce: export it as a container, or "
                           "retrain without zero_as_missing")


def probe_rows(text: str, signature: dict[str, Any], n_rows: int = PROBE_ROWS) -> np.ndarray:
    """Rows whose values sit on both sides of every threshold of the model (and every
    category, zero, a negative, missing), drawn at random per input."""
    inputs = signature["inputs"]
    values: list[set[float]] = [{0.0, -1.0, 1.0, math.nan} for _ in inputs]
    for j, item in enumerate(inputs):
        if item.get("categorical"):
            values[j].update(float(c) for c in range(len(item.get("categories") or []) + 2))
    features = thresholds = kinds = None
    for line in text.splitlines():
        key, _, rest = line.partition("=")
        if key == "split_feature":
            features = [int(v) for v in rest.split()]
        elif key == "threshold":
            thresholds = [float(v) for v in rest.split()]
        elif key == "decision_type":
            kinds = [int(v) for v in rest.split()]
        if features is not None and thresholds is not None and kinds is not None:
            for j, threshold, kind in zip(features, thresholds, kinds, strict=True):
                if not kind & 1 and j < len(values):  # numerical: categorical are indices
                    values[j].update((threshold, float(np.nextafter(threshold, np.inf)),
                                      float(np.nextafter(threshold, -np.inf))))
            features = thresholds = kinds = None
    rng = np.random.default_rng(0)
    matrix = np.empty((n_rows, len(inputs)), dtype=np.float64)
    for j, found in enumerate(values):
        matrix[:, j] = rng.choice(np.array(sorted(found, key=lambda v: (math.isnan(v), v))),
                                  size=n_rows)
    return matrix


def check(model: Any, booster: Any, rows: np.ndarray) -> float:
    """The largest difference between treelite's and LightGBM's predictions on `rows`;
    a JobError when it is past TOLERANCE."""
    import treelite.gtil

    expected = booster.predict(rows, num_threads=1).reshape(rows.shape[0], -1)
    found = np.asarray(treelite.gtil.predict(model, rows, nthread=1)).reshape(expected.shape)
    scale = np.maximum(1.0, np.abs(expected))
    both_nan = np.isnan(found) & np.isnan(expected)
    worst = float(np.max(np.where(both_nan, 0.0, np.abs(found - expected) / scale)))
    if not worst <= TOLERANCE:  # NaN-safe
        raise JobError(f"treelite's reading of the model predicts differently from LightGBM "
                       f"(by up to {worst:.3g} on rows probing its splits), so its C would be "
                       "wrong: export it as a container instead")
    return worst


def write(folder: Path, params: dict[str, Any], booster: Any, text: bytes,
          ctx: JobContext) -> dict[str, Any]:
    import tl2cgen
    import treelite

    model_text = text.decode()
    refusals(model_text)
    try:
        model = treelite.frontend.from_lightgbm(booster)
    except treelite.TreeliteError as exc:
        raise JobError(f"treelite cannot read the model: {_first_line(exc)}") from None
    worst = check(model, booster, probe_rows(model_text, params["signature"]))
    trees = booster.num_trees()
    sources = max(1, math.ceil(trees / TREES_PER_SOURCE))
    compiler = {"parallel_comp": sources} if sources > 1 else {}
    try:
        tl2cgen.generate_c_code(model, folder, params=compiler)
    except tl2cgen.TL2cgenError as exc:
        raise JobError(f"tl2cgen cannot generate C for the model: {_first_line(exc)}") from None
    recipe = json.loads((folder / "recipe.json").read_text())
    (folder / "recipe.json").unlink()  # tl2cgen's build recipe: the Makefile replaces it
    names = [f"{source['name']}.c" for source in recipe["sources"]]
    label = f"{params['model']}:{params['version']}"
    shutil.copyfile(C_FILES / "example.c", folder / "example.c")
    (folder / "Makefile").write_text((C_FILES / "Makefile").read_text()
                                     .replace("@SOURCES@", " ".join(names))
                                     .replace("@LABEL@", label))
    signature = params["signature"]
    (folder / "signature.json").write_text(json.dumps(signature, indent=2) + "\n")
    (folder / "rows.csv").write_text(_example_rows(signature))
    task = signature.get("task") or "regression"
    outputs = booster.num_model_per_iteration() if task == "multiclass" else 1
    what = {"regression": "the predicted value",
            "binary": "the positive class's probability",
            "multiclass": "one probability per class, in the order of the signature's "
                          "target classes"}.get(task, "the prediction")
    (folder / "README.md").write_text(README.format(
        label=label, trees=trees, treelite=treelite.__version__, tl2cgen=tl2cgen.__version__,
        features=len(signature["inputs"]), outputs=outputs, what=what, probe=PROBE_ROWS))
    ctx.log.info("C for %s: %s trees in %s source file(s); treelite agrees with LightGBM to "
                 "%.3g on %s probe rows", label, trees, len(names), worst, PROBE_ROWS)
    return {"trees": trees, "outputs": outputs, "sources": names,
            "treelite": treelite.__version__, "tl2cgen": tl2cgen.__version__,
            "checked_rows": PROBE_ROWS, "max_difference": worst}


def _example_rows(signature: dict[str, Any]) -> str:
    """rows.csv: the daemon's example row encoded, and a row of missing values."""
    names = [item["name"] for item in signature["inputs"]]
    encoded = to_matrix([example_row(signature), dict.fromkeys(names)], signature)
    lines = [",".join("" if math.isnan(v) else repr(float(v)) for v in row) for row in encoded]
    return f"# {','.join(names)}\n" + "\n".join(lines) + "\n"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1][:300] if text else type(exc).__name__
