"""The file source: files are stored first, then moved to processed/ or error/."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import text

from hl7bridge.connectors.file_source import FileSource
from hl7bridge.engine.store import Store
from hl7b_testkit import hl7


async def wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), timeout)


async def test_files_are_stored_then_moved_and_unreadable_ones_go_to_error(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/s.db")
    await store.open()
    inbox = tmp_path / "inbox"
    spec = SimpleNamespace(directory=str(inbox), format="hl7v2", pattern="*.hl7", poll_interval_secs=0.05)
    source = FileSource(store, "adt", spec, tmp_path)
    await source.start()
    (inbox / "two.hl7").write_bytes(hl7("F1") + hl7("F2"))
    (inbox / "bad.hl7").write_bytes(b"this is not HL7")
    (inbox / "ignored.txt").write_bytes(hl7("F3"))
    await wait_for(lambda: (inbox / "processed" / "two.hl7").exists() and (inbox / "error" / "bad.hl7").exists())
    rows = await store.read(lambda c: c.execute(text("select control_id, status, source from messages "
                                                     "order by control_id")).all())
    assert [tuple(r) for r in rows] == [("", "ERRORED", "file"), ("F1", "RECEIVED", "file"),
                                        ("F2", "RECEIVED", "file")]
    assert (inbox / "ignored.txt").exists()  # not matching the pattern
    await source.stop()
    await store.close()


async def test_a_file_stays_in_place_when_the_store_cannot_commit(tmp_path: Path) -> None:
    from hl7bridge.engine.errors import StoreError

    store = Store(f"sqlite:///{tmp_path}/s.db")
    await store.open()

    async def broken(fn: object, **_: object) -> None:
        raise StoreError("the store could not commit (OperationalError)")

    inbox = tmp_path / "inbox"
    spec = SimpleNamespace(directory=str(inbox), format="hl7v2", pattern="*", poll_interval_secs=60)
    source = FileSource(store, "adt", spec, tmp_path)
    await source.start()
    await source.stop()
    path = inbox / "one.hl7"
    path.write_bytes(hl7("K1"))
    store.write = broken  # type: ignore[method-assign]
    assert await source.take(path) is False and path.exists()
    await store.close()


async def test_an_unreadable_ccda_file_is_stored_as_errored_and_moved_to_error(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/s.db")
    await store.open()
    inbox = tmp_path / "inbox"
    spec = SimpleNamespace(directory=str(inbox), format="ccda", pattern="*.xml", poll_interval_secs=60)
    source = FileSource(store, "docs", spec, tmp_path)
    await source.start()
    await source.stop()
    bad = inbox / "laughs.xml"
    bad.write_bytes(b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]><ClinicalDocument>&a;</ClinicalDocument>')
    assert await source.take(bad) is True and (inbox / "error" / "laughs.xml").exists()
    rows = await store.read(lambda c: c.execute(text("select status, error_location from messages")).all())
    assert [tuple(r) for r in rows] == [("ERRORED", "DOCTYPE")]
    await store.close()
