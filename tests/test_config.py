"""mlops.toml: defaults, and errors that name the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlopsd.config import ConfigError, load_config
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
