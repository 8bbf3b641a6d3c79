"""API keys: their SHA-256 digests, owners, roles, expiry and revocation.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

Only the digest of each key is stored (unique: a request finds its key with one lookup).
Frozen: the types are spelled out here, not imported from ``tables.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# timestamptz on PostgreSQL; integer microseconds since the epoch on SQLite.
TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text(), primary_key=True),
        sa.Column("digest", sa.Text(), nullable=False, unique=True),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("expires", TIMESTAMP),
        sa.Column("revoked", TIMESTAMP),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
