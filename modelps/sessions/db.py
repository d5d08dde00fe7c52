"""Database engines for the session store: SQLite (default, WAL) or PostgreSQL (psycopg 3), plus migrations.

The URL comes from the caller, else ``MODELPS_DB``, else ``sqlite:///$MODELPS_HOME/sessions.db``
(``~/.modelps`` when ``MODELPS_HOME`` is unset). A bare file path means an SQLite file and
``postgresql://`` URLs use psycopg 3. Migrations run on open; concurrent openers are serialised
(SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from modelps.sessions.errors import StoreError
from modelps.sessions.schema import SCHEMA_HEAD

__all__ = [
    "BUSY_TIMEOUT_S",
    "create_engine",
    "default_home",
    "is_sqlite",
    "resolve_url",
    "schema_version",
    "session_lock",
    "upgrade",
    "write_transaction",
]

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 60.0
"""How long an SQLite writer waits for the write lock before giving up."""

_PG_MIGRATION_LOCK = 0x6D6F64656C7073  # "modelps"
_WRITE = "modelps_write"


def default_home() -> Path:
    """Return the ModelPS home folder: ``$MODELPS_HOME`` or ``~/.modelps``."""
    return Path(os.environ.get("MODELPS_HOME") or Path.home() / ".modelps")


def resolve_url(url: str | os.PathLike[str] | None = None) -> str:
    """Return the database URL to use: ``url``, else ``$MODELPS_DB``, else the SQLite file in the home folder.

    Example::

        >>> resolve_url("postgresql://postgres@127.0.0.1/test")
        'postgresql+psycopg://postgres@127.0.0.1/test'
        >>> resolve_url("/tmp/s.db")
        'sqlite:////tmp/s.db'
    """
    text = os.fspath(url) if url is not None else os.environ.get("MODELPS_DB", "")
    if not text:
        return f"sqlite:///{(default_home() / 'sessions.db').resolve()}"
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    for plain in ("postgresql://", "postgres://"):
        if text.startswith(plain):
            return "postgresql+psycopg://" + text[len(plain) :]
    return text


def is_sqlite(engine: sa.Engine) -> bool:
    """Whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def create_engine(url: str) -> sa.Engine:
    """Create an engine for ``url`` (already resolved) with the store's connection settings.

    Raises:
        StoreError: The URL is malformed or names a database driver that is not installed.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"cannot parse the database URL {url!r}: {exc}") from exc
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        kwargs["pool_recycle"] = 1800  # a dropped connection is replaced on its next error, no ping per checkout
        kwargs["connect_args"] = {"connect_timeout": 10}
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(url, **kwargs)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"cannot use the database URL {parsed.render_as_string(hide_password=True)}: {exc}") from exc
    if is_sqlite(engine):
        _configure_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        _configure_postgresql(engine)
    return engine


def _configure_postgresql(engine: sa.Engine) -> None:
    """Bound every lock wait (row locks and the session writer lock) by the busy timeout."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = '{int(BUSY_TIMEOUT_S * 1000)}ms'")
        dbapi_connection.autocommit = autocommit


def _configure_sqlite(engine: sa.Engine) -> None:
    """WAL, a busy timeout, foreign keys, and explicit BEGIN (IMMEDIATE for writers)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """Open a transaction that intends to write: on SQLite it takes the write lock at once.

    Taking the lock up front (``BEGIN IMMEDIATE``) lets SQLite's busy timeout queue writers instead
    of failing one of them when two transactions that have both read try to write.
    """
    with engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


@contextlib.contextmanager
def session_lock(engine: sa.Engine, session_id: str, timeout: float = BUSY_TIMEOUT_S) -> Iterator[None]:
    """Hold a lock on one session across processes while an edit is validated and committed.

    Writers of the same session then take turns, so a writer that lost a race learns it before
    spending time on validation; the unique (session, revision) constraint remains the guarantee.
    PostgreSQL: an advisory lock on a pooled connection. SQLite: ``flock`` on a file beside the
    database. Both are released by the operating system or the server if the process dies.

    Raises:
        StoreError: The lock was not free within ``timeout`` seconds.
    """
    digest = hashlib.blake2b(session_id.encode(), digest_size=8).digest()
    if engine.dialect.name == "postgresql":
        key = int.from_bytes(digest, "big", signed=True)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if timeout != BUSY_TIMEOUT_S:
                conn.execute(sa.text(f"SET lock_timeout = '{int(timeout * 1000)}ms'"))
            try:
                conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            except sa.exc.OperationalError as exc:
                raise StoreError(f"session {session_id}: another writer held it for over {timeout:.0f} s") from exc
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                if timeout != BUSY_TIMEOUT_S:
                    conn.execute(sa.text(f"SET lock_timeout = '{int(BUSY_TIMEOUT_S * 1000)}ms'"))
        return
    database = engine.url.database if is_sqlite(engine) else None
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the database constraint alone arbitrates
        fcntl = None  # type: ignore[assignment]
    if not database or database == ":memory:" or fcntl is None:
        yield
        return
    folder = Path(database).with_name(Path(database).name + ".locks")
    folder.mkdir(exist_ok=True)
    with open(folder / f"{digest.hex()}.lock", "a+b") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(f"session {session_id}: another writer held it for over {timeout:.0f} s") from None
                time.sleep(0.0005)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def schema_version(conn: sa.Connection) -> str | None:
    """Return the Alembic revision the database is at, or ``None`` for an empty database."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to :data:`~modelps.sessions.schema.SCHEMA_HEAD` (a no-op when it is there).

    Raises:
        StoreError: The database was written by a newer ModelPS, or a migration failed.
    """
    with engine.connect() as conn:
        version = schema_version(conn)
    if version == SCHEMA_HEAD:
        return
    _refuse_newer(version)
    from alembic import command
    from alembic.config import Config

    with write_transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        version = schema_version(conn)
        if version == SCHEMA_HEAD:
            return
        _refuse_newer(version)
        logger.info("migrating the session store from %s to %s", version or "an empty database", SCHEMA_HEAD)
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def _refuse_newer(version: str | None) -> None:
    if version is not None and version > SCHEMA_HEAD:
        raise StoreError(
            f"the session store is at schema {version}, newer than this ModelPS understands ({SCHEMA_HEAD}); "
            "upgrade ModelPS"
        )
