"""C-CDA -> FHIR compared with Microsoft FHIR-Converter's expected bundles, normalised as the
corpora README says (ids, meta, text, Provenance, non-HL7 extensions dropped; references
resolved; codes, identifiers, names, values, dates at their precision, status compared).

A valued fact in the expected output that is missing from ours is a miss; extra output is not.
Only the resource types ccda_to_fhir is asked to produce are scored; the rest (Device, Location,
RelatedPerson, Consent, Coverage, FamilyMemberHistory...) are counted and reported as out of scope.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from hl7bridge.transforms.ccda_to_fhir import ccda_to_fhir
from hl7bridge.transforms.fhir.npi import NPI_OID, US_NPI

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
MS = CORPORA / "microsoft-fhir-converter"
SCOPE = {"Patient", "Practitioner", "Organization", "Encounter", "AllergyIntolerance", "Condition",
         "MedicationRequest", "MedicationStatement", "Immunization", "Observation", "DiagnosticReport",
         "Procedure", "Composition"}
CONCEPT_FIELDS = ("code", "vaccineCode", "medicationCodeableConcept", "valueCodeableConcept", "type", "class")
DATE_FIELDS = ("birthDate", "onsetDateTime", "abatementDateTime", "effectiveDateTime", "performedDateTime",
               "occurrenceDateTime", "authoredOn", "date")
PERIOD_FIELDS = ("effectivePeriod", "performedPeriod", "period")
MIN_AGREEMENT = 0.85


def _needs_corpus() -> None:
    if not (MS / "expected" / "Ccda").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus missing at {MS}")
        pytest.skip(f"corpus not found at {MS} (../shared/corpora is not part of a fresh clone)")


def _codings(concept: Any) -> set[str]:
    if isinstance(concept, dict) and concept.get("resourceType") == "Medication":
        concept = concept.get("code")
    if isinstance(concept, list):
        return set().union(*(_codings(c) for c in concept)) if concept else set()
    if not isinstance(concept, dict):
        return set()
    return {f"{c.get('system')}|{c.get('code')}" for c in concept.get("coding", []) if c.get("code")}


def _index(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    index = {}
    for entry in bundle.get("entry", []):
        res = entry["resource"]
        index[entry.get("fullUrl", "")] = res
        index[f"{res['resourceType']}/{res.get('id')}"] = res
    return index


def _namespace(system: str | None) -> str | None:
    """One spelling per identifier namespace. We keep a malformed NPI under the NPI OID (US Core's NPI
    slice must not claim it, docs/ccda.md); Microsoft writes every NPI-rooted id under us-npi. Both
    name the same namespace and value, so they compare as one fact."""
    return US_NPI if system == f"urn:oid:{NPI_OID}" else system


def _stem(field: str) -> str:
    return field.removesuffix("DateTime").removesuffix("Period")


def facts(res: dict[str, Any], index: dict[str, dict[str, Any]]) -> set[str]:
    """The comparable, valued facts of one resource."""
    out = {f"id:{_namespace(i.get('system'))}|{i.get('value')}" for i in res.get("identifier", []) if isinstance(i, dict)}
    for name in res.get("name", []) if isinstance(res.get("name"), list) else []:
        out |= {f"name:{p.strip().lower()}" for p in [name.get("family", ""), *name.get("given", [])] if p.strip()}
    if isinstance(res.get("name"), str):
        out.add(f"name:{res['name'].strip().lower()}")
    med = res.get("medicationReference")
    if med:
        out |= {f"code:medication:{c}" for c in _codings(index.get(med.get("reference"), {}))}
    for field in CONCEPT_FIELDS:
        field_name = "medication" if field == "medicationCodeableConcept" else field
        out |= {f"code:{field_name}:{c}" for c in _codings(res.get(field))}
    quantity = res.get("valueQuantity")
    if quantity:
        out.add(f"value:{float(quantity.get('value', 0))}:{quantity.get('unit', '')}")
    # A choice element (effective[x], performed[x]) is one date whichever type carries it.
    for field in DATE_FIELDS:
        if isinstance(res.get(field), str):
            out.add(f"date:{_stem(field)}:{res[field][:10]}")
    for field in PERIOD_FIELDS:
        if isinstance(res.get(field), dict) and res[field].get("start"):
            out.add(f"date:{_stem(field)}:{res[field]['start'][:10]}")
    status = res.get("status") or ((res.get("clinicalStatus") or {}).get("coding") or [{}])[0].get("code")
    if status and status != "unknown":
        out.add(f"status:{status}")
    for field in ("subject", "patient"):
        target = index.get((res.get(field) or {}).get("reference", ""))
        if target:
            out.add(f"ref:{field}:{target['resourceType']}")
    return out


def agreement(expected: dict[str, Any], actual: dict[str, Any]) -> tuple[int, int, dict[str, list[int]]]:
    """(hits, expected facts, per resource type [hits, total]) for one document."""
    e_index, a_index = _index(expected), _index(actual)
    ours: dict[str, list[set[str]]] = defaultdict(list)
    for entry in actual["entry"]:
        ours[entry["resource"]["resourceType"]].append(facts(entry["resource"], a_index))
    hits = total = 0
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for entry in expected["entry"]:
        res = entry["resource"]
        if res["resourceType"] not in SCOPE:
            continue
        wanted = facts(res, e_index)
        if not wanted:
            continue
        best = max((len(wanted & mine) for mine in ours[res["resourceType"]]), default=0)
        hits, total = hits + best, total + len(wanted)
        per_type[res["resourceType"]][0] += best
        per_type[res["resourceType"]][1] += len(wanted)
    return hits, total, per_type


def _pairs() -> list[tuple[str, Path, Path]]:
    pairs = []
    for expected in sorted((MS / "expected" / "Ccda").glob("*/*-expected.json")):
        sample = MS / "samples" / "Ccda" / (expected.name.removesuffix("-expected.json") + ".ccda")
        pairs.append((expected.parent.name, sample, expected))
    return pairs


@pytest.mark.corpus
def test_agreement_with_microsoft_expected_bundles_is_reported_per_document_type() -> None:
    _needs_corpus()
    by_doc_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_res_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for doc_type, sample, expected_path in _pairs():
        hits, total, per_type = agreement(json.loads(expected_path.read_text()), ccda_to_fhir(sample.read_bytes()))
        by_doc_type[doc_type][0] += hits
        by_doc_type[doc_type][1] += total
        for rtype, (h, t) in per_type.items():
            by_res_type[rtype][0] += h
            by_res_type[rtype][1] += t
    report = {k: round(h / t, 3) for k, (h, t) in sorted(by_doc_type.items()) if t}
    print("\nagreement per document type:", json.dumps(report))
    print("agreement per resource type:", json.dumps({k: round(h / t, 3) for k, (h, t) in sorted(by_res_type.items())}))
    overall = sum(h for h, _ in by_doc_type.values()) / sum(t for _, t in by_doc_type.values())
    print(f"overall: {overall:.3f}")
    assert len(report) == 9
    assert overall >= MIN_AGREEMENT
    assert all(value >= MIN_AGREEMENT for value in report.values()), report


def test_facts_compare_codes_dates_at_day_precision_and_resolve_medication_references() -> None:
    expected = {"entry": [
        {"fullUrl": "urn:uuid:m", "resource": {"resourceType": "Medication", "id": "m",
                                               "code": {"coding": [{"system": "s", "code": "1"}]}}},
        {"fullUrl": "urn:uuid:s", "resource": {"resourceType": "MedicationStatement", "id": "s",
                                               "medicationReference": {"reference": "Medication/m"},
                                               "effectiveDateTime": "2020-01-02T03:04:05Z"}}]}
    actual = {"entry": [{"fullUrl": "urn:uuid:x", "resource": {
        "resourceType": "MedicationStatement", "id": "x", "effectiveDateTime": "2020-01-02",
        "medicationCodeableConcept": {"coding": [{"system": "s", "code": "1"}]}}}]}
    hits, total, _ = agreement(expected, actual)
    assert (hits, total) == (2, 2)
    actual["entry"][0]["resource"]["effectiveDateTime"] = "2020-01-03"
    assert agreement(expected, actual)[0] == 1
