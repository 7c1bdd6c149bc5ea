"""File destination: each delivery becomes one file, written atomically (temp file, fsync, rename).

The name comes from the delivery's ids, so a retry rewrites the same file instead of adding one.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from hl7bridge.connectors.base import DeliveryContext, SendResult
from hl7bridge.engine.errors import DeliveryError

EXTENSIONS = {"x-application/hl7-v2+er7": "hl7", "application/fhir+json": "json", "application/json": "json",
              "application/xml": "xml"}


class FileDestination:
    def __init__(self, spec: Any) -> None:
        self.directory = Path(spec.directory)
        self.filename: str = spec.filename

    def path_for(self, context: DeliveryContext) -> Path:
        name = self.filename.format(
            message_id=context.message_id, delivery_id=context.delivery_id, destination=context.destination,
            channel=context.channel, message_type=context.message_type.replace("^", "_"),
            ext=EXTENSIONS.get(context.content_type, "dat"))
        return self.directory / name

    async def send(self, payload: bytes, context: DeliveryContext) -> SendResult:
        path = self.path_for(context)
        try:
            await asyncio.to_thread(_write_atomically, path, payload)
        except OSError as exc:
            raise DeliveryError(f"cannot write to the directory ({exc.strerror or type(exc).__name__})",
                                code="io") from exc
        return SendResult("written")

    async def close(self) -> None:
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
