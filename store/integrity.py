"""Is this home whole? Every artifact a row names is there and hashes to its name, every
alias, lineage reference, deployment and pipeline names a version that exists, and the audit
chain holds (`mlops verify`; run after a restore, a crash, a disk incident).

The references are read under the store's lock in one go; the (possibly large) blobs are
hashed after it is let go, so the daemon goes on serving and writing meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from store import audit
from store.artifacts import ArtifactStore
from store.db import Store
from store.errors import ArtifactError
from store.rows import from_json


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    problem: str


@dataclass
class HomeCheck:
    checked: dict[str, int] = field(default_factory=dict)
    """How many things each check looked at."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def check_home(store: Store, artifacts: ArtifactStore, *,
               progress: Callable[[int, int], None] | None = None) -> HomeCheck:
    out = HomeCheck()
    with store.reading() as cur:
        blobs = _blob_refs(cur)
        versions = {(m, v) for m, v in cur.execute(
            "SELECT model, version FROM model_versions").fetchall()}
        runs = {r for (r,) in cur.execute("SELECT id FROM runs").fetchall()}
        data = {(d, v): h for d, v, h in cur.execute(
            "SELECT dataset, version, content_hash FROM data_versions").fetchall()}
        aliases = cur.execute("SELECT model, alias, version FROM model_aliases").fetchall()
        version_runs = cur.execute("SELECT model, version, run_id FROM model_versions "
                                   "WHERE run_id IS NOT NULL").fetchall()
        lineages = cur.execute("SELECT id, lineage FROM runs WHERE lineage IS NOT NULL"
                               ).fetchall()
        deployments = cur.execute("SELECT id, model, from_version, to_version "
                                  "FROM deployments").fetchall()
        pipelines = cur.execute("SELECT id, model, challenger, champion FROM pipelines"
                                ).fetchall()

    def find(check: str, subject: str, problem: str) -> None:
        out.findings.append(Finding(check, subject, problem))

    out.checked["aliases"] = len(aliases)
    for model, alias, version in aliases:
        if (model, version) not in versions:
            find("aliases", f"model {model}@{alias}", f"names version {version}, which the "
                 "registry does not have")

    out.checked["lineage"] = len(version_runs) + len(lineages)
    for model, version, run_id in version_runs:
        if run_id not in runs:
            find("lineage", f"model {model} {version}", f"names run {run_id}, which the store "
                 "does not have")
    for run_id, text in lineages:
        lineage = from_json(text)
        items = lineage.get("data") if isinstance(lineage, dict) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            key = (item.get("dataset"), item.get("version"))
            if key not in data:
                find("lineage", f"run {run_id}", f"trained on {key[0]}@{key[1]}, which the "
                     "store does not have")
            elif item.get("content_hash") and data[key] != item["content_hash"]:
                find("lineage", f"run {run_id}", f"trained on {key[0]}@{key[1]} with content "
                     f"{item['content_hash'][:12]}…, but that version now holds "
                     f"{data[key][:12]}…")

    out.checked["deployments and pipelines"] = len(deployments) + len(pipelines)
    for dep_id, model, *named in deployments:
        for version in named:
            if version is not None and (model, version) not in versions:
                find("deployments", f"deployment {dep_id} of {model}", f"names version "
                     f"{version}, which the registry does not have")
    for pipe_id, model, *named in pipelines:
        for version in named:
            if version is not None and (model, version) not in versions:
                find("pipelines", f"pipeline {pipe_id} of {model}", f"names version "
                     f"{version}, which the registry does not have")

    out.checked["artifacts"] = len(blobs)
    for done, (sha, owners) in enumerate(sorted(blobs.items()), start=1):
        try:
            artifacts.verify(sha)
        except ArtifactError as exc:
            find("artifacts", owners[0] + (f" (and {len(owners) - 1} more)"
                                           if len(owners) > 1 else ""), str(exc))
        if progress is not None:
            progress(done, len(blobs))

    chain = audit.verify(store)
    out.checked["audit entries"] = chain.chain.entries
    for entry_id, problem in chain.chain.problems:
        find("audit", f"entry {entry_id}", problem)
    for event_id, audit_id in chain.orphan_events:
        find("audit", f"event {event_id}", f"names audit entry {audit_id}, which the log no "
             "longer has")
    return out


def _blob_refs(cur) -> dict[str, list[str]]:
    """Every artifact a row names, with who names it."""
    refs: dict[str, list[str]] = {}
    queries = [
        ("SELECT artifact_sha, 'model ' || model || ' ' || version FROM model_versions"),
        ("SELECT snapshot_sha, 'data ' || dataset || '@' || version FROM data_versions"),
        ("SELECT report_sha, 'drift report ' || id FROM drift_reports "
         "WHERE report_sha IS NOT NULL"),
        ("SELECT profile_sha, 'drift profile of report ' || id FROM drift_reports "
         "WHERE profile_sha IS NOT NULL"),
    ]
    for sql in queries:
        for sha, owner in cur.execute(sql).fetchall():
            refs.setdefault(sha, []).append(owner)
    return refs
