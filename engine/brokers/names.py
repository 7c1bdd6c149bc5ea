"""Every queue name hl7bridge uses is built here, so no other module spells one.

    <channel>                  the channel's work: messages to filter, transform and fan out
    <channel>.<destination>    deliveries waiting for that destination
    <queue>.dlq                dead letters of a queue (reason and attempt history in the headers)

Retry delays are held in the store's outbox (available_at), not in broker queues: see
docs/retries.md.  Destination names 'dlq' and 'retry' are reserved so names never collide.
"""

from __future__ import annotations

RESERVED_DESTINATIONS = frozenset({"dlq", "retry"})


def channel_queue(channel: str) -> str:
    return channel


def destination_queue(channel: str, destination: str) -> str:
    return f"{channel}.{destination}"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dlq"


def topology(channels: dict[str, list[str]]) -> list[str]:
    """All work queues for ``{channel: [destination, ...]}`` (each has a .dlq companion)."""
    names: list[str] = []
    for channel, destinations in channels.items():
        names.append(channel_queue(channel))
        names.extend(destination_queue(channel, d) for d in destinations)
    return names
