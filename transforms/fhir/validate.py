"""Strict validation of output Bundles with fhir.resources (R4B models, which match R4 here)."""

from __future__ import annotations

from hl7bridge.engine.errors import TransformError

__all__ = ["validate_bundle"]


def validate_bundle(bundle: dict) -> None:
    """Raise TransformError naming the first invalid element path (never its value)."""
    from fhir.resources.R4B.bundle import Bundle  # imported lazily: it is slow and off the hot path
    from pydantic import ValidationError

    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        first = errors[0] if errors else {"loc": (), "type": "invalid"}
        path = ".".join(str(p) for p in first.get("loc", ()))
        raise TransformError(f"FHIR validation failed ({len(errors)} errors; first: {first.get('type')})",
                             location=path or "Bundle") from None
