"""The home folder: its layout, and creating it (`mlops init`).

Import-light: the client and the CLI use it to find the daemon and the token.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from mlopsd.atomic import write_text_atomic
from mlopsd.config_template import CONFIG_TEMPLATE

DEFAULT_HOME = "./mlops-home"
# The home holds logged prediction inputs, data and the token: owner only, whatever the umask
# (the daemon also runs with umask 077, so what it and its workers create is private too).
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "mlops.toml"

    @property
    def db(self) -> Path:
        return self.root / "meta.duckdb"

    @property
    def token(self) -> Path:
        return self.root / "token"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def daemon_json(self) -> Path:
        return self.run / "daemon.json"

    @property
    def lock(self) -> Path:
        return self.run / "daemon.lock"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def score(self) -> Path:
        return self.root / "score"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def job_logs(self) -> Path:
        return self.logs / "jobs"

    def folders(self) -> list[Path]:
        return [
            self.run,
            self.inbox,
            self.quarantine,
            self.score,
            self.outbox,
            self.artifacts,
            self.logs,
            self.job_logs,
        ]

    def read_token(self) -> str:
        return self.token.read_text(encoding="utf-8").strip()


def resolve_home(arg: str | os.PathLike[str] | None) -> Home:
    """--home wins, then $MLOPS_HOME, then ./mlops-home."""
    raw = arg or os.environ.get("MLOPS_HOME") or DEFAULT_HOME
    return Home(Path(raw).expanduser().absolute())


class HomeError(Exception):
    """The home folder cannot be created or written."""


def init_home(home: Home) -> list[Path]:
    """Create what is missing of the home; never overwrite. Returns what was created."""
    created: list[Path] = []
    try:
        for folder in [home.root, *home.folders()]:
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                os.chmod(folder, PRIVATE_DIR)
                created.append(folder)
        if not home.config.exists():
            write_text_atomic(home.config, CONFIG_TEMPLATE, mode=PRIVATE_FILE)
            created.append(home.config)
        if not home.token.exists():
            write_text_atomic(home.token, secrets.token_urlsafe(32) + "\n", mode=0o600)
            created.append(home.token)
    except OSError as exc:
        raise HomeError(f"cannot create the home {home.root}: {exc.strerror or exc}") from exc
    return created


def make_private(home: Home) -> list[Path]:
    """Tighten what a loose umask or an earlier release left open to others: the home and
    its folders (0700), the files at its top (0600). Returns what was changed."""
    changed: list[Path] = []
    targets = [(p, PRIVATE_DIR) for p in [home.root, *home.folders()] if p.is_dir()]
    targets += [(p, PRIVATE_FILE) for p in home.root.iterdir()
                if p.is_file() and not p.is_symlink()]
    for path, mode in targets:
        try:
            if path.stat().st_mode & 0o777 & ~mode:
                os.chmod(path, path.stat().st_mode & mode)
                changed.append(path)
        except OSError as exc:
            raise HomeError(f"cannot make {path} private: {exc.strerror or exc}") from exc
    return changed


def check_writable(home: Home) -> None:
    probe = home.run / f".write-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise HomeError(f"the home {home.root} is not writable: {exc.strerror or exc}") from exc
