"""Reading mlops.toml into the dataclasses of `mlopsd.config`, and checking it: every error
names the file, the line and the key; an unknown key is an error (a typo must not silently
fall back to a default). `_Reader.build` turns a TOML table into a dataclass, recursing into
nested tables, and knows where each key stands in the text.
"""

from __future__ import annotations

import math
import re
import tomllib
import types
import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from mlopsd.config import (
    DATASET_NAME,
    DTYPES,
    HOOK_KINDS,
    LOG_LEVELS,
    TASKS,
    Config,
    ConfigError,
    DaemonConfig,
    DatasetConfig,
    HookConfig,
    IngestConfig,
    ModelConfig,
    MonitoringConfig,
    ServingConfig,
    TrackingConfig,
)
from mlopsd.config_card import check_card
from mlopsd.toml_lines import locate

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)")


class _Reader:
    """Builds dataclasses from TOML tables, naming file, line and key in every error."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text

    def fail(self, where: tuple[str | int, ...], key: str | None, message: str) -> typing.NoReturn:
        line = locate(self.text, where, key) if key is not None else locate(self.text, where)
        if line is None and where:
            line = locate(self.text, where[:-1], str(where[-1]))
        dotted = ".".join(str(p) for p in where if not isinstance(p, int))
        name = ".".join(p for p in (dotted, key) if p)
        raise ConfigError(self.path, message, line=line, key=name)

    def build(self, cls: type, raw: Any, where: tuple[str | int, ...]) -> Any:
        if not isinstance(raw, dict):
            self.fail(where, None, "must be a table")
        hints = typing.get_type_hints(cls)
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in known:
                self.fail(where, key, f"unknown key (known: {', '.join(sorted(known))})")
            values[key] = self.value(hints[key], value, where, key)
        for name, f in known.items():
            if name not in values and f.default is MISSING and f.default_factory is MISSING:
                self.fail(where, None, f"missing required key {name!r}")
        return cls(**values)

    def value(self, hint: Any, value: Any, where: tuple[str | int, ...], key: str) -> Any:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            options = [a for a in args if a is not type(None)]
            listed = [a for a in options if typing.get_origin(a) is list]
            if isinstance(value, list) and listed:  # `str | list[str]`: a text or its lines
                return self.value(listed[0], value, where, key)
            return self.value(options[0], value, where, key)
        if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
            return self.build(hint, value, (*where, key))
        if origin is dict:
            if not isinstance(value, dict):
                self.fail(where, key, "must be a table")
            return {k: self.value(args[1], v, (*where, key), k) for k, v in value.items()}
        if origin is list:
            if not isinstance(value, list):
                self.fail(where, key, f"must be a list, got {value!r}")
            return list(value)
        if hint is Any:
            return value
        if origin is None and hint is dict:
            if not isinstance(value, dict):
                self.fail(where, key, "must be a table")
            return value
        if hint is bool:
            if not isinstance(value, bool):
                self.fail(where, key, f"must be true or false, got {value!r}")
            return value
        if hint is int:
            if not isinstance(value, int) or isinstance(value, bool):
                self.fail(where, key, f"must be a whole number, got {value!r}")
            if not -(2**63) <= value < 2**63:
                self.fail(where, key, f"must fit in 64 bits, got {value}")
            return value
        if hint is float:
            if not isinstance(value, int | float) or isinstance(value, bool):
                self.fail(where, key, f"must be a number, got {value!r}")
            if not math.isfinite(value) or abs(value) >= 2**63:
                # TOML allows nan and inf; as a setting neither means anything (a NaN
                # passes every `<` check unseen)
                self.fail(where, key, f"must be a finite number, got {value!r}")
            return float(value)
        if hint is str:
            if not isinstance(value, str):
                self.fail(where, key, f"must be a string, got {value!r}")
            return value
        raise TypeError(f"no reader for {hint}")


def _check(reader: _Reader, config: Config) -> None:
    d = config.daemon

    def bad(key: str, message: str, where: tuple[str | int, ...] = ("daemon",)) -> None:
        reader.fail(where, key, message)

    if not 0 <= d.port <= 65535:
        bad("port", f"must be between 0 and 65535, got {d.port}")
    if d.workers < 0:
        bad("workers", f"must be 0 (automatic) or more, got {d.workers}")
    if d.log_level not in LOG_LEVELS:
        bad("log_level", f"must be one of {', '.join(LOG_LEVELS)}, got {d.log_level!r}")
    if d.log_max_bytes < 1024:
        bad("log_max_bytes", "must be at least 1024")
    if d.log_backups < 0:
        bad("log_backups", "must be 0 or more")
    if d.shutdown_grace_s < 0:
        bad("shutdown_grace_s", "must be 0 or more")
    if d.events_keep < 1:
        bad("events_keep", "must be at least 1")
    if not 0 < d.events_keep_days <= 3650:
        bad("events_keep_days", "must be more than 0 and at most 3650")
    i = config.ingest
    if i.settle_s < 0:
        bad("settle_s", "must be 0 or more", ("ingest",))
    if i.rescan_interval_s < 1:
        bad("rescan_interval_s", "must be at least 1", ("ingest",))
    if i.max_attempts < 1:
        bad("max_attempts", "must be at least 1", ("ingest",))
    if not 1 <= i.max_decompressed_mb <= 1 << 30:
        bad("max_decompressed_mb", "must be from 1 to 2**30 (MiB)", ("ingest",))
    if not 2 <= i.max_compression_ratio <= 1e6:
        bad("max_compression_ratio", "must be from 2 to 1000000", ("ingest",))
    if i.max_upload_mb <= 0:
        bad("max_upload_mb", "must be more than 0", ("ingest",))
    if config.tracking.run_timeout_s < 1:
        bad("run_timeout_s", "must be at least 1", ("tracking",))
    if config.tracking.max_artifact_mb <= 0:
        bad("max_artifact_mb", "must be more than 0", ("tracking",))
    sv = config.serving
    if sv.max_rows < 1:
        bad("max_rows", "must be at least 1", ("serving",))
    if sv.max_body_mb <= 0:
        bad("max_body_mb", "must be more than 0", ("serving",))
    if not 0 <= sv.batch_wait_ms <= 100:
        bad("batch_wait_ms", "must be from 0 to 100 (milliseconds)", ("serving",))
    if sv.batch_max_rows < 1:
        bad("batch_max_rows", "must be at least 1", ("serving",))
    if not 0 < sv.log_sample <= 1:
        bad("log_sample", "must be a share in (0, 1]", ("serving",))
    if sv.log_queue < 1:
        bad("log_queue", "must be at least 1", ("serving",))
    if not 0 < sv.log_keep_days <= 36500:
        bad("log_keep_days", "must be more than 0 and at most 36500 (100 years)", ("serving",))
    if sv.canary_min_requests < 1:
        bad("canary_min_requests", "must be at least 1", ("serving",))
    if not 0 <= sv.canary_error_margin <= 1:
        bad("canary_error_margin", "must be a share in [0, 1]", ("serving",))
    if sv.canary_latency_margin < 0:
        bad("canary_latency_margin", "must be 0 or more", ("serving",))
    if sv.canary_latency_floor_ms < 0:
        bad("canary_latency_floor_ms", "must be 0 or more", ("serving",))
    for n, hook in enumerate(config.hook):
        if hook.kind not in HOOK_KINDS:
            bad("kind", f"must be one of {', '.join(HOOK_KINDS)}, got {hook.kind!r}",
                ("hook", n))
        if not hook.target:
            bad("target", "must name the file, command or URL", ("hook", n))
        if hook.timeout_s <= 0:
            bad("timeout_s", "must be more than 0", ("hook", n))
        if hook.retries < 0:
            bad("retries", "must be 0 or more", ("hook", n))
    mo = config.monitoring
    for key in ("latency_p95_ms", "window_s", "resolve_after_s", "check_interval_s"):
        if getattr(mo, key) <= 0:
            bad(key, "must be more than 0", ("monitoring",))
    if not 0 <= mo.error_rate <= 1:
        bad("error_rate", "must be a share in [0, 1]", ("monitoring",))
    # one key per message: the error must name the key (and line) that is wrong
    for key in ("min_requests", "min_labels"):
        if getattr(mo, key) < 1:
            bad(key, "must be at least 1", ("monitoring",))
    if not 0 < mo.performance_drop < 1:
        bad("performance_drop", "must be a share in (0, 1)", ("monitoring",))
    for key in ("performance_window_s", "performance_check_s"):
        if getattr(mo, key) <= 0:
            bad(key, "must be more than 0", ("monitoring",))
    for model, policy in sv.unseen_categories.items():
        if policy not in ("missing", "reject"):
            bad(model, f"must be \"missing\" or \"reject\", got {policy!r}",
                ("serving", "unseen_categories"))
    for model, value in sv.fallback.items():
        if not isinstance(value, int | float | str | bool):
            bad(model, "a fallback answer must be a number, text or true/false",
                ("serving", "fallback"))
    seen: set[str] = set()
    for n, ds in enumerate(config.dataset):
        where: tuple[str | int, ...] = ("dataset", n)
        if not DATASET_NAME.match(ds.name):
            bad("name", "must start with a letter or digit and hold only letters, digits, "
                "'_', '.', '-' (at most 128)", where)
        if ds.name in seen:
            bad("name", f"dataset {ds.name!r} is declared twice", where)
        seen.add(ds.name)
        if ds.target_optional and not ds.target:
            bad("target_optional", "needs the target it makes optional (target = ...)", where)
        if ds.on_schema_change not in ("quarantine", "accept"):
            bad("on_schema_change", "must be 'quarantine' or 'accept'", where)
        if len(ds.delimiter) != 1:
            bad("delimiter", "must be one character", where)
        for column, dtype in (ds.schema or {}).items():
            if dtype not in DTYPES:
                bad(column, f"unknown dtype {dtype!r} (one of {', '.join(DTYPES)})",
                    (*where, "schema"))
        if ds.time_column:
            declared = (ds.schema or {}).get(ds.time_column) or (
                ds.columns[ds.time_column].dtype if ds.time_column in ds.columns else None)
            if declared not in (None, "date", "datetime"):
                bad("time_column", f"{ds.time_column!r} is declared {declared}: a time "
                    "column holds dates or datetimes (ISO-8601 text is parsed)", where)
        if ds.time_parts is not None and not all(
                isinstance(c, str) and c for c in ds.time_parts):
            bad("time_parts", "must be a list of column names", where)
        for column, rule in ds.columns.items():
            cw = (*where, "columns", column)
            if rule.dtype is not None and rule.dtype not in DTYPES:
                bad("dtype", f"unknown dtype {rule.dtype!r} (one of {', '.join(DTYPES)})", cw)
            if rule.level is not None and rule.level not in ("error", "warning"):
                bad("level", "must be 'error' or 'warning'", cw)
            if rule.max_null_share is not None and not 0 <= rule.max_null_share <= 1:
                bad("max_null_share", "must be between 0 and 1", cw)
        rules = ds.rules
        for key in ("max_out_of_range_share", "max_unseen_share", "max_duplicate_share"):
            if not 0 <= getattr(rules, key) <= 1:
                bad(key, "must be between 0 and 1", (*where, "rules"))
    names: set[str] = set()
    for n, m in enumerate(config.model):
        where = ("model", n)
        if not DATASET_NAME.match(m.name):
            bad("name", "must start with a letter or digit and hold only letters, digits, "
                "'_', '.', '-' (at most 128)", where)
        if m.name in names:
            bad("name", f"model {m.name!r} is declared twice", where)
        names.add(m.name)
        if m.task not in TASKS:
            bad("task", f"must be one of {', '.join(TASKS)}, got {m.task!r}", where)
        if "@" not in m.data and not DATASET_NAME.match(m.data):
            bad("data", "must be a data selector such as bikeshare@all", where)
        if m.rounds < 1:
            bad("rounds", "must be at least 1", where)
        if m.early_stopping is not None and m.early_stopping < 0:
            bad("early_stopping", "must be 0 (train all rounds) or more", where)
        mm = m.monitoring
        mw = (*where, "monitoring")
        if mm.numeric_test not in ("auto", "ks", "wasserstein", "psi"):
            bad("numeric_test", "must be auto, ks, wasserstein or psi", mw)
        if mm.categorical_test not in ("auto", "chisquare", "jensenshannon", "psi"):
            bad("categorical_test", "must be auto, chisquare, jensenshannon or psi", mw)
        if not 0 < mm.drift_share <= 1:
            bad("drift_share", "must be a share in (0, 1]", mw)
        if mm.correction not in (None, "none", "bonferroni", "bh"):
            bad("correction", "must be none, bonferroni or bh", mw)
        if not 0 < mm.significance <= 1:
            bad("significance", "must be a p-value in (0, 1] (1: effect size alone)", mw)
        if mm.min_rows < 1:
            bad("min_rows", "must be at least 1", mw)
        if mm.inputs is not None:
            if not DATASET_NAME.match(mm.inputs):
                bad("inputs", "must name a dataset", mw)
            elif mm.inputs == m.data.split("@", 1)[0]:
                bad("inputs", f"{mm.inputs!r} is the dataset {m.name!r} trains on, which is "
                    "watched already; name a dataset of production inputs", mw)
        trained_on = config.datasets().get(m.data.split("@", 1)[0])
        if trained_on is not None and trained_on.target_optional:
            n_ds = config.dataset.index(trained_on)
            bad("target_optional", f"model {m.name!r} trains on {trained_on.name!r}, so its "
                "drops must carry the target; send unlabelled production inputs to a dataset "
                "of their own and name it in [model.monitoring] inputs", ("dataset", n_ds))
        for column, rule in mm.columns.items():
            if rule.test is not None and rule.test not in (
                    "ks", "wasserstein", "psi", "chisquare", "jensenshannon"):
                bad("test", f"unknown test {rule.test!r}", (*mw, "columns", column))
        if not 0 < m.split.holdout < 1:
            bad("holdout", "must be between 0 and 1 (exclusive)", (*where, "split"))
        if not 0 < m.threshold < 1:
            bad("threshold", "must be between 0 and 1 (exclusive)", where)
        if m.num_threads < 1:
            bad("num_threads", "must be at least 1", where)
        _check_retrain(bad, m, (*where, "retrain"))
        check_card(bad, m, (*where, "card"))


def _check_retrain(bad: Any, m: ModelConfig, where: tuple[str | int, ...]) -> None:
    from mlopsd.retraining import policy

    r = m.retrain
    checks: list[tuple[str, Any]] = [
        ("retrain_on", lambda: policy.triggers(r.retrain_on)),
        ("cooldown", lambda: policy.duration_s(r.cooldown, "cooldown")),
        ("watch", lambda: policy.duration_s(r.watch, "watch")),
        ("grace", lambda: policy.duration_s(r.grace, "grace")),
        ("deploy", lambda: policy.deploy(r.deploy)),
        ("training_window", lambda: r.training_window and policy.training_window(
            r.training_window)),
        ("schedule", lambda: [policy.cron_trigger(c) for c in r.schedule]),
        ("dry_run_schedule", lambda: [policy.cron_trigger(c) for c in r.dry_run_schedule]),
    ]
    for key, check in checks:
        try:
            check()
        except policy.PolicyError as exc:
            bad(key, str(exc), where)
    if r.approval not in ("auto", "required"):
        bad("approval", f"must be auto or required, got {r.approval!r}", where)
    if r.max_concurrent != 1:
        bad("max_concurrent", "only 1 is supported: one training per model at a time (a "
            "second trigger is merged into the running pipeline)", where)
    g = r.gates
    gw = (*where, "gates")
    try:
        metric = policy.metric_for(m.task, g.metric)
    except policy.PolicyError as exc:
        bad("metric", str(exc), gw)
        return
    higher = policy.HIGHER_IS_BETTER[metric]
    if g.minimum is not None and not higher:
        bad("minimum", f"{metric} is better when lower: give a maximum instead", gw)
    if g.maximum is not None and higher:
        bad("maximum", f"{metric} is better when higher: give a minimum instead", gw)
    if not 100 <= g.bootstrap <= 100_000:
        bad("bootstrap", "must be between 100 and 100000 resamples", gw)
    if not 0.5 <= g.confidence <= 0.999:
        bad("confidence", "must be between 0.5 and 0.999", gw)


_TABLES: dict[str, type] = {"daemon": DaemonConfig, "ingest": IngestConfig,
                            "tracking": TrackingConfig, "serving": ServingConfig,
                            "monitoring": MonitoringConfig}


def load_config(path: Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError carries the position only in its message.
        where = _TOML_POSITION.search(str(exc))
        line = int(where[1]) if where else None
        message = _TOML_POSITION.sub("", str(exc)).strip()
        raise ConfigError(path, f"not valid TOML: {message}", line=line) from exc
    reader = _Reader(path, text)
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name in _TABLES:
            sections[name] = reader.build(_TABLES[name], value, (name,))
        elif name in ("dataset", "model", "hook"):
            cls = {"dataset": DatasetConfig, "model": ModelConfig, "hook": HookConfig}[name]
            if not isinstance(value, list):
                reader.fail((), name, f"must be an array of tables: write [[{name}]]")
            sections[name] = tuple(
                reader.build(cls, item, (name, n)) for n, item in enumerate(value)
            )
        elif name == "tui":
            continue  # the terminal UI's keys and theme: tui/settings.py reads and checks them
        else:
            line = locate(text, (name,)) or locate(text, (), name)
            known = ", ".join(sorted([*_TABLES, "dataset", "model", "hook", "tui"]))
            raise ConfigError(path, f"unknown section (known: {known})", line=line, key=name)
    config = Config(path=path, **sections)
    _check(reader, config)
    return config
