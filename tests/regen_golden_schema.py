"""Regenerate tests/golden/schema.txt after adding a migration:
`.venv/bin/python -m tests.regen_golden_schema`."""

import tempfile
from pathlib import Path

from store.db import open_store
from tests.test_store import GOLDEN, schema_of

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "meta.duckdb"
        open_store(db).close()
        GOLDEN.write_text(schema_of(db))
        print(f"wrote {GOLDEN}")
