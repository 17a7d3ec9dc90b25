"""Split the 2011 bikeshare data into monthly CSV files, as an upstream system would drop
them: `python examples/bikeshare/make_drops.py OUT_DIR`.

Adds `ts` (2011-01-01 + (day - 1) days + hr hours, per the data's README) so the dataset
has a time column for time windows and time-based splits.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

SOURCE = Path(__file__).with_name("bikeshare-2011-hourly.csv")


def monthly_frames() -> list[tuple[str, pl.DataFrame]]:
    frame = pl.read_csv(SOURCE).with_columns(
        ts=pl.datetime(2011, 1, 1)
        + pl.duration(days=pl.col("day") - 1, hours=pl.col("hr").cast(pl.Int64))
    )
    found = frame["mnth"].unique(maintain_order=True).to_list()
    return [(f"{i + 1:02d}-{m.lower()}", frame.filter(pl.col("mnth") == m))
            for i, m in enumerate(found)]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in monthly_frames():
        frame.write_csv(out / f"bikeshare-2011-{name}.csv")
        print(f"{out / f'bikeshare-2011-{name}.csv'}: {frame.height} rows")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "drops"))
