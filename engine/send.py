"""``hl7bridge send``: an MLLP sender for files, printing each ACK as it comes back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hl7bridge.channels.spec import parse_host_port
from hl7bridge.connectors.mllp import MllpClient
from hl7bridge.connectors.tls import client_context
from hl7bridge.engine.acks import decode_text, split_segments
from hl7bridge.engine.errors import DeliveryError
from hl7bridge.transforms.hl7v2.batch import split_batch


async def send_files(files: list[str], target: str, *, ca: str | None, cert: str | None, key: str | None,
                     timeout_secs: float, echo: Callable[[str], None]) -> bool:
    """Send every message of every file (a file may hold several); True when all were accepted."""
    host, port = parse_host_port(target)
    context = client_context(ca=ca, cert=cert, key=key) if (ca or cert) else None
    client = MllpClient(host, port, ssl_context=context, timeout_secs=timeout_secs)
    all_ok = True
    try:
        for file in files:
            for number, message in enumerate(split_batch(Path(file).read_bytes()), start=1):
                code, control_id, text = await _send_one(client, message.encode("utf-8"))
                all_ok &= code in ("AA", "CA")
                echo(f"{file}#{number} {control_id} {code}{' ' + text if text else ''}")
    finally:
        await client.close()
    return all_ok


async def _send_one(client: MllpClient, message: bytes) -> tuple[str, str, str]:
    try:
        ack = await client.send(message)
    except DeliveryError as exc:
        return "NONE", "-", str(exc)
    for segment in split_segments(decode_text(ack)):
        if segment.startswith("MSA"):
            fields = segment.split(segment[3]) + ["", "", ""]
            return fields[1], fields[2], fields[3]
    return "NONE", "-", "reply has no MSA segment"
