"""PRT participations (PractitionerRole, Device, location), OBX-18 devices and PL identifiers."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

MSH = "MSH|^~\\&|APP|FAC|RCV|RFAC|20240101120000+0000||{kind}|MSG1|P|2.8"
PID = "PID|1||PT-100^^^HOSP^MR||Testname^Alpha||19800101|F"
DEVICE_PRT = ("PRT||CO||CP||PPT|||Ward A^101^B^Site One^^N|DEV-1^NSX||||||00612345000011^^2.51.1.1^ISO|"
              "20200401|20300712|LOT-7|SER-9")


def _bundle(*segments: str, kind: str = "ADT^A01^ADT_A01") -> dict:
    return hl7v2_to_fhir("\r".join((MSH.format(kind=kind),) + segments), strict=True)


def _all(bundle: dict, rtype: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def _by_url(bundle: dict, url: str) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == url)


def test_prt_device_after_procedure_is_a_device_performer() -> None:
    bundle = _bundle(PID, "PV1|1|I", "PR1|1||71045^Chest xray^C4||20240101", DEVICE_PRT)
    proc = _all(bundle, "Procedure")[0]
    device = _by_url(bundle, proc["performer"][0]["actor"]["reference"])
    assert device["identifier"] == [{"system": "urn:hl7bridge:id:NSX", "value": "DEV-1"}]
    assert device["udiCarrier"] == [{"deviceIdentifier": "00612345000011", "issuer": "urn:oid:2.51.1.1"}]
    assert (device["manufactureDate"], device["expirationDate"]) == ("2020-04-01", "2030-07-12")
    assert (device["lotNumber"], device["serialNumber"]) == ("LOT-7", "SER-9")
    assert _by_url(bundle, proc["location"]["reference"])["name"] == "B"  # the bed of PRT-9
    assert not _all(bundle, "PractitionerRole")  # no person: no role


def test_prt_after_obx_device_location_and_person() -> None:
    bundle = _bundle(PID, "OBR|1|PL1|FL1|8867-4^Heart rate^LN", "OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F",
                     "PRT||AD||AD||||Lab Org|Bench 3^^^Site One|EQ-5^^1.2.3.4^ISO",
                     "PRT||AD||AD|P77^Doctor^Delta", kind="ORU^R01^ORU_R01")
    obs = _all(bundle, "Observation")[0]
    device = _by_url(bundle, obs["device"]["reference"])
    assert device["identifier"][0]["system"] == "urn:oid:1.2.3.4"
    assert device["identifier"][0]["type"]["coding"][0]["code"] == "ISO"
    place = obs["extension"][0]
    assert place["url"] == "http://hl7.org/fhir/StructureDefinition/event-location"
    assert _by_url(bundle, place["valueReference"]["reference"])["name"] == "Bench 3"
    kinds = [_by_url(bundle, p["reference"])["resourceType"] for p in obs["performer"]]
    assert kinds == ["Organization", "PractitionerRole"]


def test_obx18_repetitions_make_one_device_with_typed_identifiers() -> None:
    bundle = _bundle(PID, "OBR|1|PL1|FL1|8867-4^Heart rate^LN",
                     "OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F|||||||EQ-9^NS^0f0e0d0c-1111-2222-3333-444455556666^GUID"
                     "~^^1.2.840.99^ISO", kind="ORU^R01^ORU_R01")
    device = _by_url(bundle, _all(bundle, "Observation")[0]["device"]["reference"])
    assert device["identifier"] == [
        {"system": "urn:uuid:0f0e0d0c-1111-2222-3333-444455556666", "value": "EQ-9",
         "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0301", "code": "GUID"}]}},
        {"system": "urn:oid:1.2.840.99",
         "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0301", "code": "ISO"}]}}]


def test_prt_after_orc_supports_the_order_and_op_is_the_requester() -> None:
    bundle = _bundle(PID, "ORC|NW|PLC-1|FIL-1", "PRT||AD||OP^Ordering Provider^HL70443|D12^Doctor^Delta",
                     "PRT||AD||AD||||Order Org||DEV-3^NSX", "OBR|1|PLC-1|FIL-1|8867-4^Heart rate^LN",
                     kind="ORM^O01^ORM_O01")
    order = _all(bundle, "ServiceRequest")[0]
    role = _by_url(bundle, order["requester"]["reference"])
    assert role["resourceType"] == "PractitionerRole" and "practitioner" in role
    supports = [_by_url(bundle, s["reference"]) for s in order["supportingInfo"]]
    assert [s["resourceType"] for s in supports] == ["Organization", "Device"]


def test_prt_after_rxo_supports_the_medication_request() -> None:
    bundle = _bundle(PID, "ORC|NW|PLC-2", "RXO|RX100^Drug one^L|1||mg", DEVICE_PRT, kind="OMP^O09^OMP_O09")
    request = _all(bundle, "MedicationRequest")[0]
    kinds = [_by_url(bundle, s["reference"])["resourceType"] for s in request["supportingInformation"]]
    assert "Device" in kinds


def test_pl_universal_id_type_decides_the_location_identifier() -> None:
    bundle = _bundle(PID, "PV1|1|I|W1&9.8&L^R1^B1", "PV1|2|I|W1&9.8&ISO^R1^B1")
    idents = sorted((loc["identifier"][0].get("value"), loc["identifier"][0].get("system", ""))
                    for loc in _all(bundle, "Location") if loc["name"] == "W1")
    assert idents == [("9.8", ""), ("urn:oid:9.8", "urn:ietf:rfc:3986")]


def test_prt_before_txa_authors_the_document() -> None:
    bundle = _bundle(PID, "ORC|RE|PLC-3|FIL-3", "OBR|1|PLC-3|FIL-3|11488-4^Consult note^LN",
                     "PRT||AD||AD||||Doc Org||DEV-8^NSX",
                     "TXA|1|CN|TX|20240101||||||||DOC-77|||||AU", kind="ORU^R01^ORU_R01")
    documents = _all(bundle, "DocumentReference")
    kinds = sorted(_by_url(bundle, a["reference"])["resourceType"] for a in documents[0].get("author", []))
    assert {"Device", "Organization"} <= set(kinds)
