"""`mlops backup`, `mlops restore`, `mlops verify`: the home as a whole."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlopsd.cli.common import UsageError, add_command, client_for
from mlopsd.cli.output import print_json, print_table
from mlopsd.client.backup_files import BackupError, check_folder, restore
from mlopsd.home import resolve_home


def cmd_backup(args: argparse.Namespace) -> int:
    dest = Path(args.dir).expanduser().absolute()
    with client_for(args) as client:
        try:
            manifest = client.backup(dest, with_token=args.with_token)
        except BackupError as exc:
            raise UsageError(str(exc)) from None
    if args.json:
        print_json(manifest)
    else:
        _describe(manifest, dest)
    return _corrupt(manifest)


def cmd_restore(args: argparse.Namespace) -> int:
    if not args.home:
        raise UsageError("say which new home to restore into: mlops restore DIR --home NEW")
    source = Path(args.dir).expanduser().absolute()
    if not source.is_dir():
        raise UsageError(f"backup folder {source}: no such folder")
    target = resolve_home(args.home).root
    try:
        manifest = restore(source, target)
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print_json(manifest)
    else:
        _describe(manifest, source)
        token = ("its token came with the backup" if manifest.get("token_included")
                 else "a new token was made (the backup held none)")
        print(f"restored into {target}: {token}; start it with: mlopsd --home {target}")
    return _corrupt(manifest)


def cmd_verify(args: argparse.Namespace) -> int:
    if args.backup:
        try:
            manifest = check_folder(Path(args.backup).expanduser().absolute())
        except BackupError as exc:
            print(f"mlops: {exc}", file=sys.stderr)
            return 1
        _describe(manifest, Path(args.backup))
        return _corrupt(manifest)
    with client_for(args) as client:
        found = client.verify_home()
    if args.json:
        print_json(found)
    else:
        if found.findings:
            print_table([[f.check, f.subject, f.problem] for f in found.findings],
                        ["check", "subject", "problem"], max_width=110)
        checked = ", ".join(f"{n:,} {what}" for what, n in found.checked.items())
        print(f"home {'ok' if found.ok else 'NOT OK'}: checked {checked}; "
              f"{len(found.findings)} problem(s)")
    return 0 if found.ok else 1


def _describe(manifest: dict[str, Any], where: Path) -> None:
    files = manifest["files"]
    size = sum(f["bytes"] for f in files.values())
    serving = ", ".join(f"{model}@production={aliases['production']}"
                        for model, aliases in sorted(manifest.get("aliases", {}).items())
                        if "production" in aliases) or "no production versions"
    audit = manifest.get("audit", {})
    print(f"backup {where}: {len(files):,} files, {size / 1e6:,.1f} MB, taken "
          f"{manifest.get('created_at')} from {manifest.get('source_home')}; serving "
          f"{serving}; audit head {audit.get('head')} ({audit.get('entries', 0):,} entries)")


def _corrupt(manifest: dict[str, Any]) -> int:
    corrupt = manifest.get("corrupt") or []
    for item in corrupt:
        print(f"mlops: corrupt in the home when backed up: {item} (run mlops verify; "
              "mlops reproduce puts a model's bytes back)", file=sys.stderr)
    return 1 if corrupt else 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, "backup", cmd_backup, "an online backup of the home into a new "
                    "folder (store, artifacts, snapshots, config; checked file by file)",
                    common)
    p.add_argument("dir", help="a new (or empty) folder to write the backup into")
    p.add_argument("--with-token", action="store_true",
                   help="include the home's token (left out by default)")
    p = add_command(sub, "restore", cmd_restore, "make a new home from a backup folder "
                    "(checked first); then start mlopsd on it", common)
    p.add_argument("dir", help="the backup folder (from mlops backup)")
    p = add_command(sub, "verify", cmd_verify, "check the home is whole: every artifact's "
                    "hash, every alias, lineage and pipeline reference, the audit chain "
                    "(exit 1 names each problem)", common)
    p.add_argument("--backup", metavar="DIR", help="check a backup folder instead, with no "
                   "daemon")
