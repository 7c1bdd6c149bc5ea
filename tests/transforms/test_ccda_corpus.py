"""Every full C-CDA document in ../shared/corpora converts, the Bundle validates as FHIR R4 (R4B models)
and meets the US Core 6.1 profiles its resources declare, invariants included (docs/ccda.md).

"Full" means a namespaced ClinicalDocument with a recordTarget; the HL7 examples repository also
holds stubbed fragments (no namespace, no header), which must be refused with a ParseError.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.ccda.context import Context
from hl7bridge.transforms.ccda.document import document_type
from hl7bridge.transforms.ccda_to_fhir import ccda_to_fhir
from hl7bridge.transforms.fhir.uscore import checker_for
from hl7bridge.transforms.xml_safety import parse_xml

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
_FULL = re.compile(rb'<ClinicalDocument[^>]*xmlns="urn:hl7-org:v3"', re.S)


def _needs_corpus() -> None:
    if not (CORPORA / "hl7-ccda-examples").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus missing at {CORPORA}")
        pytest.skip(f"corpus not found at {CORPORA} (../shared/corpora is not part of a fresh clone)")


def _documents() -> list[Path]:
    found = sorted((CORPORA / "microsoft-fhir-converter" / "samples" / "Ccda").glob("*.ccda"))
    found += sorted(p for p in (CORPORA / "hl7-ccda-examples").rglob("*") if p.suffix.lower() == ".xml")
    return [p for p in found if b"<ClinicalDocument" in p.read_bytes()]


@pytest.mark.corpus
def test_every_full_document_converts_and_validates_and_stubs_are_refused_cleanly() -> None:
    _needs_corpus()
    converted, stubs, types = 0, 0, Counter()
    for path in _documents():
        data = path.read_bytes()
        if not _FULL.search(data):
            with pytest.raises(ParseError):
                ccda_to_fhir(data)
            stubs += 1
            continue
        bundle = ccda_to_fhir(data)
        Bundle.model_validate(bundle)
        assert bundle["entry"][0]["resource"]["resourceType"] == "Composition", path.name
        types[document_type(Context(parse_xml(data), data))] += 1
        converted += 1
    print(f"\nconverted {converted} full documents ({dict(types)}); {stubs} stubs refused")
    assert converted >= 40
    assert {"ccd", "discharge_summary", "referral_note", "progress_note", "consultation_note",
            "history_and_physical"} <= set(types)


@pytest.mark.corpus
def test_every_full_document_also_converts_as_a_transaction() -> None:
    _needs_corpus()
    for path in _documents()[:22]:
        data = path.read_bytes()
        if _FULL.search(data):
            Bundle.model_validate(ccda_to_fhir(data, bundle_type="transaction"))



@pytest.mark.corpus
def test_every_full_document_meets_the_us_core_profiles_it_declares() -> None:
    _needs_corpus()
    checker = checker_for(CORPORA)
    if checker is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"US Core 6.1 missing under {CORPORA}")
        pytest.skip(f"US Core 6.1 not found under {CORPORA}")
    documents, issues = 0, []
    for path in _documents():
        data = path.read_bytes()
        if _FULL.search(data):
            documents += 1
            issues += [f"{path.name} {issue}" for issue in checker.check_bundle(ccda_to_fhir(data))]
    print(f"\n{documents} documents, {len(issues)} US Core issues")
    # "<file> entry[i] <profile>: <what> at <where>" -> "<profile>: <what>", counted per kind.
    for kind, count in Counter(i.split("] ", 1)[1].split(" at ")[0] for i in issues).most_common():
        print(f"  {count:4}  {kind}")
    assert documents >= 40
    assert issues == []
