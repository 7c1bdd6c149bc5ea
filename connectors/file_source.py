"""File source: watch a folder; each file is stored, then moved to ``processed/`` or ``error/``.

A file is moved only after its messages are committed to the store, so a crash or a store
outage leaves it where it was to be picked up again (duplicates are recognised at intake).  A
file still being written (its size changed since the last look) waits for the next poll.
HL7v2 files may hold several messages or a batch; C-CDA and FHIR files hold one document.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import orjson

from hl7bridge.engine.errors import ParseError, StoreError
from hl7bridge.engine.intake import Document, DocumentIntake, HL7Intake
from hl7bridge.engine.store import Store

log = logging.getLogger("hl7bridge.file_source")


class FileSource:
    def __init__(self, store: Store, channel: str, spec: Any, config_dir: Path) -> None:
        self.channel, self.spec = channel, spec
        self.directory = Path(spec.directory)
        self.hl7 = HL7Intake(store, channel, source="file")
        self.documents = DocumentIntake(store, channel, source="file")
        self._sizes: dict[Path, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        for sub in ("", "processed", "error"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _watch(self) -> None:
        while True:
            for path in await asyncio.to_thread(self._ready_files):
                await self.take(path)
            try:
                await asyncio.wait_for(self._wake.wait(), self.spec.poll_interval_secs)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    def _ready_files(self) -> list[Path]:
        ready = []
        for path in sorted(self.directory.glob(self.spec.pattern)):
            if not path.is_file() or path.name.startswith("."):
                continue
            size = path.stat().st_size
            if self._sizes.get(path) == size:
                ready.append(path)
                self._sizes.pop(path, None)
            else:
                self._sizes[path] = size  # seen for the first time, or still growing
        return ready

    async def take(self, path: Path) -> bool:
        """Store one file's content; move it to processed/ (or error/ when unreadable). False: left in place."""
        data = await asyncio.to_thread(path.read_bytes)
        try:
            readable = await self._store(data)
        except StoreError:
            log.warning("channel=%s file left in place: the store is unavailable", self.channel)
            return False
        target = self.directory / ("processed" if readable else "error") / path.name
        await asyncio.to_thread(os.replace, path, target)
        log.info("channel=%s file %s -> %s", self.channel, path.name, target.parent.name)
        return True

    async def _store(self, data: bytes) -> bool:
        if self.spec.format == "hl7v2":
            return await self._store_hl7(data)
        if self.spec.format == "fhir":
            return await self._store_fhir(data)
        return await self._store_ccda(data)

    async def _store_hl7(self, data: bytes) -> bool:
        from hl7bridge.transforms.hl7v2.batch import split_batch

        try:
            messages = [m.encode("utf-8") for m in split_batch(data)]
        except ParseError:
            messages = [data]  # stored as ERRORED by intake, with its position
        readable = bool(messages)
        for message in messages:
            accepted = await self.hl7.accept(message, "file")
            if not accepted.stored:
                raise StoreError("the store could not commit")
            readable &= accepted.error is None  # an unreadable message is stored as ERRORED; its file goes to error/
        return readable

    async def _store_unreadable(self, data: bytes, content_type: str, error: ParseError) -> bool:
        """Keep an unreadable document too, as ERRORED with its position, for replay after a fix."""
        doc = Document(data, content_type, message_type="UNREADABLE")
        await self.documents.receive(doc, key=None, answer=lambda _id: (400, b""), error=error)
        return False

    async def _store_fhir(self, data: bytes) -> bool:
        try:
            resource = orjson.loads(data)
            kind = str(resource["resourceType"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return await self._store_unreadable(data, "application/fhir+json",
                                                ParseError("not a FHIR JSON resource", location="resourceType"))
        doc = Document(data, "application/fhir+json", message_type=kind[:16], control_id=str(resource.get("id", "")))
        await self.documents.receive(doc, key=None, answer=lambda _id: (201, b""))
        return True

    async def _store_ccda(self, data: bytes) -> bool:
        from hl7bridge.connectors.fhir_checks import describe_ccda
        from hl7bridge.transforms.xml_safety import parse_xml

        try:
            root = parse_xml(data)
        except ParseError as exc:
            return await self._store_unreadable(data, "application/xml", exc)
        doc = describe_ccda(root, data, None)
        if doc is None:
            return await self._store_unreadable(data, "application/xml",
                                                ParseError("not a CDA document", location="/ClinicalDocument"))
        await self.documents.receive(doc, key=None, answer=lambda _id: (202, b""))
        return True
