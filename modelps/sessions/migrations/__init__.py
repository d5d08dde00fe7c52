"""Alembic migrations of the session store, run programmatically by :func:`modelps.sessions.db.upgrade`."""
