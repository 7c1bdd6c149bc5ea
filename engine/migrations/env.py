"""Alembic environment: run with the connection the store hands over (see engine/migrate.py)."""

from alembic import context

from hl7bridge.engine.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
