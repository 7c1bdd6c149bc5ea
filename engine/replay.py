"""Replay: run stored messages through their channel again, as new deliveries linked to the old.

Planning is separate from doing, so ``--dry-run`` shows exactly what would happen.  A message is
refused (with the reason) when its content was pruned, when its channel is unknown or says
``replayable: false``, or when a named destination is not one of its channel's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from hl7bridge.engine import ledger, outbox
from hl7bridge.engine.brokers.names import channel_queue
from hl7bridge.engine.queries import settle_dead_letter_records


@dataclass(slots=True)
class ReplayItem:
    message_id: str
    channel: str
    destinations: list[str]
    replay_of: dict[str, str] = field(default_factory=dict)
    refused: str | None = None


def plan(connection: Connection, config: Any, message_id: str, *, destinations: list[str], source: str,
         replay_of: dict[str, str] | None = None) -> ReplayItem:
    row = ledger.load_message(connection, message_id)
    if row is None:
        return ReplayItem(message_id, "?", [], refused="no message with this id")
    item = ReplayItem(message_id, row.channel, [], replay_of or {})
    spec = config.channels.get(row.channel)
    if spec is None:
        item.refused = "its channel is not in the config"
    elif not spec.replayable:
        item.refused = "its channel says replayable: false"
    elif row.content_pruned_at is not None or ledger.load_content(connection, message_id, source) is None:
        item.refused = f"its {source} content was pruned by retention" if row.content_pruned_at else \
            f"it has no {source} content"
    else:
        known = [d for d, dspec in spec.destinations.items() if dspec.enabled]
        unknown = [d for d in destinations if d not in known]
        if unknown:
            item.refused = f"destination(s) {', '.join(unknown)} not in channel {row.channel}"
        item.destinations = destinations or known
    return item


def enqueue(connection: Connection, item: ReplayItem, *, source: str) -> None:
    """Queue the planned replay through the message's channel (the channel worker makes the deliveries)."""
    request = {"message_id": item.message_id,
               "replay": {"from": source, "destinations": item.destinations, "replay_of": item.replay_of}}
    outbox.enqueue(connection, channel_queue(item.channel), orjson.dumps(request))
    for destination, delivery_id in item.replay_of.items():
        settle_dead_letter_records(connection, {"id": delivery_id, "channel": item.channel,
                                                "destination": destination})
