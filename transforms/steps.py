"""Declarative steps on HL7v2 paths (``set``, ``copy``, ``map``) and ``python`` mapping code.

Each factory takes the step's options (already validated for shape by channels/lint.py) and the
config file's folder (for CSV tables), and returns a function Payload -> Payload.
"""

from __future__ import annotations

import csv
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hl7bridge.engine.errors import ConfigError, TransformError
from hl7bridge.transforms.payload import Payload

Step = Callable[[Payload], Payload]


def _hl7(payload: Payload, step: str) -> Any:
    if payload.kind != "hl7v2":
        raise TransformError(f"step {step!r} works on HL7v2, but the payload is {payload.kind}")
    return payload.data


def set_step(options: dict[str, Any], base: Path) -> Step:
    path, value = str(options["path"]), str(options["value"])

    def run(payload: Payload) -> Payload:
        _hl7(payload, "set").set(path, value)
        return payload

    return run


def copy_step(options: dict[str, Any], base: Path) -> Step:
    source, target = str(options["from"]), str(options["to"])

    def run(payload: Payload) -> Payload:
        message = _hl7(payload, "copy")
        value = message.get(source)
        if value is not None:
            message.set(target, value)
        return payload

    return run


def map_step(options: dict[str, Any], base: Path) -> Step:
    """Replace the value at ``path`` through a lookup ``table`` (inline or ``csv: file``: two columns)."""
    path = str(options["path"])
    table = {str(k): str(v) for k, v in (options.get("table") or {}).items()}
    if "csv" in options:
        with open(base / str(options["csv"]), newline="", encoding="utf-8") as handle:
            table |= {row[0]: row[1] for row in csv.reader(handle) if len(row) >= 2}
    default = options.get("default")

    def run(payload: Payload) -> Payload:
        message = _hl7(payload, "map")
        value = message.get(path)
        if value is None:
            return payload
        if value in table:
            message.set(path, table[value])
        elif default is not None:
            message.set(path, str(default))
        return payload

    return run


def python_step(options: dict[str, Any], base: Path) -> Step:
    """``pkg.module:function`` (or ``pkg.module.function``); the function gets the Payload and may
    change it in place (return None) or return a new data value or Payload."""
    target = str(options["target"])
    module_name, _, attr = target.partition(":") if ":" in target else target.rpartition(".")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import mapping code {target!r} ({type(exc).__name__})", code="python-step") from exc

    def run(payload: Payload) -> Payload:
        try:
            result = function(payload)
        except TransformError:
            raise  # mapping code that names its own position keeps it
        except (ValueError, KeyError, TypeError) as exc:
            raise TransformError(f"mapping code {target} failed ({type(exc).__name__})") from exc
        if result is None:
            return payload
        if isinstance(result, Payload):
            return result
        payload.data = result
        return payload

    return run
