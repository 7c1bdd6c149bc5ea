"""Hot-path statements run straight on the DB-API cursor of the store's own connection.

SQLAlchemy's execute costs tens of microseconds of Python per statement (execution context,
result proxy) -- more than SQLite takes to run an insert, and intake runs four statements per
message inside the single writer thread.  A ``FastStatement`` is a Core statement compiled once
per dialect; it runs in the caller's transaction (same DB-API connection), so atomicity and
durability are exactly those of the surrounding store write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement


class FastStatement:
    def __init__(self, statement: ClauseElement, keys: Sequence[str] | None = None) -> None:
        self.statement, self.keys = statement, list(keys) if keys is not None else None
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def _sql(self, connection: Connection) -> tuple[str, tuple[str, ...] | None]:
        dialect = connection.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=self.keys)
            order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
            found = self._compiled[dialect.name] = (compiled.string, order)
        return found

    def execute(self, connection: Connection, params: dict[str, Any]) -> Any:
        """Run with ``params`` (by bind name); returns the DB-API cursor (fetch from it for selects)."""
        sql, order = self._sql(connection)
        args = tuple(params[name] for name in order) if order is not None else params
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        dbapi_error = connection.dialect.loaded_dbapi.Error
        try:
            cursor.execute(sql, args)
        except dbapi_error as exc:  # the same SQLAlchemy exception types the store already translates
            raise DBAPIError.instance(sql, args, exc, dbapi_error, dialect=connection.dialect) from exc
        return cursor

    def execute_many(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Run once per parameter set in ``rows`` (DB-API executemany), in the caller's transaction."""
        if not rows:
            return
        sql, order = self._sql(connection)
        args = [tuple(r[name] for name in order) for r in rows] if order is not None else list(rows)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        dbapi_error = connection.dialect.loaded_dbapi.Error
        try:
            cursor.executemany(sql, args)
        except dbapi_error as exc:
            raise DBAPIError.instance(sql, args, exc, dbapi_error, dialect=connection.dialect) from exc
