"""MLLP (HL7 Minimal Lower Layer Protocol): framing, the listening source, and a client.

A frame is 0x0B, the message, 0x1C 0x0D.  The server is an ``asyncio.Protocol`` over a byte
buffer (cheaper per message than StreamReader); each connection handles its frames in order,
so a sender that pipelines gets its ACKs in the order it sent.  Frames larger than
``max_frame_bytes``, and senders that stall mid-frame or stay idle, are disconnected.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable

from hl7bridge.channels.spec import parse_host_port
from hl7bridge.connectors.base import SendResult
from hl7bridge.connectors.tls import client_context
from hl7bridge.engine.acks import decode_text, read_header, split_segments
from hl7bridge.engine.errors import DeliveryError, RejectedError
from hl7bridge.engine.retry import ack_outcome

START, END, CR = b"\x0b", b"\x1c", b"\r"
log = logging.getLogger("hl7bridge.mllp")

FrameHandler = Callable[[bytes, str], Awaitable[bytes | None]]


def frame(message: bytes) -> bytes:
    return START + message + END + CR


class FrameBuffer:
    """Accumulates bytes and yields complete frames; tolerant of noise between frames and a missing final CR."""

    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the frames completed.  Raises OverflowError when a frame grows too large."""
        self._buf += data
        frames: list[bytes] = []
        while True:
            start = self._buf.find(START)
            if start < 0:
                self._buf.clear()  # noise (whitespace, stray CR) between frames
                return frames
            end = self._buf.find(END, start + 1)
            if end < 0:
                if start:
                    del self._buf[:start]
                if len(self._buf) > self.max_frame_bytes + 1:
                    raise OverflowError("frame larger than max_frame_bytes")
                return frames
            if end - start - 1 > self.max_frame_bytes:
                raise OverflowError("frame larger than max_frame_bytes")
            frames.append(bytes(self._buf[start + 1:end]))
            skip = end + 2 if self._buf[end + 1:end + 2] == CR else end + 1
            del self._buf[:skip]

    @property
    def partial(self) -> bool:
        return bool(self._buf)


class MllpConnection(asyncio.Protocol):
    """One sender's connection: frames in, one ACK out per frame, in order."""

    def __init__(self, handler: FrameHandler, max_frame_bytes: int, idle_timeout_secs: float,
                 receive_timeout_secs: float, connections: set["MllpConnection"]) -> None:
        self.handler = handler
        self.buffer = FrameBuffer(max_frame_bytes)
        self.idle_timeout_secs = idle_timeout_secs
        self.receive_timeout_secs = receive_timeout_secs
        self.connections = connections
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self._worker: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.connections.add(self)
        self._worker = asyncio.get_running_loop().create_task(self._process())
        self._arm_timer()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.buffer.feed(data)
        except OverflowError:
            log.warning("mllp peer=%s frame over the size limit; closing connection", self.peer)
            self.close()
            return
        for item in frames:
            self.queue.put_nowait(item)
        if self.queue.qsize() > 64 and self.transport is not None:
            self.transport.pause_reading()  # a pipelining sender waits for us
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        timeout = self.receive_timeout_secs if self.buffer.partial else self.idle_timeout_secs
        self._timer = asyncio.get_running_loop().call_later(timeout, self._timed_out)

    def _timed_out(self) -> None:
        if self.queue.empty():
            reason = "stalled mid-frame" if self.buffer.partial else "idle"
            log.info("mllp peer=%s %s; closing connection", self.peer, reason)
            self.close()
        else:
            self._arm_timer()

    async def _process(self) -> None:
        while True:
            message = await self.queue.get()
            if message is None:
                self.queue.task_done()
                return
            try:
                ack = await self.handler(message, self.peer)
            except Exception:  # the handler answers NAKs itself; this is a bug guard
                log.exception("mllp peer=%s handler failed; closing connection", self.peer)
                self.close()
                ack = None
            finally:
                self.queue.task_done()
            if self.transport is None or self.transport.is_closing():
                continue
            if ack is not None:
                self.transport.write(frame(ack))
            if self.queue.qsize() < 16:
                self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self._closing:
            self._closing = True
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.connections.discard(self)
        # frames already received are still stored (never dropped); then the worker ends
        self.queue.put_nowait(None)

    async def drain(self) -> None:
        """Wait until every frame received so far has been answered."""
        if self._worker is not None and not self._worker.done():
            await self.queue.join()


class MllpServer:
    """Listens on host:port and passes each frame to ``handler``; the reply, if any, is framed back."""

    def __init__(self, host: str, port: int, handler: FrameHandler, *, ssl_context: ssl.SSLContext | None = None,
                 max_frame_bytes: int = 8_388_608, idle_timeout_secs: float = 300,
                 receive_timeout_secs: float = 30) -> None:
        self.host, self.port, self.handler, self.ssl_context = host, port, handler, ssl_context
        self.max_frame_bytes = max_frame_bytes
        self.idle_timeout_secs = idle_timeout_secs
        self.receive_timeout_secs = receive_timeout_secs
        self.connections: set[MllpConnection] = set()
        self._server: asyncio.base_events.Server | None = None

    def _protocol(self) -> MllpConnection:
        return MllpConnection(self.handler, self.max_frame_bytes, self.idle_timeout_secs,
                              self.receive_timeout_secs, self.connections)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port, ssl=self.ssl_context,
                                                reuse_address=True, backlog=512)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self, grace_secs: float = 10.0) -> None:
        """Stop accepting, let each connection finish the frames it has, then close them."""
        if self._server is not None:
            self._server.close()
        pending = [c.drain() for c in list(self.connections)]
        if pending:
            await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), grace_secs)
        for connection in list(self.connections):
            connection.close()


class MllpClient:
    """A sending-side MLLP connection: one message in flight, its ACK awaited with a timeout."""

    def __init__(self, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None,
                 timeout_secs: float = 30.0, max_frame_bytes: int = 8_388_608) -> None:
        self.host, self.port, self.ssl_context, self.timeout_secs = host, port, ssl_context, timeout_secs
        self.max_frame_bytes = max_frame_bytes
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, ssl=self.ssl_context, limit=self.max_frame_bytes + 16),
                self.timeout_secs)
        except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
            raise DeliveryError(f"cannot connect to {self.host}:{self.port}", code="connect") from exc

    async def send(self, message: bytes) -> bytes:
        """Send one message and return the ACK's bytes (unframed).  Reconnects once if the peer closed."""
        async with self._lock:
            if self._writer is None or self._writer.is_closing():
                await self.connect()
            try:
                return await self._exchange(message)
            except DeliveryError:
                await self.close()
                raise

    async def _exchange(self, message: bytes) -> bytes:
        assert self._reader is not None and self._writer is not None
        try:
            self._writer.write(frame(message))
            await self._writer.drain()
            data = await asyncio.wait_for(self._reader.readuntil(END), self.timeout_secs)
        except asyncio.TimeoutError as exc:
            raise DeliveryError("no ACK within the timeout", code="timeout") from exc
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError) as exc:
            raise DeliveryError("connection lost before the ACK", code="connection") from exc
        start = data.find(START)  # the previous frame's trailing CR, if any, is left before it
        return bytes(data[start + 1:-1])

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (OSError, ssl.SSLError):
                pass
        self._reader = self._writer = None


class MllpDestination:
    """Sends to a LIS/RIS over MLLP on one persistent connection; the peer's ACK decides the outcome.

    MSA-2 must echo the sent MSH-10; ``ack_rules`` maps AA/AE/AR/CA/CE/CR/timeout to success,
    retry or dead_letter (defaults: AA/CA success, AE/CE and timeouts retried, AR/CR dead letter).
    """

    def __init__(self, spec: object) -> None:
        host, port = parse_host_port(getattr(spec, "endpoint"))
        tls = getattr(spec, "tls")
        context = client_context(ca=tls.client_ca, cert=tls.cert, key=tls.key, verify=tls.verify) if tls else None
        self.rules: dict[str, str] = dict(getattr(spec, "ack_rules"))
        self.client = MllpClient(host, port, ssl_context=context, timeout_secs=getattr(spec, "timeout_secs"))

    async def send(self, payload: bytes, context: object) -> SendResult:
        control_id = read_header(payload).control_id
        try:
            ack = await self.client.send(payload)
        except DeliveryError as exc:
            if exc.code == "timeout" and ack_outcome("timeout", self.rules) == "dead_letter":
                raise RejectedError("no ACK within the timeout", code="timeout") from exc
            raise
        code, echoed = _read_msa(split_segments(decode_text(ack)))
        if echoed != control_id:
            raise DeliveryError("ACK does not acknowledge the sent message (MSA-2 mismatch)", code="msa-2")
        outcome = ack_outcome(code, self.rules)
        if outcome == "retry":
            raise DeliveryError(f"peer answered {code}", code=code)
        if outcome == "dead_letter":
            raise RejectedError(f"peer answered {code}", code=code)
        return SendResult(code, ack)

    async def close(self) -> None:
        await self.client.close()


def _read_msa(segments: list[str]) -> tuple[str, str]:
    for segment in segments:
        if segment.startswith("MSA"):
            fields = segment.split(segment[3]) if len(segment) > 3 else []
            return (fields[1] if len(fields) > 1 else ""), (fields[2] if len(fields) > 2 else "")
    return "", ""
