"""Alembic environment: migrations run on the connection the store hands over.

The store opens the database itself and calls ``command.upgrade`` with the live connection
in ``config.attributes["connection"]`` (see ``store.database``), so there is no ini file and
no URL here.
"""

from __future__ import annotations

from alembic import context

from omnitrade_tui.store.tables import METADATA

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=METADATA,
    # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
