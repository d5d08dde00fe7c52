"""The session store's tables (SQLAlchemy Core); migrations in ``migrations/`` create them.

Change a table only together with a new migration script under ``migrations/versions``.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "ROLES",
    "SCHEMA_HEAD",
    "blobs",
    "comments",
    "members",
    "metadata",
    "revisions",
    "sessions",
    "snapshots",
    "users",
]

SCHEMA_HEAD = "0002"
"""The newest migration's revision id; the store upgrades to it on open."""

ROLES = ("owner", "editor", "viewer")

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("base_sha256", sa.String(64), nullable=False),
    sa.Column("base_blob", sa.String(64), nullable=False),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

members = sa.Table(
    "members",
    metadata,
    sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.CheckConstraint("role in ('owner', 'editor', 'viewer')", name="ck_members_role"),
)

revisions = sa.Table(
    "revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("parent", sa.Integer, nullable=True),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("edit", sa.Text, nullable=True),
    sa.Column("target", sa.Integer, nullable=True),
    sa.Column("message", sa.Text, nullable=True),
    sa.UniqueConstraint("session_id", "number", name="uq_revisions_session_number"),
    sa.CheckConstraint("kind in ('create', 'edit', 'undo', 'checkout')", name="ck_revisions_kind"),
)

comments = sa.Table(
    "comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revision", sa.Integer, nullable=True),
    sa.Column("node", sa.String(1000), nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Index("ix_comments_session", "session_id"),
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
)

blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
"""Base models kept in the database (PostgreSQL by default) so every client can fetch them."""
