"""Alembic environment: runs on the connection ``dpr.adapters.sql.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from dpr.adapters.sql.tables import metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run dpr's migrations through dpr.adapters.sql.migrate (or `dpr db upgrade`)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: future revisions use batch operations there.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
