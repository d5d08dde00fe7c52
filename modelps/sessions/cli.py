"""``modelps session ...``: shared edit sessions from the command line.

Every command takes ``--db URL`` (default ``$MODELPS_DB`` or ``$MODELPS_HOME/sessions.db``). Reading
commands without ``--user`` act as the local administrator of the store; with ``--user`` the
user's role applies. Conflicts, permission problems and bad input exit with status 1 and one line
on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelps.cli._common import add_json_flag, print_json
from modelps.errors import ModelPSError

if TYPE_CHECKING:
    from modelps.sessions.store import SessionStore

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``modelps session`` and its sub-commands."""
    session = subparsers.add_parser("session", help="shared edit sessions: history, roles, undo, bundles")
    commands = session.add_subparsers(dest="session_command", metavar="SUBCOMMAND")
    commands.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", help="database URL or SQLite file (default: $MODELPS_DB or ~/.modelps)")

    def add(name: str, help_text: str, func: Any, *, json_flag: bool = True) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text, description=help_text, parents=[common])
        if json_flag:
            add_json_flag(parser)
        parser.set_defaults(func=func)
        return parser

    p = add("create", "start a session on a model file; prints its id", _create)
    p.add_argument("model", type=Path, help="the base ONNX model")
    p.add_argument("--name", required=True, help="a name for the session")
    p.add_argument("--user", required=True, help="the owner")

    p = add("list", "list sessions (those USER belongs to, with --user)", _list)
    p.add_argument("--user", help="only sessions this user is a member of")

    p = add("log", "show a session's history", _log)
    _session_reader(p)
    p.add_argument("--since", type=int, default=0, help="first revision to show (default 0)")

    p = add("head", "print a session's current revision number", _head)
    _session_reader(p)

    p = add("apply", "apply one edit as a new revision", _apply)
    _session_writer(p)
    p.add_argument(
        "--expect-revision", type=int, required=True, metavar="R", help="the revision the edit was made against"
    )
    p.add_argument("--edit", required=True, metavar="JSON", help="the edit as recipe JSON, or @FILE")
    p.add_argument("--message", "-m", help="a note for the log")
    p.add_argument(
        "--rebase", action="store_true", help="if the head moved, replay the edit on it when it still applies"
    )

    p = add("undo", "add a revision that reverts the latest change", _undo)
    _session_writer(p)
    p.add_argument("--expect-revision", type=int, metavar="R", help="fail unless the head is still R")
    p.add_argument("--message", "-m", help="a note for the log")

    p = add("checkout", "add a revision whose model equals revision N", _checkout)
    _session_writer(p)
    p.add_argument("revision", type=int, metavar="N", help="the revision to return to")
    p.add_argument("--expect-revision", type=int, metavar="R", help="fail unless the head is still R")
    p.add_argument("--message", "-m", help="a note for the log")

    p = add("share", "give a user a role in a session (owner only)", _share)
    _session_writer(p, user_help="the session's owner")
    p.add_argument("--grant", required=True, metavar="USER", help="the user to add or change")
    p.add_argument("--role", required=True, choices=("editor", "viewer"))

    p = add("members", "list a session's members and roles", _members)
    _session_reader(p)

    p = add("export", "save a revision as ONNX (.onnx) or as a recipe (.json)", _export, json_flag=False)
    _session_reader(p)
    p.add_argument("--revision", type=int, metavar="N", help="default: the head")
    p.add_argument("-o", "--output", type=Path, required=True, help="OUT.onnx or OUT.json")

    p = add(
        "bundle", "save the whole session (base model, history, comments) as one zip file", _bundle, json_flag=False
    )
    _session_reader(p)
    p.add_argument("-o", "--output", type=Path, required=True, help="the bundle file to write")

    p = add("import", "create a session from a bundle; prints its id", _import)
    p.add_argument("bundle", type=Path, help="a file written by `modelps session bundle`")
    p.add_argument("--user", required=True, help="the new session's owner")
    p.add_argument("--name", help="a new name (default: the bundle's)")

    p = add("comment", "comment on a session or one of its nodes", _comment)
    _session_writer(p)
    p.add_argument("text", help="the comment")
    p.add_argument("--node", help="the node the comment is about")
    p.add_argument("--revision", type=int, metavar="N", help="the revision the comment refers to")

    p = add("comments", "list a session's comments", _comments)
    _session_reader(p)
    p.add_argument("--node", help="only comments about this node")

    p = add("diff", "compare the recipes of two revisions", _diff)
    _session_reader(p)
    p.add_argument("a", type=int, metavar="A")
    p.add_argument("b", type=int, metavar="B")


def _session_reader(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session_id", metavar="ID", help="the session id")
    parser.add_argument("--user", help="read as this user (roles apply); default: the store's administrator")


def _session_writer(parser: argparse.ArgumentParser, user_help: str = "who makes the change") -> None:
    parser.add_argument("session_id", metavar="ID", help="the session id")
    parser.add_argument("--user", required=True, help=user_help)


def _store(args: argparse.Namespace) -> SessionStore:
    from modelps.sessions.store import SessionStore

    return SessionStore(args.db)


def _create(args: argparse.Namespace) -> int:
    with _store(args) as store:
        info = store.create_session(args.model, name=args.name, user=args.user)
    _emit(args, info.to_dict(), info.id)
    return 0


def _list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        found = store.list_sessions(args.user)
    if args.json:
        print_json({"sessions": [s.to_dict() for s in found]})
    else:
        for s in found:
            role = f" ({s.role})" if s.role else ""
            _out(f"{s.id}  {s.name}  owner={s.owner}  head={s.head}{role}")
    return 0


def _log(args: argparse.Namespace) -> int:
    with _store(args) as store:
        history = store.log(args.session_id, args.user, since=args.since)
    if args.json:
        print_json({"session": args.session_id, "revisions": [r.to_dict() for r in history]})
        return 0
    for rev in history:
        what = json.dumps(rev.edit, sort_keys=True) if rev.edit else "(base model)"
        note = f"  # {rev.message}" if rev.message else ""
        _out(f"{rev.revision:>5}  {rev.to_dict()['time']}  {rev.author:<12} {rev.kind:<8} {what}{note}")
    return 0


def _head(args: argparse.Namespace) -> int:
    with _store(args) as store:
        head = store.head(args.session_id, args.user)
    _emit(args, {"session": args.session_id, "revision": head}, str(head))
    return 0


def _apply(args: argparse.Namespace) -> int:
    from modelps.sessions.store import parse_edit

    text = args.edit
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as exc:
            raise ModelPSError(f"{text[1:]}: cannot read the edit ({exc.strerror})") from exc
    edit = parse_edit(text)
    with _store(args) as store:
        if args.rebase:
            rev = store.rebase(
                args.session_id, args.user, edit, made_against=args.expect_revision, message=args.message
            )
        else:
            rev = store.apply(
                args.session_id, args.user, edit, expect_revision=args.expect_revision, message=args.message
            )
    _emit(args, rev.to_dict(), str(rev.revision))
    return 0


def _undo(args: argparse.Namespace) -> int:
    with _store(args) as store:
        rev = store.undo(args.session_id, args.user, expect_revision=args.expect_revision, message=args.message)
    _emit(args, rev.to_dict(), str(rev.revision))
    return 0


def _checkout(args: argparse.Namespace) -> int:
    with _store(args) as store:
        rev = store.checkout(
            args.session_id, args.user, args.revision, expect_revision=args.expect_revision, message=args.message
        )
    _emit(args, rev.to_dict(), str(rev.revision))
    return 0


def _share(args: argparse.Namespace) -> int:
    with _store(args) as store:
        store.share(args.session_id, args.user, args.grant, args.role)
        roster = store.members(args.session_id, args.user)
    _emit(args, {"session": args.session_id, "members": roster}, f"{args.grant} is now {args.role}")
    return 0


def _members(args: argparse.Namespace) -> int:
    with _store(args) as store:
        roster = store.members(args.session_id, args.user)
    _emit(args, {"session": args.session_id, "members": roster}, "\n".join(f"{u}  {r}" for u, r in roster.items()))
    return 0


def _export(args: argparse.Namespace) -> int:
    suffix = args.output.suffix.lower()
    with _store(args) as store:
        if suffix == ".onnx":
            store.export_onnx(args.session_id, args.output, args.revision, args.user)
        elif suffix == ".json":
            store.export_recipe(args.session_id, args.output, args.revision, args.user)
        else:
            raise ModelPSError(f"{args.output}: choose a .onnx (model) or .json (recipe) output name")
    _out(args.output)
    return 0


def _bundle(args: argparse.Namespace) -> int:
    with _store(args) as store:
        store.export_bundle(args.session_id, args.output, args.user)
    _out(args.output)
    return 0


def _import(args: argparse.Namespace) -> int:
    with _store(args) as store:
        info = store.import_bundle(args.bundle, args.user, name=args.name)
    _emit(args, info.to_dict(), info.id)
    return 0


def _comment(args: argparse.Namespace) -> int:
    with _store(args) as store:
        note = store.add_comment(args.session_id, args.user, args.text, node=args.node, revision=args.revision)
    _emit(args, note.to_dict(), str(note.id))
    return 0


def _comments(args: argparse.Namespace) -> int:
    with _store(args) as store:
        notes = store.comments(args.session_id, args.user, node=args.node)
    if args.json:
        print_json({"session": args.session_id, "comments": [n.to_dict() for n in notes]})
    else:
        for n in notes:
            about = f" [{n.node}]" if n.node else ""
            _out(f"#{n.id} {n.to_dict()['time']} {n.author}{about}: {n.text}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    with _store(args) as store:
        diff = store.diff(args.session_id, args.a, args.b, args.user)
    if args.json:
        print_json(diff.to_dict())
    else:
        _out(f"revisions {diff.a} and {diff.b} share {diff.common} edit(s)")
        for edit in reversed(diff.only_a):
            _out(f"- {json.dumps(edit, sort_keys=True)}")
        for edit in diff.only_b:
            _out(f"+ {json.dumps(edit, sort_keys=True)}")
    return 0


def _out(text: object) -> None:
    sys.stdout.write(f"{text}\n")


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if getattr(args, "json", False):
        print_json(data)
    else:
        _out(text)
