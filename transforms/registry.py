"""Built-in steps by name: what channel YAML may list under ``steps``.

A built-in is a factory ``(options, config_folder) -> step``; a step is ``Payload -> Payload``.
Conversions are imported when a channel first uses them, so a channel that never converts does
not pay for fhir/lxml imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hl7bridge.engine.errors import ConfigError, TransformError
from hl7bridge.transforms import steps
from hl7bridge.transforms.payload import Payload

Step = Callable[[Payload], Payload]
StepFactory = Callable[[dict[str, Any], Path], Step]


def _conversion(module: str, function: str, source: str, target: str) -> StepFactory:
    def factory(options: dict[str, Any], base: Path) -> Step:
        def run(payload: Payload) -> Payload:
            if payload.kind != source:
                raise TransformError(f"step {function} needs {source} input, got {payload.kind}")
            convert = getattr(importlib.import_module(f"hl7bridge.transforms.{module}"), function)
            extra = dict(options)
            if function == "fhir_to_hl7v2" and "control_id" not in extra and payload.meta.get("message_id"):
                extra["control_id"] = payload.meta["message_id"][-20:]  # stable across replays and retries
            return Payload(target, convert(payload.data, **extra), payload.source, payload.meta, payload._original)

        return run

    return factory


BUILTIN_STEPS: dict[str, StepFactory] = {
    "hl7v2_to_fhir": _conversion("hl7v2_to_fhir", "hl7v2_to_fhir", "hl7v2", "fhir"),
    "ccda_to_fhir": _conversion("ccda_to_fhir", "ccda_to_fhir", "ccda", "fhir"),
    "fhir_to_ccda": _conversion("fhir_to_ccda", "fhir_to_ccda", "fhir", "ccda"),
    "fhir_to_hl7v2": _conversion("fhir_to_hl7v2", "fhir_to_hl7v2", "fhir", "hl7v2"),
    "set": steps.set_step,
    "copy": steps.copy_step,
    "map": steps.map_step,
    "python": steps.python_step,
}


def build_step(name: str, options: dict[str, Any], base: Path) -> Step:
    factory = BUILTIN_STEPS.get(name)
    if factory is None:
        raise ConfigError(f"unknown step {name!r}", code="unknown-step")
    return factory(options, base)
