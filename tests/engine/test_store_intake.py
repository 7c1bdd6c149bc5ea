"""The store's group commit and intake's ACK rules, on a real SQLite store (no sockets)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from hl7bridge.engine import ledger
from hl7bridge.engine.errors import StoreError
from hl7bridge.engine.intake import HL7Intake
from hl7bridge.engine.store import Store
from hl7b_testkit import hl7, msa, segment


@pytest.fixture()
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(f"sqlite:///{tmp_path}/store.db")
    await s.open()
    yield s
    await s.close()


def count(store: Store, sql: str) -> int:
    return store.read_sync(lambda c: c.execute(text(sql)).scalar_one())


async def test_concurrent_intake_shares_commits(store: Store) -> None:
    intake = HL7Intake(store, "adt")
    acks = await asyncio.gather(*(intake.receive(hl7(f"G{i}")) for i in range(200)))
    assert all(msa(a)[0] == "AA" for a in acks)
    assert count(store, "select count(*) from messages") == 200
    assert store.commits < 100  # 200 writes in far fewer transactions: senders share fsyncs


async def test_a_failing_write_does_not_fail_the_writes_batched_with_it(store: Store) -> None:
    def bad(connection: object) -> None:
        connection.execute(text("insert into no_such_table values (1)"))  # type: ignore[attr-defined]

    good = [store.write(lambda c, i=i: c.execute(text(
        "insert into outbox (queue, body, headers, created_at, available_at, delivery_count) "
        f"values ('q', x'00', '{{}}', 0, 0, 0)"))) for i in range(10)]
    results = await asyncio.gather(store.write(bad), *good, return_exceptions=True)
    assert isinstance(results[0], StoreError) and "OperationalError" in str(results[0])
    assert all(not isinstance(r, Exception) for r in results[1:])
    assert count(store, "select count(*) from outbox where queue = 'q'") == 10


async def test_the_positive_ack_is_stored_with_the_message_and_sent_again_for_a_duplicate(store: Store) -> None:
    intake = HL7Intake(store, "adt")
    first = await intake.receive(hl7("D1"))
    again = await intake.receive(hl7("D1"))
    assert first == again and msa(first) == ("AA", "D1")
    assert count(store, "select count(*) from messages") == 1
    assert count(store, "select count(*) from outbox where queue = 'adt'") == 1  # routed once
    assert intake.stats.duplicates == 1


async def test_a_message_with_a_bad_header_is_stored_as_errored_and_rejected(store: Store) -> None:
    intake = HL7Intake(store, "adt")
    nak = await intake.receive(hl7("E1", message_type=""))
    assert msa(nak) == ("AR", "E1") and segment(nak, "ERR")[3].startswith("101^")
    rows = store.read_sync(lambda c: c.execute(text("select status, error_location from messages")).all())
    assert [tuple(r) for r in rows] == [("ERRORED", "MSH-9")]
    assert count(store, "select count(*) from outbox") == 0  # kept for replay, not routed
    assert count(store, "select count(*) from contents where kind = 'raw'") == 1


async def test_when_the_store_cannot_commit_the_sender_gets_ae_207_never_aa(store: Store,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(fn: object, **_: object) -> None:
        raise StoreError("the store could not commit (OperationalError)")

    monkeypatch.setattr(store, "write", broken)
    ack = await HL7Intake(store, "adt").receive(hl7("S1"))
    assert msa(ack) == ("AE", "S1") and segment(ack, "ERR")[3].startswith("207^")


async def test_enhanced_mode_is_answered_with_commit_acks(store: Store) -> None:
    intake = HL7Intake(store, "adt")
    assert msa(await intake.receive(hl7("C1", accept_ack="AL")))[0] == "CA"
    assert await intake.receive(hl7("C2", accept_ack="NE")) is None
    assert count(store, "select count(*) from messages") == 2  # stored even when no ACK is wanted


async def test_a_batch_is_split_and_each_message_stored(store: Store) -> None:
    body = b"".join(hl7(f"B{i}") for i in range(3))
    batch = b"FHS|^~\\&|A\rBHS|^~\\&|A\r" + body + b"BTS|3\rFTS|1\r"
    reply = await HL7Intake(store, "adt").receive(batch)
    assert reply is not None and reply.count(b"MSA|AA|") == 3
    assert count(store, "select count(*) from messages") == 3


async def test_message_status_follows_its_deliveries(store: Store) -> None:
    intake = HL7Intake(store, "adt")
    await intake.receive(hl7("M1"))
    message_id = store.read_sync(lambda c: c.execute(text("select id from messages")).scalar_one())
    ids = await store.write(lambda c: ledger.queue_deliveries(c, message_id, "adt", ["a", "b"], b"x", "text/plain"))
    delivery = lambda i: store.read_sync(lambda c: ledger.load_delivery(c, i))[0]  # noqa: E731
    status = lambda: store.read_sync(lambda c: ledger.load_message(c, message_id)).status  # noqa: E731
    assert status() == "QUEUED"
    await store.write(lambda c: ledger.record_attempt(c, delivery(ids[0]), ledger.AttemptResult("success", "200", None, 1)))
    assert status() == "QUEUED"
    await store.write(lambda c: ledger.record_attempt(c, delivery(ids[1]), ledger.AttemptResult("dead_letter", "400", "HTTP 400", 1)))
    assert status() == "DEAD_LETTERED"


async def test_intake_writes_are_committed_ahead_of_a_pipeline_backlog(store: Store) -> None:
    import threading

    gate, busy = threading.Event(), threading.Event()
    order: list[str] = []

    def hold(connection: object) -> None:
        busy.set()
        gate.wait(10)  # the writer is busy with this batch while the rest queue up

    def record(name: str):  # type: ignore[no-untyped-def]
        return lambda connection: order.append(name)

    first = asyncio.ensure_future(store.write(hold))
    assert await asyncio.to_thread(busy.wait, 10)  # the writer is inside the blocking write
    pipeline = [asyncio.ensure_future(store.write(record(f"p{i}"))) for i in range(200)]
    intake = asyncio.ensure_future(store.write(record("intake"), urgent=True))
    await asyncio.sleep(0)  # one loop turn: every write above is queued (no timing involved)
    gate.set()
    await asyncio.gather(first, intake, *pipeline)
    assert order.index("intake") < 64  # in the first commit after the busy one, not behind 200 writes
    assert sorted(order) == sorted(["intake"] + [f"p{i}" for i in range(200)])


async def test_a_single_statement_read_leaves_no_snapshot_behind(store: Store) -> None:
    """The pipeline's prebuilt reads run outside an explicit transaction; the next read on the same
    connection must still see what was committed since (an unfinished statement would pin it)."""
    intake = HL7Intake(store, "adt")
    assert msa(await intake.receive(hl7("SNAP1")))[0] == "AA"
    message_id = store.read_sync(lambda c: c.execute(text("select id from messages")).scalar_one())
    # same thread, same connection: first the single-statement read, then an ordinary read
    row, raw = store._read_single(lambda c: ledger.load_work(c, message_id))
    assert row is not None and row.status == "RECEIVED" and raw is not None and raw.body.startswith(b"MSH|")
    await store.write(lambda c: ledger.set_status(c, message_id, ledger.FILTERED))
    again, _ = store._read_single(lambda c: ledger.load_work(c, message_id))
    assert again is not None and again.status == "FILTERED"
    status = store._read_on_own_connection(lambda c: c.execute(
        text("select status from messages where id = :i"), {"i": message_id}).scalar_one())
    assert status == "FILTERED"


async def test_the_engines_store_checkpoints_on_its_own_thread_not_inside_commits(tmp_path: Path) -> None:
    """The writer runs with automatic checkpoints off (a commit never pays for copying the WAL back);
    the checkpoint thread copies it into the database file while the writes go on."""
    store = Store(f"sqlite:///{tmp_path}/bg.db", background_checkpoints=True)
    await store.open()
    try:
        await store.write(lambda c: c.execute(text("create table t (id integer primary key, body blob)")))
        assert await store.write(lambda c: c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()) == 0
        body = os.urandom(32_000)
        for _ in range(20):
            await asyncio.gather(*(store.write(lambda c: c.execute(text("insert into t (body) values (:b)"), {"b": body}))
                                   for _ in range(50)))

        async def copied_back() -> None:  # 1,000 rows of 32 kB reach the database file itself
            while os.path.getsize(tmp_path / "bg.db") < 1_000 * 32_000:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(copied_back(), 30)
    finally:
        await store.close()


async def test_a_cli_store_keeps_sqlites_automatic_checkpoints(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/cli.db")
    assert store.write_sync(lambda c: c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()) == 1000
