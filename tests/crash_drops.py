"""The crash suite's home and its files: the config, and files dropped into the watched inbox
as upstream systems drop them (a temp name, fsync, rename), each one remembered by the
sha256 of its bytes so it can be found again after any number of kills."""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tests.test_ingest_daemon import EXAMPLE

DATASET = "bikes"
MODEL = "riders"
INPUTS_DROPPED = ("casual", "registered", "bikers")

# Small and quick on purpose: the suite kills the daemon dozens of times and waits for what
# was cut to run again each time. The model trains on the newest two versions (its cost
# stays flat as versions pile up); any challenger passes the gate, so every retrain goes on
# to a canary, which ends after 40 requests of its own.
CONFIG = f"""\
[daemon]
workers = 2

[ingest]
settle_s = 0.2
rescan_interval_s = 2.0

[[dataset]]
name = "{DATASET}"
target = "bikers"

[[model]]
name = "{MODEL}"
data = "{DATASET}@last:2"
target = "bikers"
exclude = ["casual", "registered"]
rounds = 30
early_stopping = 0

[model.retrain]
training_window = "last 2 versions"
deploy = "canary 50% for 40 requests"
watch = "0s"

[model.retrain.gates]
min_improvement = -1000.0
bootstrap = 100
"""


@dataclass(frozen=True)
class Drop:
    name: str
    sha256: str
    good: bool
    """False: a file the daemon must quarantine (a header and no rows)."""
    cycle: int
    while_down: bool


class DropBox:
    """Drops files into `inbox/<dataset>/` and keeps the ledger of every file dropped."""

    def __init__(self, home: Path, source: pl.DataFrame) -> None:
        self.inbox = home / "inbox" / DATASET
        self.source = source
        self.drops: list[Drop] = []

    def drop(self, rng: random.Random, cycle: int, *, good: bool = True,
             while_down: bool = False) -> Drop:
        self.inbox.mkdir(parents=True, exist_ok=True)
        name = f"c{cycle:03d}-{len(self.drops):04d}.csv"
        if good:
            # A sample of its own: no two drops have the same bytes, so each must become a
            # version of its own (a duplicate would hide a double ingest).
            rows = self.source.sample(n=rng.randint(300, 700), seed=rng.randrange(2**31))
            body = rows.write_csv().encode()
        else:
            # Header only (with a column of its own, so no two are alike): rejected as
            # "no data rows", never a version.
            body = (",".join([*self.source.columns, f"note_{len(self.drops)}"]) + "\n").encode()
        staged = self.inbox / f"{name}.part"
        with open(staged, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.rename(staged, self.inbox / name)
        drop = Drop(name, hashlib.sha256(body).hexdigest(), good, cycle, while_down)
        self.drops.append(drop)
        return drop


def example_frame() -> pl.DataFrame:
    return pl.read_csv(EXAMPLE)


def request_rows(frame: pl.DataFrame, n: int = 3) -> list[dict]:
    """Rows as a caller sends them: the model's inputs only."""
    return frame.drop(INPUTS_DROPPED).head(n).to_dicts()
