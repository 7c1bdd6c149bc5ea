"""HL7v2 value datatypes to FHIR: NM -> number, SN -> Quantity / Range / Ratio, ED -> Attachment."""

from __future__ import annotations

import base64
import re

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.hl7v2.comps import Comps
from hl7bridge.transforms.hl7v2.encoding import Encoding

__all__ = ["number", "sn_value", "ed_attachment"]


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")


def number(text: str, loc: str) -> int | float:
    """NM -> JSON number; raise ParseError (102) when not numeric."""
    text = text.strip()
    if not _NUMBER.match(text):
        raise ParseError("not a valid number (NM)", location=loc, hl7_code=102)
    return float(text) if "." in text else int(text)


def sn_value(text: str, enc: Encoding, loc: str) -> tuple[str, dict] | None:
    """SN -> ("valueQuantity" | "valueRange" | "valueRatio", value)."""
    f = Comps(text, enc)
    comparator, num1, sep, num2 = f.c(1), f.c(2), f.c(3), f.c(4)
    if sep in ("-",) and num1 and num2:
        return "valueRange", {"low": {"value": number(num1, loc)}, "high": {"value": number(num2, loc)}}
    if sep in (":", "/") and num1 and num2:
        return "valueRatio", {"numerator": {"value": number(num1, loc)}, "denominator": {"value": number(num2, loc)}}
    if not num1:
        return None
    quantity: dict = {"value": number(num1, loc)}
    if comparator in ("<", ">", "<=", ">="):
        quantity["comparator"] = comparator
    return "valueQuantity", quantity


def ed_attachment(text: str, enc: Encoding, loc: str = "OBX-5") -> dict | None:
    """ED -> Attachment: .2/.3 content type, .4 encoding, .5 data (base64 kept, text encoded)."""
    f = Comps(text, enc)
    data = f.c(5)
    if not data:
        return None
    kind, subtype = f.c(2).lower(), f.c(3).lower()
    content_type = f"{kind}/{subtype}" if kind and subtype and "/" not in subtype else (subtype or kind or "text/plain")
    if content_type in ("text/text", "tx/text"):
        content_type = "text/plain"
    if f.c(4).upper() == "BASE64":
        data = "".join(data.split())
        try:
            base64.b64decode(data, validate=True)
        except ValueError:
            raise ParseError("ED data (component 5) is not valid Base64", location=loc, hl7_code=102) from None
        return {"contentType": content_type, "data": data}
    return {"contentType": content_type, "data": base64.b64encode(data.encode("utf-8")).decode("ascii")}
