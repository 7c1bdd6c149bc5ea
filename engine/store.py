"""The store: the system of record (SQLite in WAL mode by default, PostgreSQL in production).

Every write goes through one writer thread that takes all the writes waiting and runs them in a
single transaction with a single commit (group commit): concurrent senders share an fsync
instead of each paying one.  If a batch fails, its writes are run again one by one so that one
bad write cannot fail its neighbours.  Reads run on a small thread pool; SQLite's WAL lets them
proceed while the writer commits.

Writes that enqueue work (engine/outbox.py) mark the queues they touched; after the commit the
store wakes whoever listens for those queues (the relay, the embedded broker).
"""

from __future__ import annotations

import asyncio
import logging
import queue
from collections import deque
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from hl7bridge.engine import migrate
from hl7bridge.engine.errors import StoreError
from hl7bridge.engine.futures import fail, resolve

T = TypeVar("T")
PIPELINE_PER_COMMIT = 64
log = logging.getLogger("hl7bridge.store")
WriteFn = Callable[[Connection], Any]
PG_CONNECT_TIMEOUT_SECS = 5
SWITCH_INTERVAL_SECS = 0.0005


CHECKPOINT_EVERY_SECS = 0.25
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024  # the WAL file is cut back to this after each reset


def _sqlite_pragmas(engine: Engine, begin: str, *, autocheckpoint: bool = True) -> None:
    """WAL, full fsync on commit, and explicit BEGINs (pysqlite's own transaction handling is off)."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000", "temp_store=MEMORY"):
            cursor.execute(f"PRAGMA {pragma}")
        if not autocheckpoint:  # the store's checkpointer thread does it (see Store._checkpoint_loop)
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)


def make_engine(url: str, *, writer: bool, autocheckpoint: bool = True) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=1 if writer else 4, max_overflow=0 if writer else 8)
        _sqlite_pragmas(engine, "BEGIN IMMEDIATE" if writer else "BEGIN", autocheckpoint=autocheckpoint)
        return engine
    # a bounded connect: with the database unreachable (a partition), intake answers AE 207 instead of hanging
    return create_engine(url, pool_size=1 if writer else 4, pool_pre_ping=True,
                         connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_SECS})


class Store:
    """Connection handling, the group-committing writer, and the read pool."""

    def __init__(self, url: str, *, max_batch: int = 256, background_checkpoints: bool = False) -> None:
        self.url = url
        self.max_batch = max_batch
        self.is_sqlite = url.startswith("sqlite")
        # the engine's store (long-lived, busy): checkpoints on a thread of their own; the CLI's
        # short-lived stores keep SQLite's automatic checkpoints
        self._background_checkpoints = self.is_sqlite and background_checkpoints
        self._writer_engine = make_engine(url, writer=True, autocheckpoint=not self._background_checkpoints)
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()
        self._reader_engine = make_engine(url, writer=False)
        self._requests: queue.SimpleQueue[tuple[WriteFn, asyncio.Future[Any], bool] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="store-read")
        self._listeners: list[Callable[[set[str]], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: Connection | None = None  # the writer thread's own (see _writer_connection)
        self._read_local = threading.local()  # each read thread's own connection (SQLite)
        self._read_connections: list[Connection] = []
        self.commits = 0  # group commits so far; writes / commits is the batching factor
        self.writes = 0

    # lifecycle ---------------------------------------------------------------------------------
    def migrate(self) -> None:
        try:
            migrate.upgrade(self._writer_engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot create or upgrade the store schema ({type(exc).__name__})") from exc

    async def open(self) -> None:
        # The writer thread gives up the GIL inside every SQLite call and must win it back from the
        # event loop; at Python's default 5 ms switch interval each call can wait that long, which
        # capped intake at ~3,100-3,900 msg/s (16 connections); at 0.5 ms, 4,500-4,800.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_SECS))
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(self._readers, self.migrate)
        self._thread = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self._thread.start()
        if self._background_checkpoints:
            self._stop_checkpoints.clear()
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="store-checkpoint", daemon=True)
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        """SQLite: copy the WAL back into the database on this thread, not inside a commit.

        With automatic checkpoints the commit that crosses 1,000 WAL pages runs the checkpoint
        itself; with end-to-end traffic (transformed Bundles are tens of kB a message) that was a
        stall of 8-70 ms every fraction of a second, and any ACK waiting for that commit waited too
        (bench/store_floor.py: intake-write p99 8-68 ms -> 3.6-4.5 ms).  A PASSIVE checkpoint never
        blocks the writer or readers; the writer rewinds the WAL once a checkpoint has caught up."""
        import sqlite3

        path = self.url.split("///", 1)[-1]
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA busy_timeout=1000")
            while not self._stop_checkpoints.wait(CHECKPOINT_EVERY_SECS):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except Exception as exc:  # never let the thread die: the WAL would grow without end
                    log.warning("background checkpoint failed (%s); trying again", type(exc).__name__)
        finally:
            connection.close()

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._stop_checkpoints.set()
            await asyncio.get_running_loop().run_in_executor(None, self._checkpointer.join)
            self._checkpointer = None
        if self._thread is not None:
            self._requests.put(None)
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
            self._thread = None
        self._readers.shutdown(wait=True)
        for connection in self._read_connections:  # the read threads have ended
            connection.close()
        self._read_connections.clear()
        self._writer_engine.dispose()
        self._reader_engine.dispose()

    def on_enqueue(self, listener: Callable[[set[str]], None]) -> None:
        """Call ``listener(queues)`` on the event loop after each commit that enqueued work."""
        self._listeners.append(listener)

    # writes ------------------------------------------------------------------------------------
    async def write(self, fn: Callable[[Connection], T], *, urgent: bool = False) -> T:
        """Run ``fn(connection)`` inside the next group commit; return its result once committed.

        ``urgent`` writes (intake: a sender is waiting for its ACK) go into the next commit ahead of
        pipeline work, which takes at most ``PIPELINE_PER_COMMIT`` places per commit, so an ACK
        never waits behind a backlog of pipeline writes."""
        if self._thread is None:
            raise StoreError("the store is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._requests.put((fn, future, urgent))
        return await future

    def _write_loop(self) -> None:
        try:
            self._write_batches()
        finally:
            self._drop_connection()

    def _write_batches(self) -> None:
        backlog: deque[tuple[WriteFn, asyncio.Future[Any]]] = deque()  # pipeline writes waiting for room
        stopping = False
        while not (stopping and not backlog):
            incoming = [] if (backlog or stopping) else [self._requests.get()]
            while True:
                try:
                    incoming.append(self._requests.get_nowait())
                except queue.Empty:
                    break
            if None in incoming:
                stopping = True
            requests = [r for r in incoming if r is not None]
            batch = [(fn, future) for fn, future, urgent in requests if urgent]
            backlog.extend((fn, future) for fn, future, urgent in requests if not urgent)
            room = max(8, min(PIPELINE_PER_COMMIT, self.max_batch - len(batch)))  # pipeline never starves
            while backlog and room:
                batch.append(backlog.popleft())
                room -= 1
            if batch:
                self._run_batch(batch)

    def _run_batch(self, batch: list[tuple[WriteFn, asyncio.Future[Any]]]) -> None:
        enqueued: set[str] = set()
        try:
            connection = self._writer_connection()
        except Exception:  # no connection at all: every write of the batch fails alike, at once
            self._settle(batch, exc=self._translate())
            return
        try:
            with connection.begin():
                results = [fn(connection) for fn, _ in batch]
                enqueued |= connection.info.pop("enqueued", set())
            self.commits += 1
            self.writes += len(batch)
            if not self.is_sqlite:
                self._drop_connection()
        except Exception as exc:
            self._drop_connection()  # the next batch starts on a fresh connection, as before
            # a lost connection fails every write alike, so answer them all now; otherwise one write
            # was bad (a constraint, a bug): run them one by one so it cannot fail its neighbours
            lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
            if len(batch) > 1 and not lost:
                for item in batch:
                    self._run_batch([item])
                return
            self._settle(batch, exc=self._translate())
            return
        self._settle(batch, results=results)
        if enqueued:
            self._notify(enqueued)

    def _writer_connection(self) -> Connection:
        """SQLite: one connection for the writer's life (a pool checkout per batch cost ~140 us of
        the writer's CPU per commit).  PostgreSQL: a checkout per batch, so pool_pre_ping still
        replaces a connection the server dropped before it fails a batch."""
        if self._connection is None:
            self._connection = self._writer_engine.connect()
        return self._connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.close()
            except SQLAlchemyError:
                log.debug("writer connection did not close cleanly")

    @staticmethod
    def _translate() -> Exception:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, SQLAlchemyError):
            log.error("store write failed: %s", type(exc).__name__)
            error = StoreError(f"the store could not commit ({type(exc).__name__})")
            error.__cause__ = exc
            return error
        return exc  # type: ignore[return-value]

    def _settle(self, batch: list[tuple[WriteFn, asyncio.Future[Any]]], *,
                results: list[Any] | None = None, exc: Exception | None = None) -> None:
        assert self._loop is not None
        for index, (_, future) in enumerate(batch):
            if exc is not None:
                self._loop.call_soon_threadsafe(fail, future, exc)
            else:
                self._loop.call_soon_threadsafe(resolve, future, results[index] if results else None)

    def _notify(self, queues: set[str]) -> None:
        assert self._loop is not None
        for listener in self._listeners:
            self._loop.call_soon_threadsafe(listener, queues)

    # reads -------------------------------------------------------------------------------------
    async def read(self, fn: Callable[[Connection], T], *, single: bool = False) -> T:
        """Run ``fn(connection)`` in a read transaction on the pool.

        ``single``: ``fn`` runs one statement (the pipeline's prebuilt reads), which SQLite already
        runs on one consistent snapshot, so no explicit transaction is opened around it."""
        if self.is_sqlite:
            run = self._read_single if single else self._read_on_own_connection
        else:
            run = self.read_sync
        return await asyncio.get_running_loop().run_in_executor(self._readers, run, fn)

    def _read_single(self, fn: Callable[[Connection], T]) -> T:
        return self._read_on_own_connection(fn, transaction=False)

    def _read_on_own_connection(self, fn: Callable[[Connection], T], transaction: bool = True) -> T:
        """SQLite: each read thread keeps its connection (a pool checkout per read cost ~140 us of
        CPU, and the pipeline reads 4-5 times per message); each read is still its own transaction."""
        connection: Connection | None = getattr(self._read_local, "connection", None)
        try:
            if connection is None:
                connection = self._read_local.connection = self._reader_engine.connect()
                self._read_connections.append(connection)
            if not transaction:
                return fn(connection)
            with connection.begin():
                return fn(connection)
        except SQLAlchemyError as exc:
            self._drop_read_connection(connection)  # the next read starts on a fresh connection
            raise StoreError(f"the store could not answer ({type(exc).__name__})") from exc

    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        try:
            with self._reader_engine.connect() as connection:
                return fn(connection)
        except SQLAlchemyError as exc:
            raise StoreError(f"the store could not answer ({type(exc).__name__})") from exc

    def _drop_read_connection(self, connection: Connection | None) -> None:
        self._read_local.connection = None
        if connection is not None and connection in self._read_connections:
            self._read_connections.remove(connection)
            try:
                connection.close()
            except SQLAlchemyError:
                log.debug("read connection did not close cleanly")

    def write_sync(self, fn: Callable[[Connection], T]) -> T:
        """A write outside the engine's loop (CLI): its own transaction, no batching."""
        try:
            with self._writer_engine.begin() as connection:
                result = fn(connection)
                connection.info.pop("enqueued", None)
                return result
        except SQLAlchemyError as exc:
            raise StoreError(f"the store could not commit ({type(exc).__name__})") from exc

    def dispose(self) -> None:
        self._readers.shutdown(wait=False)
        self._writer_engine.dispose()
        self._reader_engine.dispose()


