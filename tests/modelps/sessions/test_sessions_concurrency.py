"""Several OS processes write one session at once; a writer SIGKILLed mid-stream loses nothing committed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

import modelps
from modelps.sessions import SessionStore

WRITER = Path(__file__).with_name("session_writer.py")
REPO = Path(__file__).resolve().parents[3]


def _spawn(*args: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, str(WRITER), *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _race(db_url: str, tmp_path: Path, make_chain, mode: str, writers: int, count: int) -> None:  # noqa: ANN001
    blobs = tmp_path / "blobs"
    users = [f"w{index}" for index in range(writers)]
    with SessionStore(db_url, blob_dir=blobs) as store:
        sid = store.create_session(make_chain(writers), name="race", user="lead").id
        for user in users:
            store.share(sid, "lead", user, "editor")
    go = tmp_path / "go"
    procs = [_spawn(mode, db_url, blobs, sid, user, f"n{i}", count, go) for i, user in enumerate(users)]
    time.sleep(0.5)
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        results.append(json.loads(out))

    with SessionStore(db_url, blob_dir=blobs) as store:
        log = store.log(sid)
        # a linear history: revisions 0..N, each the child of the one before
        assert [r.revision for r in log] == list(range(writers * count + 1))
        assert [r.parent for r in log[1:]] == list(range(writers * count))
        # every edit exactly once, by its author, in each author's order
        seen = [(r.author, r.edit["old"], r.edit["new"]) for r in log[1:]]
        for i, user in enumerate(users):
            mine = [(old, new) for author, old, new in seen if author == user]
            names = [f"n{i}"] + [f"{user}_{k}" for k in range(1, count + 1)]
            assert mine == list(zip(names[:-1], names[1:], strict=True))
        assert len(seen) == len(set(seen)) == writers * count
        final = store.materialize(sid).nodes_named()
        assert final == [f"{user}_{count}" for user in users] + ["act"]


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_concurrent_writers_through_the_api(db_url: str, tmp_path: Path, make_chain) -> None:  # noqa: ANN001
    _race(db_url, tmp_path, make_chain, "api", writers=4, count=8)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_concurrent_writers_through_the_cli(db_url: str, tmp_path: Path, make_chain) -> None:  # noqa: ANN001
    _race(db_url, tmp_path, make_chain, "cli", writers=3, count=4)


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_writer_killed_mid_stream_leaves_a_consistent_store(db_url: str, tmp_path: Path, make_chain) -> None:  # noqa: ANN001
    blobs = tmp_path / "blobs"
    with SessionStore(db_url, blob_dir=blobs) as store:
        sid = store.create_session(make_chain(1), name="kill", user="ann").id
    reached, node = 0, "n0"
    for round_, stop_after in enumerate((1, 5, 12)):
        user = f"k{round_}"
        with SessionStore(db_url, blob_dir=blobs) as store:
            store.share(sid, "ann", user, "editor")
            start = store.head(sid)
        proc = _spawn("stream", db_url, blobs, sid, user, node)
        with SessionStore(db_url, blob_dir=blobs) as watcher:
            deadline = time.monotonic() + 120
            while watcher.head(sid) < start + stop_after and time.monotonic() < deadline:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL

        with SessionStore(db_url, blob_dir=blobs) as store:
            if store.engine.dialect.name == "sqlite":
                with store.engine.connect() as conn:
                    assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            log = store.log(sid)
            head = log[-1].revision
            assert head >= reached and head >= start + stop_after
            assert [r.revision for r in log] == list(range(head + 1))
            node = f"{user}_{sum(r.author == user for r in log)}"  # where the next round's writer starts
            model = store.materialize(sid)
            replayed = modelps.Model.load(make_chain(1))
            replayed.apply_recipe(store.recipe(sid), check_base=False)
            assert model.to_bytes() == replayed.to_bytes()
            assert model.nodes_named()[0] == node
            store.export_onnx(sid, tmp_path / f"after{round_}.onnx")
            store.export_bundle(sid, tmp_path / f"after{round_}.zip")
            # the database is not left locked: the next writer gets through at once
            with store.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            rev = store.apply(
                sid, "ann", {"op": "rename", "kind": "node", "old": "act", "new": f"act{round_}"}, expect_revision=head
            )
            store.apply(
                sid,
                "ann",
                {"op": "rename", "kind": "node", "old": f"act{round_}", "new": "act"},
                expect_revision=rev.revision,
            )
            reached = rev.revision + 1
