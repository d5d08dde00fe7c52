"""A writer process for the concurrency and kill tests: ``python session_writer.py MODE ...``.

Modes:

``api DB BLOBS SID USER NODE COUNT GOFILE``
    apply ``COUNT`` renames of node ``NODE`` (``NODE`` -> ``USER_1`` -> ``USER_2`` ...) through the
    Python API, each against the head it read, retrying on conflicts; prints a JSON summary.
``cli DB BLOBS SID USER NODE COUNT GOFILE``
    the same through ``modelps session head/apply`` (the CLI entry point), parsing conflict messages.
``stream DB BLOBS SID USER NODE``
    rename forever, materialising (and snapshotting) every few revisions, until killed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path


def _wait_for(go: Path) -> None:
    while not go.exists():
        time.sleep(0.005)


def _name(user: str, node: str, index: int) -> str:
    return node if index == 0 else f"{user}_{index}"


def run_api(db: str, sid: str, user: str, node: str, count: int, go: Path) -> dict[str, int]:
    from modelps.sessions import ConflictError, SessionStore

    conflicts = 0
    with SessionStore(db) as store:
        _wait_for(go)
        for index in range(count):
            edit = {
                "op": "rename",
                "kind": "node",
                "old": _name(user, node, index),
                "new": _name(user, node, index + 1),
            }
            while True:
                head = store.head(sid, user)
                try:
                    store.apply(sid, user, edit, expect_revision=head)
                    break
                except ConflictError:
                    conflicts += 1
    return {"conflicts": conflicts}


def run_cli(db: str, sid: str, user: str, node: str, count: int, go: Path) -> dict[str, int]:
    import contextlib
    import io

    from modelps.cli import main

    def call(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["session", *args, "--db", db])
        return code, out.getvalue(), err.getvalue()

    conflicts = 0
    _wait_for(go)
    code, out, err = call("head", sid, "--user", user)
    assert code == 0, err
    head = int(out)
    for index in range(count):
        edit = {"op": "rename", "kind": "node", "old": _name(user, node, index), "new": _name(user, node, index + 1)}
        while True:
            code, out, err = call(
                "apply", sid, "--user", user, "--expect-revision", str(head), "--edit", json.dumps(edit)
            )
            if code == 0:
                head = int(out)
                break
            found = re.search(r"current revision is (\d+)", err)
            assert code == 1 and found, err
            head = int(found.group(1))
            conflicts += 1
    return {"conflicts": conflicts}


def run_stream(db: str, sid: str, user: str, node: str) -> None:
    from modelps.sessions import SessionStore

    with SessionStore(db, snapshot_after_s=0.0) as store:
        index = 0
        while True:
            edit = {
                "op": "rename",
                "kind": "node",
                "old": _name(user, node, index),
                "new": _name(user, node, index + 1),
            }
            rev = store.apply(sid, user, edit, expect_revision=store.head(sid))
            index += 1
            if rev.revision % 3 == 0:
                store.materialize(sid)  # writes a snapshot blob and row
            if rev.revision % 7 == 0:
                store.add_comment(sid, user, f"at {rev.revision}", node=_name(user, node, index))


def main(argv: list[str]) -> None:
    """Entry point."""
    mode, db, blobs, sid, user, node, *rest = argv
    os.environ["MODELPS_BLOBS"] = blobs
    if mode == "stream":
        run_stream(db, sid, user, node)
        return
    count, go = int(rest[0]), Path(rest[1])
    result = (run_api if mode == "api" else run_cli)(db, sid, user, node, count, go)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
