"""`complaintwatch user ...` (accounts, API tokens) and `complaintwatch deliver`
(one alert delivery run); cli.py adds them with ``add_parsers``."""

from __future__ import annotations

import argparse
import getpass
import sys


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise SystemExit("complaintwatch user: no terminal to ask for the password; use --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("complaintwatch user: the passwords differ")
    return first


def cmd_user(args: argparse.Namespace) -> int:
    from indexer.store import open_store

    from .accounts import AccountError, Accounts

    with open_store(args.store) as store:
        acc = Accounts(store)
        try:
            return _user(args, acc)
        except AccountError as exc:
            print(f"complaintwatch user: {exc}", file=sys.stderr)
            return 1


def _user(args: argparse.Namespace, acc) -> int:
    from .accounts import AccountError

    if args.action == "add":
        first = not acc.any_user()
        user = acc.add(args.email, _read_password(args), args.role)
        print(f"added {user.email} ({user.role}), id {user.id}")
        if first:
            print("this is the first account: access control is now on (sign-in needed to write; see README)")
        return 0
    if args.action == "list":
        for u in acc.list():
            tokens = len(acc.user_tokens(u))
            print(f"{u.id:>4}  {u.role:<6}  {u.email}  (since {u.created_at:%Y-%m-%d}, {tokens} API tokens)")
        return 0
    if args.action == "remove":
        user = acc.remove(args.email, force=args.force)
        print(f"removed {user.email}; their alerts stay, for admins")
        if not acc.any_user():
            print("no account is left: access control is off (anyone may write)")
        return 0
    if args.action == "password":
        user = acc.by_email(args.email)
        if user is None:
            raise AccountError(f"no account for {args.email}")
        acc.set_password(user, _read_password(args))
        print(f"new password set for {user.email}")
        return 0
    # token
    user = acc.by_email(args.email)
    if user is None:
        raise AccountError(f"no account for {args.email}")
    if args.list:
        for short, tok in acc.user_tokens(user):
            print(f"{short}  created {tok.created_at:%Y-%m-%d %H:%M} UTC")
        return 0
    if args.revoke:
        if not acc.revoke_token(user, args.revoke):
            raise AccountError(f"{user.email} has no token {args.revoke}")
        print(f"revoked token {args.revoke}")
        return 0
    token = acc.new_token(user)
    print(token)
    print(
        "shown once: keep it secret. Use it as 'Authorization: Bearer <token>'; "
        f"revoke it with: complaintwatch user token {user.email} --revoke <id from --list>",
        file=sys.stderr,
    )
    return 0


def cmd_deliver(args: argparse.Namespace) -> int:
    from indexer.store import open_store

    from .config import load_settings
    from .delivery import deliver_due

    settings = load_settings()
    with open_store(args.store) as store:
        r = deliver_due(store, settings)
    print(
        f"sent {r.sent_email} e-mails and {r.sent_webhook} webhooks; {r.failed} failed (retried on the next run); "
        f"{r.skipped_already_sent} already sent before"
    )
    return 1 if r.failed else 0


def add_parsers(sub) -> None:
    u = sub.add_parser("user", help="accounts: the first `user add` turns access control on")
    usub = u.add_subparsers(dest="action", required=True)
    ua = usub.add_parser("add", help="add an account (password from a prompt or --password-stdin)")
    ua.add_argument("email")
    ua.add_argument("--role", choices=("admin", "member", "viewer"), default="member")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    usub.add_parser("list", help="list the accounts")
    ur = usub.add_parser("remove", help="remove an account and its tokens (its alerts stay, for admins)")
    ur.add_argument("email")
    ur.add_argument("--force", action="store_true", help="even the last admin")
    up = usub.add_parser("password", help="set a new password")
    up.add_argument("email")
    up.add_argument("--password-stdin", action="store_true")
    ut = usub.add_parser("token", help="print a new personal API token (once); --list, --revoke ID")
    ut.add_argument("email")
    g = ut.add_mutually_exclusive_group()
    g.add_argument("--list", action="store_true", help="the account's tokens by id (never the tokens)")
    g.add_argument("--revoke", metavar="ID", help="revoke the token with this id (from --list)")
    u.set_defaults(func=cmd_user)

    d = sub.add_parser("deliver", help="send due alert mails and webhooks once (spikes, the daily digest)")
    d.set_defaults(func=cmd_deliver)
