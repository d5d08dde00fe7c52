"""Migrations run on open, match the table definitions, and refuse a newer schema; the public API is pinned."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import modelps.sessions
from modelps.sessions import SessionStore, StoreError
from modelps.sessions.db import resolve_url, schema_version
from modelps.sessions.schema import SCHEMA_HEAD, metadata


def _script_head() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(modelps.sessions.__file__).parent / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


def test_schema_head_constant_is_the_newest_migration() -> None:
    assert _script_head() == SCHEMA_HEAD


def test_migrated_database_matches_the_table_definitions(db_url: str, tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with SessionStore(db_url, blob_dir=tmp_path / "b") as store, store.engine.connect() as conn:
        assert schema_version(conn) == SCHEMA_HEAD
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_opening_again_is_a_no_op_and_keeps_data(tmp_path: Path, model_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    with SessionStore(url, blob_dir=tmp_path / "b") as store:
        sid = store.create_session(model_path, name="x", user="ann").id
    with SessionStore(url, blob_dir=tmp_path / "b") as store:
        assert store.head(sid) == 0
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    SessionStore(url, blob_dir=tmp_path / "b").close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="schema 9999, newer than this ModelPS understands"):
        SessionStore(url, blob_dir=tmp_path / "b")


def test_default_location_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MODELPS_DB", raising=False)
    monkeypatch.setenv("MODELPS_HOME", str(tmp_path / "home"))
    assert resolve_url() == f"sqlite:///{tmp_path / 'home' / 'sessions.db'}"
    monkeypatch.setenv("MODELPS_DB", "postgres://u@h/db")
    assert resolve_url() == "postgresql+psycopg://u@h/db"


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        SessionStore("postgresql://postgres@127.0.0.1:1/none", blob_dir=tmp_path)
    with pytest.raises(StoreError, match="cannot use the database URL"):
        SessionStore("nosuchdialect://x/y", blob_dir=tmp_path)


def test_public_api() -> None:
    assert sorted(modelps.sessions.__all__) == [
        "CommentInfo",
        "ConflictError",
        "PermissionDenied",
        "RebaseError",
        "RecipeDiff",
        "RevisionInfo",
        "RevisionNotFound",
        "SessionError",
        "SessionInfo",
        "SessionNotFound",
        "SessionStore",
        "StoreError",
        "parse_edit",
    ]
    for name in modelps.sessions.__all__:
        assert getattr(modelps.sessions, name) is not None
    assert issubclass(modelps.sessions.ConflictError, modelps.ModelPSError)


def test_session_lock_excludes_other_writers_and_times_out(store: SessionStore) -> None:
    from modelps.sessions.db import session_lock

    with session_lock(store.engine, "abc"):
        with pytest.raises(StoreError, match="another writer held it for over 0 s"):
            with session_lock(store.engine, "abc", timeout=0.05):
                pass
        with session_lock(store.engine, "other", timeout=0.05):  # other sessions are not blocked
            pass
    with session_lock(store.engine, "abc", timeout=0.05):  # released
        pass


def test_a_first_version_database_is_upgraded_on_open(tmp_path: Path, model_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(Path(modelps.sessions.__file__).parent / "migrations"))
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    with engine.connect() as conn:
        assert schema_version(conn) == "0001"
        assert not sa.inspect(conn).has_table("blobs")
    engine.dispose()
    with SessionStore(url, blob_dir=tmp_path / "b", blobs_in_db=True) as store:
        sid = store.create_session(model_path, name="x", user="ann").id
        with store.engine.connect() as conn:
            assert schema_version(conn) == SCHEMA_HEAD
            assert conn.execute(sa.text("SELECT count(*) FROM blobs")).scalar() == 1
        assert store.head(sid) == 0


def test_threads_sharing_one_store(store: SessionStore, model_path: Path) -> None:
    import threading

    from modelps.sessions import ConflictError

    sid = store.create_session(model_path, name="threads", user="ann").id
    errors: list[BaseException] = []

    def work(node: str) -> None:
        current = node
        try:
            for index in range(5):
                new = f"{node}_{index}"
                while True:
                    try:
                        store.apply(
                            sid,
                            "ann",
                            {"op": "rename", "kind": "node", "old": current, "new": new},
                            expect_revision=store.head(sid),
                        )
                        break
                    except ConflictError:
                        continue
                current = new
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"n{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.head(sid) == 15
    assert store.materialize(sid).nodes_named() == ["n0_4", "n1_4", "n2_4", "n3", "act"]
