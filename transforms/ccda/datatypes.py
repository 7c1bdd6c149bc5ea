"""CDA data types to FHIR data types, following the C-CDA on FHIR datatype map (CDA-To-FHIR).

Each function takes an lxml element (or None) and returns a plain FHIR JSON value, or None when
the element is absent, empty or null -- so callers can write ``put(res, "x", convert(el))``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

from hl7bridge.transforms.ccda.cda import Element, attr, find, find_all, is_null, text_of
from hl7bridge.transforms.ccda.codesystems import ID_ROOT_TO_URI, system_for_oid
from hl7bridge.transforms.fhir.npi import NPI_OID, is_npi

DAR_URL = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
# CF_NullAbsent: nullFlavor -> data-absent-reason code.
NULL_TO_ABSENT = {
    "NI": "unknown", "OTH": "unsupported", "NINF": "negative-infinity", "PINF": "positive-infinity",
    "MSK": "masked", "NA": "not-applicable", "UNK": "unknown", "ASKU": "asked-unknown",
    "NAV": "temp-unknown", "NASK": "not-asked", "TRC": "unsupported", "NP": "unknown",
}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d+)?([+-]\d{4}|Z)?$")
NAME_USE = {"L": "official", "P": "nickname", "ASGN": "usual", "C": "old", "OR": "official"}
ADDR_USE = {"H": "home", "HP": "home", "HV": "home", "WP": "work", "DIR": "work", "PUB": "work",
            "TMP": "temp", "OLD": "old", "BAD": "old", "PHYS": "home", "PST": "home"}
TEL_USE = {"H": "home", "HP": "home", "HV": "home", "WP": "work", "DIR": "work", "PUB": "work",
           "MC": "mobile", "PG": "mobile", "TMP": "temp", "BAD": "old", "OLD": "old"}
TEL_SYSTEM = {"tel": "phone", "mailto": "email", "fax": "fax", "http": "url", "https": "url"}


def absent(null_flavor: str | None) -> dict[str, Any]:
    """The data-absent-reason extension for a nullFlavor (required elements only, per CF_NullAbsent)."""
    return {"url": DAR_URL, "valueCode": NULL_TO_ABSENT.get(null_flavor or "UNK", "unknown")}


def compact(value: Any) -> Any:
    """Drops None, empty strings, lists and dicts, recursively, so output has no empty elements."""
    if isinstance(value, dict):
        items = {k: compact(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        items = [compact(v) for v in value]
        return [v for v in items if v not in (None, "", [], {})]
    return value


def identifier(ii: Element | None) -> dict[str, Any] | None:
    """II -> Identifier: root+extension gives system+value; a bare root becomes a URI value."""
    if ii is None or is_null(ii) and not ii.get("root"):
        return None
    root, extension = ii.get("root"), ii.get("extension")
    if not root:
        return {"value": extension} if extension else None
    if extension:
        system = _id_system(root, extension)
        ident: dict[str, Any] = {"system": system, "value": extension}
    else:
        value = f"urn:uuid:{root.lower()}" if _UUID.match(root) else f"urn:oid:{root}"
        ident = {"system": "urn:ietf:rfc:3986", "value": value}
    if ii.get("assigningAuthorityName"):
        ident["assigner"] = {"display": ii.get("assigningAuthorityName")}
    return ident


def _id_system(root: str, extension: str) -> str:
    """The system for an II root. A malformed NPI keeps the NPI OID, so US Core's NPI slice (which
    matches on the us-npi system) never claims a value that fails us-core-16/17."""
    if root == NPI_OID and not is_npi(extension):
        return f"urn:oid:{root}"
    return ID_ROOT_TO_URI.get(root) or (f"urn:uuid:{root.lower()}" if _UUID.match(root) else f"urn:oid:{root}")


def identifiers(elements: list[Element]) -> list[dict[str, Any]]:
    return [i for i in (identifier(e) for e in elements) if i]


def coding(cd: Element | None) -> dict[str, Any] | None:
    if cd is None or not cd.get("code"):
        return None
    return compact({"system": system_for_oid(cd.get("codeSystem")), "code": cd.get("code").strip(),
                    "display": cd.get("displayName")})


def concept(cd: Element | None, narrative: Callable[[str], str | None] | None = None) -> dict[str, Any] | None:
    """CD/CE -> CodeableConcept: code and translations as codings, originalText (or its reference) as text."""
    if cd is None:
        return None
    codings = [c for c in [coding(cd), *(coding(t) for t in find_all(cd, "cda:translation"))] if c]
    text = text_of(cd, "cda:originalText")
    ref = attr(cd, "cda:originalText/cda:reference", "value")
    if narrative and ref:
        text = narrative(ref) or text
    if not codings and not text:
        return None
    return compact({"coding": codings, "text": text})


def timestamp(ts: str | None, *, date_only: bool = False) -> str | None:
    """HL7 TS (``20140315103000-0500``) -> FHIR date/dateTime at the source's precision.

    FHIR wants a zone whenever a time is given; a time without one is cut to the date rather
    than given an invented zone.
    """
    match = _TS.match(ts.strip()) if ts else None
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if not _valid_date(year, month, day):
        return None
    date = "-".join(p for p in (year, month, day) if p)
    if date_only or not hour or not day or not zone or not _valid_time(hour, minute, second, zone):
        return date
    fraction = fraction if second and fraction else ""
    time = f"{hour}:{minute or '00'}:{second or '00'}{fraction}"
    offset = "Z" if zone == "Z" else f"{zone[:3]}:{zone[3:]}"
    return f"{date}T{time}{offset}"


def _valid_date(year: str, month: str | None, day: str | None) -> bool:
    try:
        datetime.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return False
    return True


def _valid_time(hour: str, minute: str | None, second: str | None, zone: str) -> bool:
    in_range = int(hour) < 24 and int(minute or 0) < 60 and int(second or 0) < 60
    return in_range and (zone == "Z" or (int(zone[1:3]) <= 14 and int(zone[3:]) < 60))


def ts_of(element: Element | None, *, date_only: bool = False) -> str | None:
    return timestamp(element.get("value"), date_only=date_only) if element is not None else None


def period(ivl: Element | None) -> dict[str, Any] | None:
    """IVL_TS -> Period (low/high); a single value gives start only."""
    if ivl is None:
        return None
    if ivl.get("value"):
        return compact({"start": ts_of(ivl)})
    return compact({"start": ts_of(find(ivl, "cda:low")), "end": ts_of(find(ivl, "cda:high"))}) or None


def effective(element: Element | None) -> tuple[str, Any] | None:
    """effectiveTime -> ("DateTime", value) or ("Period", {...}), for choice elements."""
    if element is None:
        return None
    if element.get("value"):
        value = ts_of(element)
        return ("DateTime", value) if value else None
    low, high = ts_of(find(element, "cda:low")), ts_of(find(element, "cda:high"))
    if low and (not high or high == low):
        return ("DateTime", low)
    if low or high:
        return ("Period", compact({"start": low, "end": high}))
    return None


def number(text: str | None) -> int | float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def quantity(pq: Element | None) -> dict[str, Any] | None:
    """PQ -> Quantity; UCUM is the unit system C-CDA requires, so it is declared when a unit is given."""
    if pq is None or number(pq.get("value")) is None:
        return None
    unit = pq.get("unit")
    if unit and unit != "1":
        return {"value": number(pq.get("value")), "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
    return {"value": number(pq.get("value"))}


def human_name(pn: Element | None) -> dict[str, Any] | None:
    if pn is None or is_null(pn) and not len(pn):
        return None
    given = [text_of(g) for g in find_all(pn, "cda:given")]
    name = compact({
        "use": NAME_USE.get((pn.get("use") or "").split(" ")[0]),
        "family": text_of(pn, "cda:family"),
        "given": [g for g in given if g],
        "prefix": [text_of(p) for p in find_all(pn, "cda:prefix")],
        "suffix": [text_of(s) for s in find_all(pn, "cda:suffix")],
        "period": period(find(pn, "cda:validTime")),
    })
    if not name.get("family") and not name.get("given"):
        plain = "".join(t for t in pn.xpath("text()")).strip()
        if plain:
            name["text"] = " ".join(plain.split())
    return name if set(name) - {"use", "period"} else None


def address(ad: Element | None) -> dict[str, Any] | None:
    if ad is None or is_null(ad) and not len(ad):
        return None
    result = compact({
        "use": ADDR_USE.get((ad.get("use") or "").split(" ")[0]),
        "line": [text_of(line) for line in find_all(ad, "cda:streetAddressLine")],
        "city": text_of(ad, "cda:city"), "district": text_of(ad, "cda:county"),
        "state": text_of(ad, "cda:state"), "postalCode": text_of(ad, "cda:postalCode"),
        "country": text_of(ad, "cda:country"), "period": period(find(ad, "cda:useablePeriod")),
    })
    return result if set(result) - {"use"} else None


def telecom(tel: Element | None) -> dict[str, Any] | None:
    """TEL -> ContactPoint; the URL scheme (tel:, mailto:, fax:) gives the system."""
    value = tel.get("value") if tel is not None else None
    if not value:
        return None
    scheme, _, rest = value.partition(":")
    system = TEL_SYSTEM.get(scheme.lower())
    if system is None or not rest:
        system, rest = "other", value
    if system == "url":
        rest = value
    return compact({"system": system, "value": rest.strip(), "use": TEL_USE.get((tel.get("use") or "").split(" ")[0])})


def collect(elements: list[Element], convert: Callable[[Element], dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [v for v in (convert(e) for e in elements) if v]
