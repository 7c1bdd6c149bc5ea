"""One-shot conversions for ``hl7bridge convert``: detect what a file is, run the built-in conversion."""

from __future__ import annotations

import orjson

from hl7bridge.engine.errors import TransformError


def detect(data: bytes) -> str:
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:5]
    if head.startswith((b"MSH", b"FHS", b"BHS")):
        return "hl7v2"
    if head.startswith(b"<"):
        return "ccda"
    if head.startswith((b"{", b"[")):
        return "fhir"
    raise TransformError("cannot tell what the file is (expected HL7v2, C-CDA XML or FHIR JSON)", location="byte 0")


def convert_bytes(data: bytes, target: str, *, message_type: str | None = None,
                  bundle_type: str | None = None) -> str:
    source = detect(data)
    if source == "hl7v2" and target == "fhir":
        from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

        return orjson.dumps(hl7v2_to_fhir(data), option=orjson.OPT_INDENT_2).decode()
    if source == "ccda" and target == "fhir":
        from hl7bridge.transforms.ccda_to_fhir import ccda_to_fhir

        return orjson.dumps(ccda_to_fhir(data, bundle_type=bundle_type or "document"),
                            option=orjson.OPT_INDENT_2).decode()
    if source == "fhir" and target in ("ccda", "hl7v2"):
        try:
            bundle = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise TransformError("the file is not valid JSON", location="byte 0") from exc
        if target == "ccda":
            from hl7bridge.transforms.fhir_to_ccda import fhir_to_ccda

            return fhir_to_ccda(bundle).decode("utf-8")
        from hl7bridge.transforms.fhir_to_hl7v2 import fhir_to_hl7v2

        return fhir_to_hl7v2(bundle, message_type=message_type).to_er7().replace("\r", "\n")
    raise TransformError(f"no conversion from {source} to {target}")
