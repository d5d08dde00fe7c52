"""Alembic environment: runs on the connection handed over in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context

from modelps.sessions.schema import metadata


def run_migrations() -> None:
    """Run the pending migrations inside the caller's transaction."""
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # only when Alembic runs this file (not on a plain import)
    run_migrations()
