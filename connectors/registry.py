"""Destination types by the ``type`` word channel YAML uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hl7bridge.connectors.base import Destination
from hl7bridge.connectors.file import FileDestination
from hl7bridge.connectors.http import HttpDestination
from hl7bridge.connectors.mllp import MllpDestination
from hl7bridge.engine.errors import ConfigError

DESTINATIONS: dict[str, Callable[[Any], Destination]] = {
    "http": HttpDestination,
    "file": FileDestination,
    "mllp": MllpDestination,
}


def build_destination(spec: Any) -> Destination:
    factory = DESTINATIONS.get(spec.type)
    if factory is None:
        raise ConfigError(f"destination type {spec.type!r} is not available in this version", code="unsupported")
    return factory(spec)
