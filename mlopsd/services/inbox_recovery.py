"""At start-up, before the inboxes are scanned and before the API takes uploads: what a
crash or a kill left half-done in the inboxes and the quarantine is finished or removed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import orjson

from mlopsd.client.events import IngestQuarantined
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.file_moves import remove_orphan_reasons
from store import data as data_repo
from store import ingest_records
from store.db import Store

log = logging.getLogger("mlops.ingest")

UPLOAD_TEMPS = ".upload-*.tmp"
"""What `POST /api/v1/datasets/{name}/files` writes before it links the file in."""


def remove_partial_uploads(inbox: Path) -> int:
    """Uploads cut off by a kill: never acknowledged to their sender, never ingested (temp
    names are ignored), so nobody else would ever remove them. The API is not serving yet,
    so none of them is still being written."""
    removed = 0
    for leftover in sorted(inbox.glob(f"*/{UPLOAD_TEMPS}")):
        if leftover.is_file() or leftover.is_symlink():
            leftover.unlink(missing_ok=True)
            removed += 1
            log.info("removed %s, an upload cut off before it completed", leftover)
    return removed


def recover(inbox: Path, quarantine: Path, store: Store, bus: EventBus) -> None:
    remove_partial_uploads(inbox)
    removed = remove_orphan_reasons(quarantine)
    if removed:
        log.info("removed %s quarantine reason(s) whose file never arrived", removed)
    record_unrecorded_quarantine(quarantine, store, bus)


def record_unrecorded_quarantine(quarantine: Path, store: Store, bus: EventBus) -> None:
    """A crash after a file was quarantined but before the store heard of it leaves the
    file and its reason on disk: record them now, so they are listed and requeueable."""
    known = {i.quarantine_path for i in ingest_records.quarantined(store)}
    for reason_path in sorted(quarantine.glob("*/*.reason.json")):
        file = reason_path.with_name(reason_path.name.removesuffix(".reason.json"))
        if str(file) in known or not (file.exists() or file.is_symlink()):
            continue
        try:
            reason = orjson.loads(reason_path.read_bytes())
            received = datetime.fromisoformat(reason["received_at"])
        except (OSError, ValueError, KeyError, TypeError):
            reason, received = {}, datetime.now(UTC)
        errors = reason.get("errors") or []
        with store.transaction():
            data_repo.record_ingest(
                store, file.parent.name, reason.get("file", file.name), "rejected",
                received_at=received, content_hash=reason.get("content_hash"),
                size_bytes=reason.get("size"), job_id=reason.get("job_id"),
                quarantine_path=str(file), issues=errors,
                schema_change=reason.get("schema_change"),
            )
            bus.publish(IngestQuarantined(
                dataset=file.parent.name, file=str(reason.get("file", file.name)),
                quarantined_as=str(file),
                job_id=job_id if isinstance(job_id := reason.get("job_id"), int) else None,
                reason=str(errors[0].get("message", "rejected")) if errors
                and isinstance(errors[0], dict) else "rejected"))
        log.info("recorded %s, quarantined before a crash", file)
