"""FHIR data types to the pieces a CDA template prints (the FC datatype map, FHIR-To-CDA).

Everything returns plain dicts/strings that the Jinja2 macros in cda_templates/macros.xml.j2
turn into elements; templates never see a FHIR resource directly.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from hl7bridge.transforms.ccda.codesystems import oid_for_system

_DT = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$")
_UUID = re.compile(r"^urn:uuid:([0-9a-fA-F-]{36})$")
_UUID_ONLY = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_RUID = re.compile(r"^[A-Za-z][A-Za-z0-9\-]*$")
NAME_USE = {"official": "L", "usual": "L", "nickname": "P", "old": "OR", "maiden": "L"}
ADDR_USE = {"home": "H", "work": "WP", "temp": "TMP", "old": "OLD", "billing": "PST"}
TEL_USE = {"home": "HP", "work": "WP", "mobile": "MC", "temp": "TMP", "old": "BAD"}
TEL_SCHEME = {"phone": "tel:", "email": "mailto:", "fax": "fax:", "url": "", "sms": "tel:", "pager": "tel:"}
GENDER = {"male": "M", "female": "F", "other": "UN"}


def ts(value: str | None) -> str | None:
    """FHIR date/dateTime/instant -> HL7 TS at the same precision (``2020-01-02T03:04:05-05:00`` -> ``20200102030405-0500``)."""
    match = _DT.match(value.strip()) if value else None
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    out = year + (month or "") + (day or "")
    if hour:
        out += hour + minute + (second or "")
        if zone:
            out += "+0000" if zone == "Z" else zone.replace(":", "")
    return out


def cd(concept: dict[str, Any] | None, *, null_flavor: str = "UNK") -> dict[str, Any]:
    """CodeableConcept -> {code, system, display, translations, text} or {null_flavor, text}.

    The first coding whose system has an OID becomes the code, the others translations; with no
    such coding the element is null (nullFlavor) and keeps the text as originalText.
    """
    concept = concept or {}
    codings = [c for c in concept.get("coding", []) if c.get("code") and valid_uid(oid_for_system(c.get("system")))]
    text = concept.get("text") or next((c.get("display") for c in concept.get("coding", []) if c.get("display")), None)
    if not codings:
        return {"null_flavor": "OTH" if concept.get("coding") else null_flavor, "text": text}
    first, *rest = codings
    return {**_coding(first), "text": text, "translations": [_coding(c) for c in rest]}


def _coding(coding: dict[str, Any]) -> dict[str, Any]:
    return {"code": coding["code"], "system": oid_for_system(coding.get("system")), "display": coding.get("display")}


def coding_code(concept: dict[str, Any] | None, system: str) -> str | None:
    """The code of the first coding in ``system``."""
    for coding in (concept or {}).get("coding", []):
        if coding.get("system") == system and coding.get("code"):
            return coding["code"]
    return None


def valid_uid(root: str | None) -> bool:
    """The CDA schema's uid: an OID (first arc 0-2), a UUID, or an RUID."""
    return bool(root and (_OID.match(root) or _UUID_ONLY.match(root) or _RUID.match(root)))


def ii(identifier: dict[str, Any] | None) -> dict[str, str] | None:
    """Identifier -> II (FC datatype map): URI values become a bare root, system OIDs the root.

    A system with no usable OID (a URL, or an OID the schema rejects) gets a UUIDv5 of the system
    as root: valid, stable, and distinct per system, so identifiers never collide.
    """
    if not identifier or not identifier.get("value"):
        return None
    system, value = identifier.get("system") or "", identifier["value"]
    if system == "urn:ietf:rfc:3986":
        if value.startswith("urn:oid:") and valid_uid(value[8:]):
            return {"root": value[8:]}
        match = _UUID.match(value)
        return {"root": match.group(1).lower()} if match else None
    root = oid_for_system(system)
    if root is None and system.startswith("urn:uuid:"):
        root = system[9:]
    if not valid_uid(root):
        root = str(uuid.uuid5(uuid.NAMESPACE_URL, system or "urn:hl7bridge:no-system"))
    return {"root": root, "extension": value}


def ids(identifiers: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    return [i for i in (ii(x) for x in identifiers or []) if i]


def name(human: dict[str, Any] | None) -> dict[str, Any] | None:
    if not human:
        return None
    given = list(human.get("given") or [])
    family = human.get("family")
    if not family and not given and human.get("text"):
        parts = human["text"].split()
        family, given = parts[-1], parts[:-1]
    if not family and not given:
        return None
    return {"use": NAME_USE.get(human.get("use", ""), "L"), "given": given, "family": family,
            "prefix": human.get("prefix") or [], "suffix": human.get("suffix") or []}


def address(addr: dict[str, Any] | None) -> dict[str, Any] | None:
    if not addr or not (addr.get("line") or addr.get("city")):
        return None
    return {"use": ADDR_USE.get(addr.get("use", ""), "H"), "lines": (addr.get("line") or [])[:4],
            "city": addr.get("city"), "state": addr.get("state"), "postal_code": addr.get("postalCode"),
            "country": addr.get("country")}


def telecom(point: dict[str, Any] | None) -> dict[str, str] | None:
    if not point or not point.get("value"):
        return None
    scheme = TEL_SCHEME.get(point.get("system", "phone"), "tel:")
    value = point["value"] if point["value"].startswith(("tel:", "mailto:", "http")) else scheme + point["value"]
    return {"value": value.replace(" ", ""), "use": TEL_USE.get(point.get("use", ""), "")}


def gender(value: str | None) -> dict[str, Any]:
    code = GENDER.get(value or "")
    if code is None:
        return {"null_flavor": "UNK"}
    return {"code": code, "system": "2.16.840.1.113883.5.1",
            "display": {"M": "Male", "F": "Female", "UN": "Undifferentiated"}[code]}


def pq(quantity: dict[str, Any] | None) -> dict[str, str] | None:
    """Quantity -> PQ value/unit (UCUM code preferred over the display unit)."""
    if not isinstance(quantity, dict) or not _is_number(quantity.get("value")):
        return None
    unit = quantity.get("code") if quantity.get("system") == "http://unitsofmeasure.org" else None
    unit = unit or quantity.get("unit") or "1"
    return {"value": _decimal(quantity["value"]), "unit": unit.replace(" ", "") or "1"}


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _decimal(value: Any) -> str:
    text = str(value)
    return text[:-2] if text.endswith(".0") else text
