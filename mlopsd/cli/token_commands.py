"""`mlops tokens …` and `mlops whoami`: who may do what."""

from __future__ import annotations

import argparse
from typing import Any

from mlopsd.cli.common import add_command, client_for
from mlopsd.cli.output import print_json, print_table

ROLES = ["viewer", "operator", "approver", "admin"]


def cmd_list(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        found = client.tokens()
    if args.json:
        print_json(found)
    else:
        print_table([[t.name, t.role, t.created_at, t.created_by,
                      f"revoked {t.revoked_at} by {t.revoked_by}" if t.revoked_at else "active"]
                     for t in found], ["name", "role", "made", "by", "state"])
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        made = client.create_token(args.token, args.role)
    if args.json:
        print_json(made)
        return 0
    print(f"token {made.token.name!r} ({made.token.role}) made; its secret, shown this once:")
    print(made.secret)
    print(f"use it with: export MLOPS_TOKEN={made.secret}  (or 'Authorization: Bearer ...')")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        revoked = client.revoke_token(args.token, note=args.reason)
    if args.json:
        print_json(revoked)
    else:
        print(f"token {revoked.name!r} revoked ({revoked.revoked_at}, by {revoked.revoked_by})")
    return 0


def cmd_whoami(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        me = client.whoami()
    if args.json:
        print_json(me)
    else:
        print(f"{me.name} ({me.role})")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    tokens = sub.add_parser("tokens", parents=[common], help="tokens with roles: list, "
                            "create, revoke (an admin's commands)",
                            description="tokens with roles: list, create, revoke")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", metavar="TOKENS_COMMAND",
                                       help="default: list")
    tokens.set_defaults(handler=cmd_list)
    add_command(tokens_sub, "list", cmd_list, "every token, its role and state", common)
    p = add_command(tokens_sub, "create", cmd_create, "make a token with a role; prints its "
                    "secret once", common)
    p.add_argument("token", metavar="NAME", help="who it is for, e.g. alice or ci")
    p.add_argument("--role", required=True, choices=ROLES,
                   help="viewer reads; operator ingests, trains, predicts, deploys canaries; "
                   "approver approves pipelines and moves production; admin manages tokens")
    p = add_command(tokens_sub, "revoke", cmd_revoke, "revoke a token: it stops working at "
                    "once", common)
    p.add_argument("token", metavar="NAME", help="the token's name")
    p.add_argument("--reason", help="why, for the audit log")
    add_command(sub, "whoami", cmd_whoami, "the name and role of the token in use "
                "($MLOPS_TOKEN, else the home's own)", common)
