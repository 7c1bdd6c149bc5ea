"""Result reports and documents, last stretch: OBR-32/34/35 as IG NDL[PractitionerRole] (practitioner,
period, NDL.4-11 location hierarchy), table 0443 roles for technician / transcriptionist, and TXA-5 as
a DocumentReference related resource (synthetic messages, no real data)."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir
from hl7v2_builders import msg, of_type, resolve

PID = "PID|1||T-300^^^TESTHOSP&1.2.3&ISO^MR||Testperson^Alex||19800101|F"
V2 = "http://terminology.hl7.org/CodeSystem/v2-"
LPT = "http://terminology.hl7.org/CodeSystem/location-physical-type"


def obr(fields: dict[int, str]) -> str:
    base = {1: "1", 2: "P1^EHR", 3: "F1^LAB", 4: "1234-5^Panel^LN", 25: "F"}
    base.update(fields)
    return "|".join(["OBR"] + [base.get(n, "") for n in range(1, max(base) + 1)])


def chain(bundle: dict, location: dict) -> list[tuple[str, str]]:
    """(name, physical type) from the most specific Location up its partOf chain."""
    out = []
    while True:
        out.append((location["name"], location.get("physicalType", {}).get("coding", [{}])[0].get("code", "")))
        if "partOf" not in location:
            return out
        location = resolve(bundle, location["partOf"])


def test_results_interpreter_is_a_practitioner_role_with_its_location_hierarchy() -> None:
    ndl = "T-7&Reader&Robin^20240101^20240102^Unit-A^Room-1^Bed-2^Site-X&1.2.9&ISO^^^Bldg-B^Floor-3"
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, obr({32: ndl})), strict=True)
    report = of_type(bundle, "DiagnosticReport")[0]
    role = resolve(bundle, report["resultsInterpreter"][0])
    assert role["resourceType"] == "PractitionerRole"
    person = resolve(bundle, role["practitioner"])
    assert person["name"][0]["family"] == "Reader" and person["identifier"][0]["value"] == "T-7"
    assert role["period"] == {"start": "2024-01-01", "end": "2024-01-02"}
    names = chain(bundle, resolve(bundle, role["location"][0]))
    assert names[0] == ("Bed-2", "bd") and names[1] == ("Room-1", "ro")
    assert ("Bldg-B", "bu") in names and ("Floor-3", "lvl") in names and names[-1] == ("Site-X", "si")
    site = of_type(bundle, "Location")
    assert any(i.get("value") == "urn:oid:1.2.9" for loc in site for i in loc.get("identifier", []))
    assert "code" not in role


def test_technician_and_transcriptionist_roles_keep_the_performer_function() -> None:
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, obr({34: "T-8&Tech&Terry^^^Lab-2", 35: "T-9&Typist&Tess"})),
                           strict=True)
    report = of_type(bundle, "DiagnosticReport")[0]
    found = {}
    for performer in report["performer"]:
        function = performer["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]
        found[function] = resolve(bundle, performer)
    assert found["SPRF"]["code"][0]["coding"][0] == {"system": V2 + "0443", "code": "TN"}
    assert found["TRANS"]["code"][0]["coding"][0] == {"system": V2 + "0443", "code": "TR"}
    assert chain(bundle, resolve(bundle, found["SPRF"]["location"][0])) == [("Lab-2", "wa")]
    assert "location" not in found["TRANS"]


def test_one_person_as_interpreter_and_technician_gives_two_roles_one_practitioner() -> None:
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, obr({32: "T-5&Same&Sid", 34: "T-5&Same&Sid"})), strict=True)
    assert len(of_type(bundle, "Practitioner")) == 1
    assert len(of_type(bundle, "PractitionerRole")) == 2


def test_txa_primary_activity_provider_is_a_related_resource_of_the_document() -> None:
    txa = "TXA|1|DS|TX|20240101120000||20240101130000|||||||DOC-1^TESTHOSP||||AU"
    txa = txa.replace("|20240101120000||", "|20240101120000|P-11^Provider^Pat|")
    obx = "OBX|1|TX|note^Note^L||Synthetic text||||||F"
    bundle = hl7v2_to_fhir(msg("MDM^T02", PID, "PV1|1|O", txa, obx), strict=True)
    document = of_type(bundle, "DocumentReference")[0]
    related = [resolve(bundle, r) for r in document["context"]["related"]]
    assert [r["resourceType"] for r in related] == ["Practitioner"]
    assert related[0]["identifier"][0]["value"] == "P-11"


def test_an_obr32_written_as_a_person_not_an_ndl_is_read_as_the_person() -> None:
    """Senders often put an XCN in OBR-32 (id^family^given): NDL.2 is then a name, not a start time."""
    from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

    text = ("MSH|^~\\&|LAB|FAC|EHR|FAC|20240102030405||ORU^R01|CTRL32|P|2.5.1\r"
            "PID|1||P100^^^HOSP^MR||TESTPATIENT^ALPHA||19800101|F\r"
            + "|".join(["OBR", "1", "ORD1", "FIL1", "1234-5^GLUCOSE^LN", "", "", "20240102"] + [""] * 17
                       + ["F"] + [""] * 6 + ["3065^Testdoc^Ann^J"]) + "\r"
            "OBX|1|NM|2345-7^Glucose^LN||95|mg/dL|70-99|N|||F\r")
    bundle = hl7v2_to_fhir(text)
    names = [r["resource"]["name"][0].get("family") for r in bundle["entry"]
             if r["resource"]["resourceType"] == "Practitioner"]
    assert "Testdoc" in names
    report = next(r["resource"] for r in bundle["entry"] if r["resource"]["resourceType"] == "DiagnosticReport")
    assert report["resultsInterpreter"]
