"""`mlops export NAME:VERSION --container DIR | --c DIR`: a model version as a folder that
runs without mlops.

The daemon's worker makes the folder (job `export`) and hands it back as one tar artifact;
this command waits for the job, downloads the artifact and unpacks it into DIR. DIR must be
new or empty (checked before anything is asked of the daemon); the files are unpacked into
a temp folder beside it, each checked to be a plain file inside it (no link, no absolute
path, no `..`), and the folder is renamed into place, so DIR is whole or not there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from mlopsd.atomic import fsync_dir
from mlopsd.cli.common import UsageError, add_command, client_for, name_and_version
from mlopsd.cli.output import print_json

HINTS = {"container": "cd {dir} && docker build -t {tag} . && docker run -p 8080:8080 {tag}",
         "c": "cd {dir} && make && ./example < rows.csv"}


def target_folder(path: str) -> Path:
    """DIR as a folder to fill: new (its parent exists) or empty."""
    folder = Path(path)
    if folder.exists():
        if not folder.is_dir():
            raise UsageError(f"{path}: is a file; name a new or empty folder")
        if any(folder.iterdir()):
            raise UsageError(f"{path}: is not empty; name a new or empty folder (an export "
                             "never mixes with other files)")
    elif not folder.parent.is_dir():
        raise UsageError(f"{path}: the folder {folder.parent} does not exist")
    if not os.access(folder.parent, os.W_OK):
        raise UsageError(f"{path}: cannot write in {folder.parent} (permission denied)")
    return folder


def unpack(archive: Path, folder: Path) -> list[str]:
    """The tar's plain files into `folder` (new or empty), via a temp folder beside it."""
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.export-"))
    try:
        names = []
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = _safe_name(member)
                if member.isdir():
                    continue
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None  # a regular file (_safe_name checked)
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
                    out.flush()
                    os.fsync(out.fileno())
                names.append(name)
        os.chmod(staging, 0o777 & ~_umask())  # as a new folder gets (mkdtemp's is 0700)
        if folder.exists():
            folder.rmdir()  # empty (checked): the rename below takes its place
        os.replace(staging, folder)
        fsync_dir(folder.parent)
        return names
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _safe_name(member: tarfile.TarInfo) -> str:
    path = PurePosixPath(member.name)
    if not (member.isfile() or member.isdir()):
        raise UsageError(f"the export holds {member.name!r}, which is not a plain file: "
                         "refused, nothing was written")
    if path.is_absolute() or ".." in path.parts or "\\" in member.name or not path.parts:
        raise UsageError(f"the export holds a file named {member.name!r}, outside its folder: "
                         "refused, nothing was written")
    return path.as_posix()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cmd_export(args: argparse.Namespace) -> int:
    name, version = name_and_version(args.version)
    fmt, path = ("container", args.container) if args.container is not None else ("c", args.c)
    folder = target_folder(path)
    with client_for(args) as client:
        job = client.export(name, version, fmt, reason=args.reason)
        job = client.wait_job(job.id, timeout=args.timeout)
        if job.state != "succeeded":
            print(f"mlops: exporting {args.version} {job.state}: {job.error}", file=sys.stderr)
            return 1
        fd, download = tempfile.mkstemp(dir=folder.parent, prefix=f".{folder.name}.",
                                        suffix=".tar.gz")
        os.close(fd)
        try:
            client.download_artifact(job.result["sha"], download)
            files = unpack(Path(download), folder)
        finally:
            Path(download).unlink(missing_ok=True)
    result: dict[str, Any] = {**job.result, "folder": str(folder), "files": files}
    if args.json:
        print_json(result)
        return 0
    what = "a container" if fmt == "container" else "C"
    print(f"{name}:{version} exported as {what} to {folder} ({len(files)} files)")
    print("  " + HINTS[fmt].format(dir=folder, tag=f"{name.lower()}:{version}"))
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, "export", cmd_export, "a model version as a folder that runs without "
                    "mlops: a container (server + Dockerfile) or dependency-free C", common)
    p.add_argument("version", metavar="NAME:VERSION", help="e.g. riders:1.0.0")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--container", metavar="DIR", help="the model, its signature, a "
                       "prediction server with the daemon's /v1 contract and a Dockerfile")
    where.add_argument("--c", metavar="DIR", help="the model compiled to C99 (treelite + "
                       "tl2cgen) with its header, a Makefile and an example program")
    p.add_argument("--reason", help="why, for the audit log")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="give up after this many seconds (default 600)")
