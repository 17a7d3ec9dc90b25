"""What an ingest outcome leaves behind besides a data version: a quarantined file with its
reason, the alerts (`quarantined_file`, `data_quality`, `schema_change`), the schema change's
audit entry, a vanished file's record, and the events."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from mlopsd.client.events import DatasetSchemaChanged, IngestQuarantined, IngestVanished
from mlopsd.config import DATASET_NAME
from mlopsd.runtime.events import EventBus
from mlopsd.runtime.file_moves import quarantine_file
from mlopsd.services.alerts import Alerts
from store import audit, ingest_records
from store import data as data_repo
from store.db import Store

log = logging.getLogger("mlops.ingest")

RETRY_HINT = ("fix the cause (the file, or the dataset's config and restart), then "
              "`mlops data requeue <quarantined file name>`")


class IngestOutcomes:
    def __init__(self, quarantine_root: Path, store: Store, bus: EventBus) -> None:
        self.quarantine_root, self.store, self.bus = quarantine_root, store, bus
        self.alerts = Alerts(store, bus)

    def vanished(self, path: Path, dataset: str, job_id: int, result: dict[str, Any],
                 received_at: datetime) -> dict[str, Any]:
        """A file gone when its job read it: recorded as vanished, unless this very drop
        (name and arrival) was stored or quarantined by the job's first run, killed before
        its end was written (the file moved to .done/ or to quarantine, recorded at start).
        What to add to the job's summary."""
        earlier = ingest_records.ended_before(self.store, dataset, path.name, received_at,
                                              ("accepted", "duplicate", "rejected"))
        if earlier is not None and earlier.outcome == "rejected":
            log.info("%s/%s was quarantined by job %s before a restart (%s)", dataset,
                     path.name, earlier.job_id, earlier.quarantine_path)
            return {"outcome": "quarantined_before", "quarantined_as": earlier.quarantine_path,
                    "quarantined_by_job": earlier.job_id}
        if earlier is not None:
            log.info("%s/%s was stored by job %s before a restart (version %s): nothing "
                     "more to do", dataset, path.name, earlier.job_id, earlier.version)
            return {"outcome": "stored_before", "version": earlier.version,
                    "stored_by_job": earlier.job_id}
        with self.store.transaction():
            data_repo.record_ingest(self.store, dataset, path.name, "vanished",
                                    received_at=received_at, job_id=job_id,
                                    issues=result.get("errors"))
            self.bus.publish(IngestVanished(dataset=dataset, file=path.name, job_id=job_id))
        return {}

    def quarantine(self, path: Path, dataset: str, job_id: int | None,
                   result: dict[str, Any], received_at: datetime) -> Path | None:
        """Move `path` (a file, or a folder) into quarantine beside its reason, record it and
        raise the alert; None when it was gone already."""
        errors = result.get("errors") or []
        reason = {
            "file": path.name,
            "dataset": dataset,
            "quarantined_at": datetime.now(UTC).isoformat(),
            "received_at": received_at.isoformat(),
            "size": result.get("size"),
            "content_hash": result.get("content_hash"),
            "job_id": job_id,
            "errors": errors,
            "warnings": result.get("warnings") or [],
            "schema_change": result.get("schema_change"),
            "retry": RETRY_HINT,
        }
        try:
            where = quarantine_file(path, self.quarantine_root / dataset,
                                    orjson.dumps(reason, option=orjson.OPT_INDENT_2))
        except FileNotFoundError:
            where = None
        first = errors[0]["message"] if errors else "rejected"
        # The record, its event, its alert and a schema change's, in one transaction.
        with self.store.transaction():
            data_repo.record_ingest(
                self.store, dataset, path.name, "rejected", received_at=received_at,
                content_hash=result.get("content_hash"), size_bytes=result.get("size"),
                job_id=job_id, quarantine_path=str(where) if where else None,
                issues=errors, schema_change=result.get("schema_change"),
            )
            self.bus.publish(IngestQuarantined(
                dataset=dataset, file=path.name, quarantined_as=str(where) if where else None,
                reason=first, job_id=job_id))
            self.alert("quarantined_file", dataset, "warning",
                       f"{path.name} was quarantined: {first}",
                       {"file": path.name, "quarantined_as": str(where),
                        "errors": errors[:10]})
            if result.get("schema_change"):
                self.schema_changed(dataset, path.name, result["schema_change"],
                                    accepted=False)
        log.warning("%s/%s quarantined: %s", dataset, path.name, first)
        return where

    def reject_without_job(self, path: Path, dataset: str, check: str, message: str) -> None:
        issue = {"check": check, "column": None, "rows": [], "values": [], "rule": {},
                 "message": message}
        safe = dataset if DATASET_NAME.match(dataset) else "_invalid"
        self.quarantine(path, safe, None, {"errors": [issue]}, datetime.now(UTC))

    def schema_changed(self, dataset: str, file: str, change: Any, *, accepted: bool) -> None:
        """Its audit entry, event and alert in one transaction (the caller's, when the
        change came with a new data version or a quarantine)."""
        with self.store.transaction():
            entry = audit.append(
                self.store, actor="mlopsd:ingest", action="dataset.schema_change",
                subject=f"dataset:{dataset}",
                reason="accepted as a new schema version" if accepted else "quarantined",
                details={"file": file, "change": change})
            self.bus.publish(DatasetSchemaChanged(dataset=dataset, file=file, change=change,
                                                  accepted=accepted), audit=entry)
            self.alert("schema_change", dataset, "warning",
                       f"schema change in {file}: {describe_change(change)}"
                       + (" (accepted as a new schema version)" if accepted
                          else " (quarantined)"),
                       {"file": file, "change": change, "accepted": accepted})

    def quality_alert(self, dataset: str, file: str, version: int,
                      warnings: list[dict[str, Any]]) -> None:
        self.alert("data_quality", dataset, "warning",
                   f"{dataset}@{version} ({file}): {len(warnings)} data quality warning(s); "
                   f"first: {warnings[0]['message']}",
                   {"file": file, "version": version, "warnings": warnings[:20]})

    def alert(self, rule: str, dataset: str, severity: str, message: str, detail: Any) -> None:
        self.alerts.raise_(rule=rule, subject=f"dataset:{dataset}", severity=severity,
                           message=message, detail=detail)


def describe_change(change: Any) -> str:
    if not isinstance(change, dict):
        return "columns differ"
    parts = []
    if change.get("added"):
        parts.append("added " + ", ".join(change["added"]))
    if change.get("removed"):
        parts.append("removed " + ", ".join(change["removed"]))
    if change.get("retyped"):
        parts.append("retyped " + ", ".join(f"{c} {a}->{b}"
                                            for c, (a, b) in change["retyped"].items()))
    return "; ".join(parts) or "columns differ"
