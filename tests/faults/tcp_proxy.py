"""A small TCP proxy for fault tests: sits between the engine and a shared service (RabbitMQ,
PostgreSQL) so a test can cut the link without stopping the service everyone else uses.

It runs its own asyncio loop on a thread, so blocking tests drive it with plain calls:
``cut()`` drops every current connection and refuses (or stalls) new ones; ``restore()`` lets
connections through again.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

OPEN, REFUSE, STALL = "open", "refuse", "stall"


class TcpProxy:
    """Listens on 127.0.0.1:<free port> and forwards each connection to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = OPEN
        self.port = 0
        self.forwarded = 0  # connections passed through to the target
        self.refused = 0  # connections turned away while cut (proof that the peer tried again)
        self.stalled = 0  # connections accepted and left hanging while cut
        self._links: set[asyncio.StreamWriter] = set()  # both ends of every open link, stalled ones too
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def start(self) -> "TcpProxy":
        self._thread.start()
        self._call(self._listen())
        return self

    def cut(self, then: str = REFUSE) -> None:
        """Drop every open connection (RST); new ones are then refused or stalled (``then``)."""
        self._call(self._set_mode(then, drop=True))

    def restore(self) -> None:
        """Forward new connections again (stalled ones are dropped so their peers reconnect)."""
        self._call(self._set_mode(OPEN, drop=True))

    def close(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _set_mode(self, mode: str, *, drop: bool) -> None:
        self.mode = mode
        if drop:
            for writer in list(self._links):
                writer.transport.abort()
            self._links.clear()

    async def _shutdown(self) -> None:
        await self._set_mode(REFUSE, drop=True)
        if self._server is not None:
            self._server.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == REFUSE:
            self.refused += 1
            writer.transport.abort()
            return
        self._links.add(writer)
        if self.mode == STALL:
            self.stalled += 1
            return  # accepted, never answered: the peer hangs until its own timeout or a cut
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._drop(writer)
            return
        self.forwarded += 1
        self._links.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._drop(writer)

    def _drop(self, writer: asyncio.StreamWriter) -> None:
        self._links.discard(writer)
        writer.transport.abort()
