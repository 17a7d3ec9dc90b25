"""Hostile mlops.toml values (issue 14, "Bad input"): for every scalar key of every section,
hypothesis writes a hostile value (a wrong type, NaN, ±inf, a negative size or duration, a
number past 64 bits) among ordinary lines; the file is either read with a sound value or
refused naming the file, the line and the key — never another exception, never a NaN or an
infinity taken as a setting. Names with path separators are refused the same way, and a
daemon given such a file does not start. (Unknown keys, malformed TOML, bad cron, durations
and drift settings: tests/test_config.py.)"""

from __future__ import annotations

import math
import subprocess
import typing
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlopsd.config import (
    ConfigError,
    DaemonConfig,
    HookConfig,
    IngestConfig,
    MonitoringConfig,
    ServingConfig,
    TrackingConfig,
)
from mlopsd.config_load import load_config
from mlopsd.home import Home, init_home
from tests.daemon_process import mlopsd_cmd

SECTIONS = {"daemon": DaemonConfig, "ingest": IngestConfig, "tracking": TrackingConfig,
            "serving": ServingConfig, "monitoring": MonitoringConfig, "hook": HookConfig}
HOOK = '[[hook]]\nkind = "file"\ntarget = "/tmp/alerts.jsonl"\n'


def _scalar_keys() -> list[tuple[str, str, type]]:
    keys = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            if hints[f.name] in (int, float, str, bool):
                keys.append((section, f.name, hints[f.name]))
    return keys


KEYS = _scalar_keys()
HOSTILE = ["nan", "inf", "-inf", "-1", "-0.5", "-1e300", "1e400", "0",
           "99999999999999999999999", "-99999999999999999999999", '"ten"', '""', "true",
           "[1, 2]", "{ a = 1 }", "1979-05-27T07:32:00Z"]
# Sizes, counts, durations and rates: no sound reading of them is negative.
NOT_NEGATIVE = ("_s", "_ms", "_mb", "_bytes", "_backups", "workers", "keep", "rows", "requests",
                "labels", "attempts", "retries", "queue", "ratio", "sample", "rate", "margin",
                "port", "drop", "days")


def _toml(section: str, key: str, value: str, before: int) -> tuple[str, int]:
    """The file and the line `key` stands on: `before` ordinary lines come first."""
    lines = ["# written by a hostile test", '[[dataset]]\nname = "bikes"'][:before]
    text = "\n".join(lines) + ("\n" if lines else "")
    if section == "hook":  # its required keys, but the one under test
        text += "".join(f"{line}\n" for line in HOOK.splitlines()
                        if not line.startswith(f"{key} ="))
    else:
        text += f"[{section}]\n"
    line = text.count("\n") + 1
    return text + f"{key} = {value}\n", line


@settings(max_examples=800, deadline=None, database=None)
@given(st.sampled_from(KEYS), st.sampled_from(HOSTILE), st.integers(0, 2))
def test_a_hostile_value_is_read_soundly_or_refused_with_file_line_and_key(
        tmp_path_factory: pytest.TempPathFactory, target: tuple[str, str, type], value: str,
        before: int) -> None:
    section, key, kind = target
    text, line = _toml(section, key, value, before)
    path = tmp_path_factory.mktemp("cfg") / "mlops.toml"
    path.write_text(text)
    try:
        config = load_config(path)
    except ConfigError as err:
        assert (err.key, err.line) == (f"{section}.{key}", line), (text, str(err))
        assert str(err).startswith(f"{path}:{line}: {section}.{key}: "), str(err)
        return
    got = getattr(config.hook[0] if section == "hook" else getattr(config, section), key)
    assert type(got) is kind, (text, got)
    if kind in (int, float):
        assert math.isfinite(got), f"{section}.{key} = {got} was accepted:\n{text}"
        assert -(2**63) <= got < 2**63, f"{section}.{key} = {got} was accepted:\n{text}"
        if key.endswith(NOT_NEGATIVE):
            assert got >= 0, f"{section}.{key} = {got} was accepted:\n{text}"


@pytest.mark.parametrize("name", ["../etc", "a/b", "a\\\\b", "/abs", ".hidden", "a\\u0000b",
                                  "x" * 129, ""])
@pytest.mark.parametrize("table", ["dataset", "model"])
def test_a_name_with_a_path_in_it_is_refused_naming_line_and_key(
        tmp_path: Path, table: str, name: str) -> None:
    extra = '\ndata = "bikes@all"\ntarget = "y"' if table == "model" else ""
    path = tmp_path / "mlops.toml"
    path.write_text(f'# {table}\n\n[[{table}]]\nname = "{name}"{extra}\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:4: {table}.name: "), str(err.value)


def test_a_daemon_given_a_hostile_file_does_not_start_and_says_where(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(Home(home))
    (home / "mlops.toml").write_text("[ingest]\nsettle_s = 0.2\nrescan_interval_s = nan\n")
    result = subprocess.run(mlopsd_cmd(home, "--port", "0"), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"{home / 'mlops.toml'}:3: ingest.rescan_interval_s:" in result.stderr, result.stderr
    assert not (home / "meta.duckdb").exists()
