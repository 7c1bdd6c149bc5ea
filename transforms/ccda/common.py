"""Pieces several entry mappings share: author time, observation values, entry relationships."""

from __future__ import annotations

from typing import Any

from hl7bridge.transforms.ccda import datatypes as dt
from hl7bridge.transforms.ccda.cda import Element, find, find_all, has_template, text_of, xsi_type
from hl7bridge.transforms.ccda.context import Context
from hl7bridge.transforms.ccda.header import practitioner

T = "2.16.840.1.113883.10.20.22.4."  # C-CDA entry template prefix


def author_time(element: Element) -> str | None:
    """Earliest author/time of an entry (the maps use it for recorded / authoredOn)."""
    times = sorted(t for t in (dt.ts_of(a) for a in find_all(element, "cda:author/cda:time")) if t)
    return times[0] if times else None


def entry_author(ctx: Context, element: Element) -> dict[str, str] | None:
    """The first author of an entry that is a person -> Practitioner reference (recorder/performer)."""
    for assigned in find_all(element, "cda:author/cda:assignedAuthor"):
        ref = practitioner(ctx, assigned)
        if ref:
            return ref
    return None


def related(element: Element, template: str) -> list[Element]:
    """Entries one entryRelationship below ``element`` that declare ``template`` (a suffix of T)."""
    return [child for child in find_all(element, "cda:entryRelationship/*")
            if has_template(child, T + template)]


def status_code(element: Element) -> str:
    node = find(element, "cda:statusCode")
    return (node.get("code") or "").strip() if node is not None else ""


def onset_of(element: Element) -> str | None:
    """effectiveTime/@value or /low as a FHIR dateTime."""
    eff = find(element, "cda:effectiveTime")
    if eff is None:
        return None
    return dt.ts_of(eff) or dt.ts_of(find(eff, "cda:low"))


def _range_value(value: Element) -> tuple[str, Any] | None:
    low, high = dt.quantity(find(value, "cda:low")), dt.quantity(find(value, "cda:high"))
    # A one-sided interval is how C-CDA says "> 100" or "< 5": a Quantity with a comparator.
    if low and not high:
        open_ = find(value, "cda:low").get("inclusive") == "false"
        return "Quantity", {**low, "comparator": ">" if open_ else ">="}
    if high and not low:
        open_ = find(value, "cda:high").get("inclusive") == "false"
        return "Quantity", {**high, "comparator": "<" if open_ else "<="}
    if low or high:
        return "Range", dt.compact({"low": low, "high": high})
    return None


def observation_value(ctx: Context, value: Element | None) -> tuple[str, Any] | None:
    """Observation.value as (choice suffix, FHIR value), chosen by the CDA value's xsi:type."""
    if value is None or (value.get("nullFlavor") and not len(value)):
        return None
    kind = xsi_type(value)
    if kind == "PQ":
        q = dt.quantity(value)
        return ("Quantity", q) if q else None
    if kind == "IVL_PQ":
        return _range_value(value)
    if kind in ("CD", "CE", "CO", "CV", "CS"):
        cc = dt.concept(value, ctx.narrative)
        return ("CodeableConcept", cc) if cc else None
    if kind == "INT":
        n = dt.number(value.get("value"))
        return ("Integer", int(n)) if n is not None else None
    if kind in ("REAL", "MO"):
        n = dt.number(value.get("value"))
        return ("Quantity", {"value": n}) if n is not None else None
    if kind == "BL":
        return ("Boolean", value.get("value") == "true") if value.get("value") else None
    if kind in ("TS", "IVL_TS"):
        ts = dt.ts_of(value) or dt.ts_of(find(value, "cda:low"))
        return ("DateTime", ts) if ts else None
    text = text_of(value)
    ref = find(value, "cda:reference")
    if not text and ref is not None and ref.get("value"):
        text = ctx.narrative(ref.get("value"))
    return ("String", text) if text else None


def put_choice(resource: dict[str, Any], stem: str, choice: tuple[str, Any] | None) -> None:
    if choice:
        resource[stem + choice[0]] = choice[1]


def entry_concept(ctx: Context, element: Element, path: str = "cda:code") -> dict[str, Any] | None:
    """A coded element; when null and uncoded, the narrative the entry's text points at."""
    cc = dt.concept(find(element, path), ctx.narrative)
    if cc:
        return cc
    ref = find(element, "cda:text/cda:reference")
    text = ctx.narrative(ref.get("value")) if ref is not None and ref.get("value") else text_of(element, "cda:text")
    return {"text": text} if text else None


def required_concept(ctx: Context, element: Element, path: str = "cda:code") -> dict[str, Any]:
    """Like entry_concept, but a required element gets a data-absent-reason when nothing is known."""
    cc = entry_concept(ctx, element, path)
    if cc:
        return cc
    node = find(element, path)
    return {"extension": [dt.absent(node.get("nullFlavor") if node is not None else None)]}
