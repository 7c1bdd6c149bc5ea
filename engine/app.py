"""The running engine: store, broker, workers, sources and the health/metrics listener.

Start order: store (migrate) -> broker (declare topology; the relay starts) -> workers consume
-> sources listen.  Stop order (SIGTERM) is the reverse: stop intake first, answer what was
received, let running handlers finish, flush, close.  After a SIGKILL nothing is lost: ACKed
messages are in the store, unpublished work is in the outbox, unacked work comes back from
the broker.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web

from hl7bridge.channels.spec import Config, parse_host_port
from hl7bridge.connectors.base import Destination
from hl7bridge.connectors.mllp import MllpServer
from hl7bridge.connectors.registry import build_destination
from hl7bridge.connectors.tls import server_context
from hl7bridge.engine import ledger, outbox
from hl7bridge.engine.broker import Broker
from hl7bridge.engine.brokers.embedded import EmbeddedBroker
from hl7bridge.engine.brokers.names import channel_queue, destination_queue, topology
from hl7bridge.engine.intake import HL7Intake
from hl7bridge.engine.pipeline import ChannelWorker, DestinationWorker
from hl7bridge.engine.store import Store
from hl7bridge.engine.transform_pool import TransformPool, auto_workers

log = logging.getLogger("hl7bridge.engine")


def make_broker(config: Config, store: Store) -> Broker:
    if config.engine.broker == "embedded":
        return EmbeddedBroker(store)
    from hl7bridge.engine.brokers.rabbitmq import RabbitMQBroker

    return RabbitMQBroker(config.engine.broker, store, queue_type=config.engine.queue_type)


class Engine:
    def __init__(self, config: Config, *, config_dir: Path | None = None) -> None:
        self.config = config
        self.config_dir = config_dir or Path(".")
        self.store = Store(config.engine.store, max_batch=config.engine.group_commit_max, background_checkpoints=True)
        self.broker = make_broker(config, self.store)
        self.intakes: dict[str, HL7Intake] = {}
        self.servers: list[MllpServer] = []
        self.http_sources: dict[str, Any] = {}
        self.destination_workers: dict[tuple[str, str], DestinationWorker] = {}
        self.file_sources: list[Any] = []
        self.destinations: list[Destination] = []
        self._http: web.AppRunner | None = None
        self._stopped = asyncio.Event()
        self._pruner: asyncio.Task[None] | None = None
        self.prune_interval_secs = 3600.0
        self.ready = False
        workers = config.engine.transform_workers
        workers = auto_workers() if workers == "auto" else workers
        self.transform_pool = TransformPool(config, self.config_dir, workers) if workers else None

    async def start(self) -> None:
        await self.store.open()
        if self.store.is_sqlite:  # one process owns a SQLite store: no lease can be held
            await self.store.write(outbox.reset_claims)
        enabled = {n: c for n, c in self.config.channels.items() if c.enabled}
        if self.transform_pool is not None:
            await self.transform_pool.start()
        await self.broker.start(topology({n: list(c.destinations) for n, c in enabled.items()}))
        for name, spec in enabled.items():
            await self._start_workers(name, spec)
        for name, spec in enabled.items():
            await self._start_source(name, spec)
        await self._start_http()
        if any(c.retention.content_days is not None or c.retention.metadata_days is not None
               for c in enabled.values()):
            self._pruner = asyncio.get_running_loop().create_task(self._prune_periodically())
        self.ready = True
        log.info("engine started: %d channels, store=%s, broker=%s", len(enabled),
                 "sqlite" if self.store.is_sqlite else "postgresql", self.broker.name)

    async def _start_workers(self, name: str, spec: Any) -> None:
        worker = ChannelWorker(self.store, name, spec, self.config_dir, self.transform_pool)
        await self.broker.consume(channel_queue(name), worker.handle, prefetch=16)
        for dest_name, dest_spec in spec.destinations.items():
            if not dest_spec.enabled:
                continue
            destination = build_destination(dest_spec, self.store)
            self.destinations.append(destination)
            dest_worker = DestinationWorker(self.store, name, dest_name, dest_spec, destination)
            self.destination_workers[(name, dest_name)] = dest_worker
            await self.broker.consume(destination_queue(name, dest_name), dest_worker.handle,
                                      prefetch=dest_worker.prefetch)

    async def _start_source(self, name: str, spec: Any) -> None:
        source = spec.source
        if source.type == "http":
            from hl7bridge.connectors.http_source import HttpSource

            self.http_sources[name] = HttpSource(self.store, name, source)
            return
        if source.type == "file":
            from hl7bridge.connectors.file_source import FileSource

            watcher = FileSource(self.store, name, source, self.config_dir)
            self.file_sources.append(watcher)
            await watcher.start()
            return
        intake = HL7Intake(self.store, name, allowed_versions=frozenset(source.allowed_versions))
        self.intakes[name] = intake
        host, port = parse_host_port(source.listen)
        server = MllpServer(host, port, intake.receive, ssl_context=server_context(source.tls) if source.tls else None,
                            max_frame_bytes=source.max_frame_bytes, idle_timeout_secs=source.idle_timeout_secs,
                            receive_timeout_secs=source.receive_timeout_secs)
        await server.start()
        self.servers.append(server)
        log.info("channel=%s listening for MLLP on %s:%d%s", name, host, server.port, " (TLS)" if source.tls else "")

    async def _start_http(self) -> None:
        http = self.config.engine.http
        if http is None and not self.http_sources:
            return
        app = web.Application(client_max_size=max([s.spec.max_body_bytes for s in self.http_sources.values()] +
                                                  [1_048_576]) + 1)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/messages/{message_id}", self._message_status)
        for source in self.http_sources.values():
            app.router.add_post(source.spec.path, source.handle)
        self._http = web.AppRunner(app, access_log=None)
        await self._http.setup()
        host, port = parse_host_port(http.listen if http else "127.0.0.1:8080")
        tls = http.tls if http else None
        await web.TCPSite(self._http, host, port, ssl_context=server_context(tls) if tls else None).start()
        log.info("HTTP listening on %s:%d (%d source path(s))", host, port, len(self.http_sources))

    async def _message_status(self, request: web.Request) -> web.Response:
        """Per-destination status of a message posted over HTTP (ids, statuses, codes: no content)."""
        from hl7bridge.connectors.http_auth import AuthFailure
        from hl7bridge.engine.queries import show_message

        data = await self.store.read(lambda c: show_message(c, request.match_info["message_id"]))
        if data is None:
            return web.json_response({"error": "not found"}, status=404)
        source = self.http_sources.get(data["channel"])
        if source is not None and source.auth is not None:
            try:
                source.auth.authenticate(request.headers.get("Authorization"))
            except AuthFailure as failure:
                return web.json_response({"error": failure.reason}, status=401,
                                         headers={"WWW-Authenticate": "Bearer"})
        keep = ("id", "channel", "status", "received_at", "message_type", "correlation_id", "error_location")
        body = {k: data[k] for k in keep} | {"deliveries": [
            {k: d[k] for k in ("id", "destination", "status", "attempts", "last_code", "replay_of")}
            for d in data["deliveries"]]}
        return web.json_response(body)

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, _request: web.Request) -> web.Response:
        return web.json_response({"ready": self.ready}, status=200 if self.ready else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        counts = await self.store.read(ledger.count_by_status)
        lines = ["# TYPE hl7bridge_messages gauge"]
        lines += [f'hl7bridge_messages{{status="{s}"}} {n}' for s, n in sorted(counts.items())]
        lines += ["# TYPE hl7bridge_store_commits_total counter", f"hl7bridge_store_commits_total {self.store.commits}",
                  "# TYPE hl7bridge_store_writes_total counter", f"hl7bridge_store_writes_total {self.store.writes}"]
        for channel, intake in self.intakes.items():
            for key, value in asdict(intake.stats).items():
                lines.append(f'hl7bridge_intake_{key}_total{{channel="{channel}"}} {value}')
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    async def _prune_periodically(self) -> None:
        """Retention inside `run`: small batches through the writer, interleaved with intake's commits."""
        from hl7bridge.engine import audit, retention

        while True:
            try:
                plans = [p for p in await self.store.read(lambda c: retention.plans(c, self.config)) if p.count]
                for plan in plans:
                    while await self.store.write(lambda c, p=plan: retention.prune_batch(c, p)):
                        pass
                if plans:
                    summary = {f"{p.channel}:{p.kind}": p.count for p in plans}
                    await self.store.write(lambda c: audit.record(c, "hl7bridge-engine", "prune", [],
                                                                  {"pruned": summary}))
                    log.info("retention pruned %d message(s)", sum(p.count for p in plans))
            except Exception as exc:  # retention must never take the engine down
                log.warning("retention run failed (%s); next run in %.0fs", type(exc).__name__,
                            self.prune_interval_secs)
            await asyncio.sleep(self.prune_interval_secs)

    async def stop(self) -> None:
        """Graceful stop: no new intake, answer what was received, finish running work, flush."""
        self.ready = False
        if self._pruner is not None:
            self._pruner.cancel()
        for server in self.servers:
            await server.stop()
        for watcher in self.file_sources:
            await watcher.stop()
        for worker in self.destination_workers.values():
            worker.circuit.shutdown()  # sends waiting on a down destination give their work back
        await self.broker.stop_consuming()
        await self.broker.close()
        if self.transform_pool is not None:
            await self.transform_pool.close()
        for destination in self.destinations:
            await destination.close()
        if self._http is not None:
            await self._http.cleanup()
        await self.store.close()
        self._stopped.set()
        log.info("engine stopped")

    async def run_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        print("hl7bridge: engine ready", flush=True)
        await stop.wait()
        log.info("signal received; stopping")
        await self.stop()
