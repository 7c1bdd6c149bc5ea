"""The store's floor under S4's ACK latency: an intake-sized urgent write's latency while pipeline
writes of S4's size (a transformed Bundle, ~30 kB) go in at the same rate, on the engine's own Store
(SQLite, WAL, synchronous=FULL, group commit) -- no sockets, broker or transforms.  S4's ACK p99 at
300 msg/s cannot be lower than this write's p99: an ACK waits for the commit its message is in."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from typing import Any

from sqlalchemy import text

from hl7bridge.bench.common import percentiles
from hl7bridge.engine.store import Store


async def _measure(rate: float, secs: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hl7b-floor-") as tmp:
        store = Store(f"sqlite:///{tmp}/store.db", background_checkpoints=True)  # as the engine opens it
        await store.open()
        try:
            await store.write(lambda c: c.execute(text("create table t (id integer primary key, body blob)")))
            small, big = os.urandom(3_000), os.urandom(30_000)
            latencies: list[float] = []

            async def intake() -> None:
                started = time.perf_counter()
                await store.write(lambda c: c.execute(text("insert into t (body) values (:b)"), {"b": small}),
                                  urgent=True)
                latencies.append((time.perf_counter() - started) * 1000.0)

            async def pipeline() -> None:
                await store.write(lambda c: c.execute(text("insert into t (body) values (:b)"), {"b": big}))

            tasks: list[asyncio.Future[None]] = []
            start = time.perf_counter()
            for i in range(int(rate * secs)):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing the offered rate, not synchronisation
                tasks += [asyncio.ensure_future(intake()), asyncio.ensure_future(pipeline())]
            await asyncio.gather(*tasks)
        finally:
            await store.close()
    return percentiles(latencies)


def run(quick: bool, rate: float = 300.0) -> dict[str, Any]:
    stats = asyncio.run(_measure(rate, 5.0 if quick else 20.0))
    return {"s4_store_floor_p50_ms_300": stats["p50"], "s4_store_floor_p99_ms_300": stats["p99"]}
