"""Walks the structuredBody: each entry goes to the mapping its template names.

Entries are recognised by template OID (root only, so R1.1 and R2.1 versions are alike); an
entry whose template has no mapping is left out of the Bundle (its section narrative still goes
into the Composition).  A failure inside one mapping becomes a TransformError naming the entry's
element path and template, never its content.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hl7bridge.engine.errors import HL7BridgeError, TransformError
from hl7bridge.transforms.ccda import datatypes as dt
from hl7bridge.transforms.ccda.allergies import allergy, allergy_concern
from hl7bridge.transforms.ccda.cda import Element, find, find_all, local_path, template_roots, text_of
from hl7bridge.transforms.ccda.common import T
from hl7bridge.transforms.ccda.context import Context
from hl7bridge.transforms.ccda.immunizations import immunization_activity
from hl7bridge.transforms.ccda.medications import medication_activity
from hl7bridge.transforms.ccda.narrative import to_xhtml
from hl7bridge.transforms.ccda.observations import assessment, observation, result_organizer, social_history, \
    vital_sign, vital_signs_organizer
from hl7bridge.transforms.ccda.problems import condition, diagnosis_act, health_concern, problem_concern
from hl7bridge.transforms.ccda.procedures import encounter, procedure

Handler = Callable[[Context, Element], Any]

# Checked in this order: organizers and concern acts before the observations they contain.
HANDLERS: list[tuple[str, Handler]] = [
    (T + "30", allergy_concern), (T + "7", allergy),
    (T + "3", problem_concern), (T + "132", health_concern),
    (T + "33", diagnosis_act), (T + "34", diagnosis_act), (T + "51", diagnosis_act), (T + "65", diagnosis_act),
    (T + "4", lambda ctx, el: condition(ctx, el, "problem-list-item")),
    (T + "16", medication_activity), (T + "52", immunization_activity),
    (T + "1", result_organizer), (T + "2", lambda ctx, el: observation(ctx, el, "laboratory", "us-core-observation-lab")),
    (T + "26", vital_signs_organizer), (T + "27", vital_sign),
    (T + "200", social_history), (T + "78", social_history), (T + "85", social_history), (T + "38", social_history),
    (T + "14", procedure), (T + "12", procedure), (T + "13", procedure),
    (T + "49", encounter),
    (T + "75", assessment("cognitive-status")), (T + "74", assessment("cognitive-status")),
    (T + "66", assessment("functional-status")), (T + "67", assessment("functional-status")),
    (T + "124", assessment("exam")), (T + "69", assessment("survey")),
    (T + "109", social_history), (T + "111", social_history), (T + "72", social_history),
]
EMPTY_REASON = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "unavailable"}]}


def _handler(entry: Element) -> tuple[str, Handler] | None:
    roots = template_roots(entry)
    return next(((oid, handler) for oid, handler in HANDLERS if oid in roots), None)


def map_entry(ctx: Context, entry: Element) -> list[dict[str, str]]:
    """References of every resource one ``entry`` child produced (none when no mapping applies)."""
    found = _handler(entry)
    if found is None:
        return []
    oid, handler = found
    try:
        result = handler(ctx, entry)
    except HL7BridgeError:
        raise
    except Exception as exc:  # a mapping bug must still say where, never what
        raise TransformError(f"could not map entry with template {oid} ({type(exc).__name__})",
                             location=local_path(entry)) from exc
    if result is None:
        return []
    return result if isinstance(result, list) else [result]


def _unique(refs: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[str] = set()
    return [r for r in refs if not (r["reference"] in seen or seen.add(r["reference"]))]


def section(ctx: Context, element: Element) -> dict[str, Any]:
    """One CDA section -> Composition.section, with its entries mapped and referenced."""
    title = text_of(element, "cda:title")
    refs = _unique([ref for entry in find_all(element, "cda:entry/*") for ref in map_entry(ctx, entry)])
    children = [section(ctx, s) for s in find_all(element, "cda:component/cda:section")]
    result = dt.compact({
        "title": title,
        "code": dt.concept(find(element, "cda:code")),
        "text": {"status": "generated", "div": to_xhtml(find(element, "cda:text"), title or "No narrative")},
        "entry": refs,
        "section": children,
    })
    if not refs and not children:
        result["emptyReason"] = EMPTY_REASON
    return result


def body_sections(ctx: Context) -> list[dict[str, Any]]:
    return [section(ctx, s) for s in find_all(ctx.root, "cda:component/cda:structuredBody/cda:component/cda:section")]
