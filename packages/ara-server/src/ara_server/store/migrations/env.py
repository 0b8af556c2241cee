"""Alembic environment: migrations run on a connection handed in by ara-server."""

from alembic import context

from ara_server.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
