"""Search latency on a store of 1,000,000 messages (issue 3): `make bench-search`.

Seeds a synthetic store (SQLite, and PostgreSQL when reachable) with the shape a busy hospital
produces in a month: 12 channels, 30 message types, 200,000 patients, a few percent errored or
dead-lettered, one delivery per message.  Then times the filtered lists operators run, through
the same code the CLI uses (engine/queries.list_messages, 50 rows a page), and reports p50/p95.
Writes bench/results/search_latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hl7bridge.engine.queries import MessageFilter, list_messages
from hl7bridge.engine.store import Store

CHANNELS = [f"channel_{i:02d}" for i in range(12)]
TYPES = [("ADT", e) for e in ("A01", "A02", "A03", "A04", "A08", "A11", "A13", "A31", "A40")] + \
        [("ORU", "R01")] * 12 + [("ORM", "O01")] * 4 + [("SIU", "S12"), ("SIU", "S14"), ("DFT", "P03"),
                                                      ("RDE", "O11"), ("MDM", "T02")]
STATUSES = ["DELIVERED"] * 90 + ["FILTERED"] * 5 + ["ERRORED"] * 2 + ["DEAD_LETTERED"] + ["QUEUED"] * 2
SENDERS = [f"APP{i}" for i in range(20)]
RESULTS = Path(__file__).resolve().parent / "results"


def rows(count: int, now: float, rng: random.Random) -> Any:
    span = 30 * 86400
    for n in range(count):
        mtype, event = rng.choice(TYPES)
        status = rng.choice(STATUSES)
        mid = f"{n:026d}"
        received = now - span + span * n / count
        error = "PID-7: invalid date" if status == "ERRORED" else None
        yield (mid, CHANNELS[n % len(CHANNELS)], received, received, "mllp", mtype, event, f"C{n}",
               rng.choice(SENDERS), "HOSP", "2.5.1", f"P{rng.randrange(200_000)}", status, error, None, "h" * 64,
               "00000000-0000-0000-0000-000000000000", 512, None, None, None)


COLUMNS = ("id, channel, received_at, updated_at, source, message_type, trigger_event, control_id, sending_app, "
           "sending_facility, version, patient_id, status, error, error_location, content_hash, correlation_id, "
           "size_bytes, ack, replay_of, content_pruned_at")


def seed(store: Store, count: int) -> float:
    started, rng, now = time.perf_counter(), random.Random(42), time.time()
    raw = store._writer_engine.raw_connection()  # bulk load: the DB-API directly, outside the engine's writer
    try:
        cursor = raw.cursor()
        placeholders = ", ".join(["?" if store.is_sqlite else "%s"] * 21)
        batch: list[tuple[Any, ...]] = []
        deliveries: list[tuple[Any, ...]] = []
        if store.is_sqlite:
            cursor.execute("BEGIN")
        for row in rows(count, now, rng):
            batch.append(row)
            dstatus = {"FILTERED": None, "ERRORED": None}.get(row[12], row[12])
            if dstatus:
                deliveries.append((f"D{row[0][1:]}", row[0], row[1], f"dest_{int(row[0]) % 3}", dstatus, 1,
                                   f"k{row[0]}", row[2], row[2], "503" if dstatus == "DEAD_LETTERED" else "200",
                                   "HTTP 503" if dstatus == "DEAD_LETTERED" else None))
            if len(batch) >= 20_000:
                flush(cursor, placeholders, batch, deliveries, store.is_sqlite)
        flush(cursor, placeholders, batch, deliveries, store.is_sqlite)
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def flush(cursor: Any, placeholders: str, batch: list[Any], deliveries: list[Any], sqlite: bool) -> None:
    cursor.executemany(f"INSERT INTO messages ({COLUMNS}) VALUES ({placeholders})", batch)
    mark = "?" if sqlite else "%s"
    cursor.executemany("INSERT INTO deliveries (id, message_id, channel, destination, status, attempts, "
                       "idempotency_key, created_at, updated_at, last_code, last_error) VALUES "
                       f"({', '.join([mark] * 11)})", deliveries)
    batch.clear()
    deliveries.clear()


def queries(store: Store) -> dict[str, Callable[[], MessageFilter]]:
    rng = random.Random(7)
    middle = store.read_sync(lambda c: c.exec_driver_sql(
        "SELECT id FROM messages ORDER BY received_at DESC LIMIT 1 OFFSET 1000").scalar_one())
    return {
        "channel": lambda: MessageFilter(channel=rng.choice(CHANNELS), limit=50),
        "channel+status": lambda: MessageFilter(channel=rng.choice(CHANNELS), status="DEAD_LETTERED", limit=50),
        "patient": lambda: MessageFilter(patient_id=f"P{rng.randrange(200_000)}", limit=50),
        "control_id": lambda: MessageFilter(control_id=f"C{rng.randrange(1_000_000)}", limit=50),
        "type+since 2h": lambda: MessageFilter(message_type="ADT^A08", since_secs=7200, limit=50),
        "status+since 7d": lambda: MessageFilter(status="ERRORED", since_secs=7 * 86400, limit=50),
        "sender": lambda: MessageFilter(sender=rng.choice(SENDERS), limit=50),
        "destination+status": lambda: MessageFilter(destination="dest_1", status="DEAD_LETTERED", limit=50),
        "page 21 (cursor)": lambda: MessageFilter(channel=None, before=middle, limit=50),
        "type+time range": lambda: MessageFilter(message_type="ORU", from_ts=time.time() - 10 * 86400,
                                                 until_ts=time.time() - 9 * 86400, limit=50),
    }


def measure(store: Store, runs: int) -> dict[str, dict[str, float]]:
    out = {}
    for name, make in queries(store).items():
        timings = []
        for _ in range(runs):
            flt = make()
            started = time.perf_counter()
            store.read_sync(lambda c: list_messages(c, flt))
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        out[name] = {"p50_ms": round(statistics.median(timings), 2),
                     "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2)}
    return out


def run_backend(label: str, url: str, count: int, runs: int) -> dict[str, Any]:
    store = Store(url)
    store.migrate()
    seconds = seed(store, count)
    result = {"messages": count, "seed_secs": round(seconds, 1), "queries": measure(store, runs)}
    result["worst_p95_ms"] = max(q["p95_ms"] for q in result["queries"].values())
    store.dispose()
    print(f"\n{label}: {count:,} messages seeded in {seconds:.0f}s")
    for name, q in result["queries"].items():
        print(f"  {name:<22} p50 {q['p50_ms']:>8.2f} ms   p95 {q['p95_ms']:>8.2f} ms")
    return result


def postgres_url() -> str | None:
    try:
        import psycopg

        admin = "postgresql://postgres@127.0.0.1:5432/test"
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute("DROP DATABASE IF EXISTS hl7b_search_bench WITH (FORCE)")
            conn.execute("CREATE DATABASE hl7b_search_bench")
        return "postgresql+psycopg://postgres@127.0.0.1:5432/hl7b_search_bench"
    except Exception:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--workdir", default="var/bench")
    args = parser.parse_args()
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    db = Path(args.workdir) / "search.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    report: dict[str, Any] = {"sqlite": run_backend("SQLite", f"sqlite:///{db}", args.messages, args.runs)}
    url = postgres_url()
    if url:
        report["postgresql"] = run_backend("PostgreSQL", url, args.messages, args.runs)
    else:
        print("\nPostgreSQL not reachable: skipped")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "search_latest.json").write_text(json.dumps(report, indent=2))
    os.sync()


if __name__ == "__main__":
    main()
