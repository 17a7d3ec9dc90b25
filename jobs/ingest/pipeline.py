"""run(): one dropped file → hash, read, profile, validate, snapshot → a plain result dict.

Every problem with the file becomes an issue in the result, never an exception: the daemon
quarantines a rejected file with the issues as its reason, and retries a changed one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from jobs.context import JobContext
from jobs.ingest import read, snapshot, source
from jobs.ingest.issues import Rejected, issue
from jobs.ingest.params import check_params
from jobs.ingest.profile import profile
from jobs.ingest.schema import Plan, schema_hash
from jobs.ingest.schema import plan as make_plan
from jobs.ingest.table import Table
from jobs.ingest.times import missing_time_column
from jobs.ingest.validate import Ran, schema_issues, validate
from jobs.paths import confine
from store.errors import is_disk_full
from store.writable import unwritable_folder

EXTENSIONS = ".csv, .parquet, .pq, .ndjson or .jsonl, optionally with .gz or .zst"


def _blank() -> dict[str, Any]:
    return {
        "outcome": None, "content_hash": None, "size": None, "format": None,
        "compression": None, "duplicate_of": None, "snapshot_sha": None, "schema": None,
        "schema_hash": None, "schema_change": None, "n_rows": None, "n_columns": None,
        "profile": None, "errors": [], "warnings": [],
        "timings": dict.fromkeys(("hash_s", "read_s", "validate_s", "profile_s", "snapshot_s"),
                                 0.0),
    }


class _Step:
    def __init__(self, result: dict[str, Any], ctx: JobContext) -> None:
        self.result, self.ctx = result, ctx

    @contextmanager
    def __call__(self, timing: str, step: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            took = time.perf_counter() - started
            self._count(timing, took)
        self._report(step, took)

    def add(self, timing: str, step: str, seconds: float) -> None:
        """A step that ran beside the main thread (its seconds overlap other steps')."""
        self._count(timing, seconds)
        self._report(step, seconds)

    def _count(self, timing: str, seconds: float) -> None:
        self.result["timings"][timing] = round(self.result["timings"][timing] + seconds, 4)

    def _report(self, step: str, seconds: float) -> None:
        self.ctx.log.info("%s in %.3f s", step, seconds)
        self.ctx.emit("job.progress", job_id=self.ctx.job_id, step=step,
                      seconds=round(seconds, 3))


def run(params: dict[str, Any], ctx: JobContext, *, keep: bool = True,
        ran: Ran | None = None) -> dict[str, Any]:
    """`keep=False`: everything but the snapshot (a check of a file, `jobs.ingest.check`);
    `ran` gets every validation check that applied to the file."""
    params = check_params(params)
    confine(ctx.home, params["path"], "path")
    path = Path(params["path"])
    result = _blank()
    ctx.log.info("ingest %s for dataset %s", path, params["dataset"])
    try:
        _ingest(path, params, ctx, result, keep, ran)
    except FileNotFoundError:
        result["outcome"] = "vanished"
        result["errors"].append(issue(
            "vanished", f"{path.name} disappeared while it was being read (moved or deleted "
            "by someone else); nothing was stored"))
    except source.Changed:
        result["outcome"] = "changed"
        ctx.log.info("%s changed while it was read; it will be read again", path.name)
    except Rejected as rejected:
        result["errors"].extend(rejected.issues)
    except Exception as exc:  # a bug or an environment failure: still an answer, with a reason
        if is_disk_full(exc) or unwritable_folder(exc, ctx.home) is not None:
            # Not the file's fault (the disk full, a folder of the home refusing writes):
            # the job fails, and the daemon runs it again once the home takes writes.
            raise
        ctx.log.exception("ingest of %s failed unexpectedly", path)
        result["errors"].append(issue(
            "internal", f"ingest failed unexpectedly while reading {path.name}: "
            f"{type(exc).__name__}: {exc}; see the job's log"))
    if result["outcome"] is None:
        result["outcome"] = "rejected" if result["errors"] else "accepted"
    for found in result["errors"]:
        ctx.log.warning("error: %s", found["message"])
    for found in result["warnings"]:
        ctx.log.info("warning: %s", found["message"])
    ctx.log.info("%s: %s (%s rows)", path.name, result["outcome"], result["n_rows"])
    return result


def _ingest(path: Path, params: dict[str, Any], ctx: JobContext, result: dict[str, Any],
            keep: bool, ran: Ran | None) -> None:
    step = _Step(result, ctx)
    src = source.inspect(path)
    if params["identity"] and not source.matches(src, params["identity"]):
        raise source.Changed(path.name)  # rewritten since the daemon saw it complete
    result.update(size=src.size, format=src.format, compression=src.compression)
    spec = params["spec"]
    plan = make_plan(spec)
    with ThreadPoolExecutor(max_workers=1) as beside, ExitStack() as cleanup:
        hashing = beside.submit(_timed, source.sha256, src)
        # Hashing takes one core; polars' read leaves some of the other idle: a read in
        # memory runs beside the hash (a duplicate's read is wasted, a short one).
        alongside = src.format is not None and src.size > 0 and not src.compression and (
            src.size <= read.STREAMING_BYTES)
        if not alongside and _duplicate(hashing, step, params, result):
            return
        if src.format is None:
            raise Rejected(issue("unsupported", f"unsupported file type: {path.name} (ingest "
                                                f"reads {EXTENSIONS})"))
        if src.size == 0:
            raise Rejected(issue("empty", f"empty file: {path.name} has 0 bytes"))
        out = ctx.artifacts.tmp_path(".parquet")
        cleanup.callback(out.unlink, missing_ok=True)
        try:
            with step("read_s", "read"):
                table = _read(src, plan, spec, params, ctx, cleanup, out)
        except Exception:
            if alongside and _duplicate(hashing, step, params, result):
                return  # a duplicate is a duplicate, readable or not
            raise
        if alongside and _duplicate(hashing, step, params, result):
            return
        n_rows = table.frame.height if table.frame is not None else (
            table.data.select(pl.len()).collect().item())
        result.update(schema=table.schema, schema_hash=schema_hash(table.schema),
                      n_rows=n_rows, n_columns=len(table.schema))
        if n_rows == 0:
            raise Rejected(issue("no_rows", "no data rows (header only)" if src.format == "csv"
                                 else f"no data rows: {path.name} holds no records"))
        with step("profile_s", "profiled"):
            result["profile"] = stats = profile(table.data, table.schema, n_rows,
                                                in_memory=table.frame is not None)
        with step("validate_s", "validated"):
            change, found = schema_issues(plan, spec, table.schema)
            found += [("error", i) for i in missing_time_column(spec, table.schema)]
            result["schema_change"] = change
            found += validate(table, stats, n_rows, spec, params["reference"], ran)
            for level, item in found:
                result["errors" if level == "error" else "warnings"].append(item)
        if result["errors"] or not keep:
            return
        with step("snapshot_s", "stored"):
            if table.written is None:
                snapshot.write(table.frame, out)
            result["snapshot_sha"] = ctx.artifacts.adopt(out)


def _timed(work: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """For work run beside the main thread: its result and its own seconds."""
    started = time.perf_counter()
    return work(*args), time.perf_counter() - started


def _duplicate(hashing: Future, step: _Step, params: dict[str, Any],
               result: dict[str, Any]) -> bool:
    """Waits for the content hash; True (and the outcome set) when it is a known file's."""
    sha, seconds = hashing.result()
    step.add("hash_s", "hashed", seconds)
    result["content_hash"] = sha
    if sha in params["known_hashes"]:
        result.update(outcome="duplicate", duplicate_of=params["known_hashes"][sha])
        return True
    return False


def _read(src: source.Source, plan: Plan, spec: dict[str, Any], params: dict[str, Any],
          ctx: JobContext, cleanup: ExitStack, out: Path) -> Table:
    data_path, size = src.path, src.size
    if src.compression:
        data_path = ctx.artifacts.tmp_path("." + src.format)
        cleanup.callback(data_path.unlink, missing_ok=True)
        limits = params["limits"]
        size = source.decompress(src, data_path, source.InflateLimit(
            max_bytes=int(limits["max_decompressed_mb"] * (1 << 20)),
            max_ratio=limits["max_compression_ratio"]))
        if size == 0:
            raise Rejected(issue("empty", f"empty file: {src.path.name} decompresses to "
                                          "0 bytes"))
    try:
        table = read.load(data_path, src.format, plan, spec["delimiter"],
                          streaming=size > read.STREAMING_BYTES, out=out)
    except Rejected as rejected:
        if src.compression:  # positions count in what the file decompresses to
            for found in rejected.issues:
                if "byte offset" in found["message"]:
                    found["message"] += f" (in the data after {src.compression} "
                    "decompression)"
        raise
    if not source.unchanged(src):
        raise source.Changed(src.path.name)
    return table
