"""mlops.toml: defaults, and errors that name the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlopsd.config import ConfigError
from mlopsd.config_load import load_config
from mlopsd.config_template import CONFIG_TEMPLATE


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mlops.toml"
    path.write_text(text)
    return path


def test_the_template_is_all_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONFIG_TEMPLATE))
    assert config.daemon.host == "127.0.0.1"
    assert config.daemon.port == 8765
    assert config.daemon.worker_count() >= 1


def test_values_are_read(tmp_path: Path) -> None:
    text = "[daemon]\nport = 9001\nworkers = 3\nshutdown_grace_s = 2\n"
    d = load_config(write(tmp_path, text)).daemon
    assert (d.port, d.worker_count(), d.shutdown_grace_s) == (9001, 3, 2.0)


def test_unknown_key_names_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "# comment\n[daemon]\nport = 9001\nprot = 9002\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.line == 4
    assert err.value.key == "daemon.prot"
    assert str(err.value).startswith(f"{path}:4: daemon.prot: unknown key")


def test_wrong_type_names_line_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":3: daemon.port: must be a whole number, got '80'"):
        load_config(write(tmp_path, '\n[daemon]\nport = "80"\n'))


def test_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":2: daemon.port: must be between 0 and 65535"):
        load_config(write(tmp_path, "[daemon]\nport = 70000\n"))


def test_malformed_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[daemon]\nport = 1\n[broken\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.line == 3
    assert "not valid TOML" in str(err.value)


def test_unknown_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":2: deamon: unknown section"):
        load_config(write(tmp_path, "\n[deamon]\nport = 1\n"))


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.toml").daemon.port == 8765


DATASETS = """\
[ingest]
settle_s = 0.2

[[dataset]]
name = "bikeshare"
target = "bikers"
on_schema_change = "accept"

[dataset.schema]
temp = "float64"

[dataset.rules]
max_duplicate_share = 0.05

[dataset.columns.temp]
min = 0
max = 1

[[dataset]]
name = "other"

[dataset.columns.x]
level = "loud"
"""


def test_datasets_with_nested_tables(tmp_path: Path) -> None:
    text = DATASETS.replace('level = "loud"', 'level = "error"')
    config = load_config(write(tmp_path, text))
    bikes = config.datasets()["bikeshare"]
    assert bikes.target == "bikers" and bikes.on_schema_change == "accept"
    assert bikes.schema == {"temp": "float64"}
    assert bikes.rules.max_duplicate_share == 0.05
    assert bikes.columns["temp"].min == 0.0 and bikes.columns["temp"].max == 1.0
    assert config.datasets()["other"].columns["x"].level == "error"
    assert config.ingest.settle_s == 0.2


def test_errors_inside_the_second_dataset_name_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, DATASETS)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.line == 23
    assert err.value.key == "dataset.columns.x.level"


def test_unknown_key_in_a_nested_table(tmp_path: Path) -> None:
    path = write(tmp_path, DATASETS.replace("max = 1", "maximum = 1"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.line == 17 and err.value.key == "dataset.columns.temp.maximum"


def test_bad_dtype_and_missing_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":4: dataset.schema.t: unknown dtype 'float'"):
        load_config(write(tmp_path, '[[dataset]]\nname = "a"\n[dataset.schema]\nt = "float"\n'))
    with pytest.raises(ConfigError, match="missing required key 'name'"):
        load_config(write(tmp_path, '[[dataset]]\ntarget = "y"\n'))


def test_model_monitoring_settings_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "mlops.toml"
    path.write_text("""\
[[model]]
name = "m"
data = "d@all"
target = "y"

[model.monitoring]
drift_share = 0.3

[model.monitoring.columns.temp]
test = "kolmogorov"
""")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "unknown test 'kolmogorov'" in str(err.value) and "temp" in str(err.value)


def test_the_templates_model_example_with_its_retrain_policy_is_valid(tmp_path: Path) -> None:
    example = CONFIG_TEMPLATE[CONFIG_TEMPLATE.index("# [[model]]"):]
    text = "\n".join(line[2:] if line.startswith("# ") else "" for line in example.splitlines()
                     if not line.startswith('"""'))
    retrain = load_config(write(tmp_path, text)).model[0].retrain
    assert retrain.schedule == ["0 3 * * mon"]
    assert retrain.retrain_on == ["drift", "performance_drop", "new_rows >= 10000"]
    assert retrain.deploy == "canary 10% for 500 requests"
    assert retrain.gates.maximum == 120.0


@pytest.mark.parametrize(("line", "message"), [
    ('retrain_on = ["drfit"]', "unknown trigger 'drfit'"),
    ('schedule = ["0 3 * *"]', "5 fields"),
    ('deploy = "canary 10 for 5m"', "write direct, canary P% for 10m"),
    ('cooldown = "soon"', "is not a duration"),
    ('training_window = "last week"', "last K versions"),
    ('approval = "maybe"', "must be auto or required"),
])
def test_a_bad_retrain_policy_names_line_and_key(tmp_path: Path, line: str,
                                                 message: str) -> None:
    text = ('[[model]]\nname = "m"\ndata = "d@all"\ntarget = "y"\n\n[model.retrain]\n'
            f"{line}\n")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert message in str(err.value) and ":7:" in str(err.value), str(err.value)
    assert f"model.retrain.{line.split()[0]}" in str(err.value)


def test_the_templates_dataset_example_is_valid_and_time_settings_are_checked(
        tmp_path: Path) -> None:
    start = CONFIG_TEMPLATE.index("# [[dataset]]")
    example = CONFIG_TEMPLATE[start:CONFIG_TEMPLATE.index("# A model (one")]
    text = "\n".join(line[2:] if line.startswith("# ") else "" for line in example.splitlines())
    bikes = load_config(write(tmp_path, text)).datasets()["bikeshare"]
    assert (bikes.time_column, bikes.time_parts) == ("ts", ["yr", "mnth"])
    assert load_config(write(tmp_path, '[[dataset]]\nname = "a"\n')).dataset[0].time_parts is None

    typed = '[[dataset]]\nname = "a"\ntime_column = "ts"\n[dataset.schema]\nts = "int64"\n'
    with pytest.raises(ConfigError, match=r":3: dataset.time_column: 'ts' is declared int64: "
                                          "a time column holds dates or datetimes"):
        load_config(write(tmp_path, typed))
    with pytest.raises(ConfigError, match=r"dataset.time_parts: must be a list of column names"):
        load_config(write(tmp_path, '[[dataset]]\nname = "a"\ntime_parts = ["yr", 3]\n'))


def test_an_optional_target_is_refused_on_a_dataset_a_model_trains_on(tmp_path: Path) -> None:
    path = write(tmp_path, '[[dataset]]\nname = "bikes"\ntarget = "y"\ntarget_optional = true\n'
                 '\n[[model]]\nname = "m"\ndata = "bikes@all"\ntarget = "y"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert ":4: dataset.target_optional:" in message, message
    assert "model 'm' trains on 'bikes'" in message and "[model.monitoring] inputs" in message


@pytest.mark.parametrize(("line", "key", "message"), [
    ('inputs = "bikes"', "inputs", "'bikes' is the dataset 'm' trains on"),
    ("significance = 0", "significance", "must be a p-value in (0, 1]"),
    ("min_rows = 0", "min_rows", "must be at least 1"),
])
def test_bad_drift_settings_name_line_and_key(tmp_path: Path, line: str, key: str,
                                              message: str) -> None:
    path = write(tmp_path, '[[model]]\nname = "m"\ndata = "bikes@all"\ntarget = "y"\n\n'
                 f"[model.monitoring]\n{line}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f":7: model.monitoring.{key}:" in str(err.value) and message in str(err.value), \
        str(err.value)


def test_drift_settings_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, '[[dataset]]\nname = "live"\ntarget = "y"\ntarget_optional = true\n'
                 '\n[[model]]\nname = "m"\ndata = "bikes@all"\ntarget = "y"\n\n'
                 '[model.monitoring]\nexclude = ["season", "mnth"]\ninputs = "live"\n'
                 "min_rows = 30\nsignificance = 0.05\n")
    config = load_config(path)
    monitoring = config.model[0].monitoring
    assert (monitoring.exclude, monitoring.inputs) == (["season", "mnth"], "live")
    assert (monitoring.min_rows, monitoring.significance) == (30, 0.05)
    assert config.dataset[0].target_optional
