"""FHIR R4 Bundle -> C-CDA R2.1 Continuity of Care Document, rendered with Jinja2.

    fhir_to_ccda(bundle, document_type="ccd") -> UTF-8 XML bytes

The Bundle may be a document, transaction, collection or searchset: resources are picked by
type (transforms/ccda/model.py), so the Bundle hl7v2_to_fhir makes from an ADT or ORU renders
too.  Templates live in ``cda_templates/`` beside the package (one per document type, section
and entry type, autoescaping on); narrative tables are generated from the same entries the
templates render, and each entry points at its row.  Required CCD sections with no data are
rendered empty with nullFlavor="NI", as C-CDA R2.1 allows.

Errors: TransformError (location names the Bundle element or the template), never a Jinja2
or lxml exception.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from lxml import etree

import hl7bridge
from hl7bridge.engine.errors import TransformError
from hl7bridge.transforms.ccda.model import document_model

TEMPLATES = Path(hl7bridge.__file__).parent / "cda_templates"
DOCUMENT_TEMPLATES = {"ccd": "ccd.xml.j2"}
_UID_NAMESPACE = uuid.UUID("a3c5e2f0-1d2b-4c3e-9f4a-6b7c8d9e0f12")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every value is document data; XML-escape all of it
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.Undefined,
    )


def _check(bundle: Any) -> None:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise TransformError("input is not a FHIR Bundle", location="Bundle")
    if not any((e.get("resource") or {}).get("resourceType") == "Patient" for e in bundle.get("entry") or []):
        raise TransformError("Bundle has no Patient to be the recordTarget", location="Bundle.entry")


def _tidy(xml: str) -> bytes:
    """Re-serialises our own output without blank lines (it is trusted: we just wrote it)."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(xml.strip().encode("utf-8"), parser=parser)
    except etree.XMLSyntaxError as exc:
        raise TransformError("rendered document is not well-formed XML", location="cda_templates") from exc
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def fhir_to_ccda(bundle: dict, *, document_type: str = "ccd") -> bytes:
    """Renders a C-CDA R2.1 document of ``document_type`` (only ``ccd`` today) from a FHIR Bundle."""
    template_name = DOCUMENT_TEMPLATES.get(document_type)
    if template_name is None:
        raise TransformError(f"document_type must be one of {', '.join(DOCUMENT_TEMPLATES)}", location="document_type")
    try:
        _check(bundle)
        model = document_model(bundle)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        raise TransformError(f"Bundle could not be read ({type(exc).__name__})", location="Bundle.entry") from exc
    doc_id = model["doc"]["id"]

    def uid(*parts: str) -> str:
        return str(uuid.uuid5(_UID_NAMESPACE, "|".join((doc_id, *parts))))

    try:
        xml = _environment().get_template(template_name).render(uid=uid, **model)
    except jinja2.TemplateError as exc:
        raise TransformError(f"template failed ({type(exc).__name__})", location=f"cda_templates/{template_name}") from exc
    return _tidy(xml)
