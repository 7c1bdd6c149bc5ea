"""Destination types by the ``type`` word channel YAML uses: one line each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hl7bridge.connectors.amqp import AmqpDestination
from hl7bridge.connectors.base import Destination
from hl7bridge.connectors.channel import ChannelDestination
from hl7bridge.connectors.file import FileDestination
from hl7bridge.connectors.http import HttpDestination
from hl7bridge.connectors.mllp import MllpDestination
from hl7bridge.engine.errors import ConfigError
from hl7bridge.engine.store import Store

DESTINATIONS: dict[str, Callable[[Any, Store], Destination]] = {
    "http": lambda spec, _store: HttpDestination(spec),
    "file": lambda spec, _store: FileDestination(spec),
    "mllp": lambda spec, _store: MllpDestination(spec),
    "amqp": lambda spec, _store: AmqpDestination(spec),
    "channel": ChannelDestination,  # hands over through the store
}


def build_destination(spec: Any, store: Store) -> Destination:
    factory = DESTINATIONS.get(spec.type)
    if factory is None:
        raise ConfigError(f"destination type {spec.type!r} is not available in this version", code="unsupported")
    return factory(spec, store)
