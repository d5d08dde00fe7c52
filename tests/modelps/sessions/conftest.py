"""Fixtures for the session store: small ONNX models and stores on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import onnx_ir as ir
import pytest

PG_ADMIN_URL = os.environ.get("MODELPS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

CHAIN_TEXT = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[2,3] x) => (float[2,3] y) {{
{body}
}}
"""


def chain_model(path: Path, width: int = 4) -> Path:
    """An Identity chain n0..n{width-1} followed by a Relu named ``act``: one node per concurrent writer."""
    lines = []
    previous = "x"
    for index in range(width):
        lines.append(f"  t{index} = Identity({previous})")
        previous = f"t{index}"
    lines.append(f"  y = Relu({previous})")
    model = ir.from_onnx_text(CHAIN_TEXT.format(body="\n".join(lines)))
    for index, node in enumerate(model.graph):
        node.name = f"n{index}" if index < width else "act"
    ir.save(model, str(path))
    return path


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    """A 4-writer chain model file."""
    return chain_model(tmp_path / "chain.onnx")


def _pg_database() -> Iterator[str]:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {str(exc.orig).strip().splitlines()[0]}")
    name = f"modelps_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test module, dropped afterwards."""
    yield from _pg_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL: a fresh SQLite file, or the module's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sessions.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[object]:
    """An open :class:`SessionStore` with a private blob folder."""
    from modelps.sessions import SessionStore

    with SessionStore(db_url, blob_dir=tmp_path / "blobs") as opened:
        yield opened


@pytest.fixture
def make_chain(tmp_path: Path):  # noqa: ANN201
    """Build a chain model with ``width`` writer nodes: ``make_chain(width) -> path``."""
    return lambda width=4: chain_model(tmp_path / f"chain{width}.onnx", width)
