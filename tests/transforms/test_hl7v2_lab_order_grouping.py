"""An ORC that follows its OBR (OUL_R22 / R23 / R24 ORDER: OBR, PRT, [ORC], NTE, TQ1, OBX) completes the order
that OBR opened, as an ORC before its OBR does everywhere else -- on small synthetic messages."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir
from hl7v2_builders import V2, msg, of_type, resolve, seg

PID = "PID|1||T-300^^^TESTHOSP&1.2.3&ISO^MR||Testperson^Lab||19800101|F"
SPM = seg("SPM", {1: "1", 2: "SP-1&LAB", 4: "BLD^Blood^HL70487"})
OBR = seg("OBR", {1: "1", 4: "2345-7^Glucose^LN", 7: "20240101080000", 22: "20240101090000", 25: "F"})
OBX = seg("OBX", {1: "1", 2: "NM", 3: "2345-7^Glucose^LN", 5: "5.4", 6: "mmol/L", 11: "F"})
LATE_ORC = seg("ORC", {1: "SC", 2: "PL-1^EHR", 3: "FL-1^LAB", 5: "CM", 12: "D-1^Orderer^Olive",
                       21: "Test Clinic^^^^^^XX^^^TC-1"})


def _codes(resource: dict) -> dict[str, str]:
    return {i["type"]["coding"][0]["code"]: i["value"] for i in resource.get("identifier", []) if "type" in i}


def test_an_orc_after_its_obr_gives_the_order_its_numbers_requester_and_status() -> None:
    bundle = hl7v2_to_fhir(msg("OUL^R22", PID, SPM, OBR, LATE_ORC, OBX), strict=True)
    [request] = of_type(bundle, "ServiceRequest")
    assert _codes(request) == {"PLAC": "PL-1", "FILL": "FL-1"}  # IG ORC[ServiceRequest] rows 2 / 3
    assert request["status"] == "completed"  # ORC-5 CM through the OrderStatus map
    role = resolve(bundle, request["requester"])  # ORC-12 with ORC-21
    assert resolve(bundle, role["practitioner"])["name"][0]["family"] == "Orderer"
    assert resolve(bundle, role["organization"])["name"] == "Test Clinic"
    [report] = of_type(bundle, "DiagnosticReport")
    assert _codes(report) == {"PLAC": "PL-1", "FILL": "FL-1"}  # IG ORC[DiagnosticReport] rows 2 / 3
    assert report["basedOn"] == [{"reference": next(e["fullUrl"] for e in bundle["entry"]
                                                    if e["resource"] is request)}]
    assert len(report["result"]) == 1  # the OBX after the ORC is still the report's result


def test_the_obr_numbers_stay_when_the_following_orc_sends_none() -> None:
    obr = seg("OBR", {1: "1", 2: "PL-9^EHR", 3: "FL-9^LAB", 4: "2345-7^Glucose^LN", 25: "F"})
    bundle = hl7v2_to_fhir(msg("OUL^R22", PID, SPM, obr, "ORC|SC|||GRP-1^EHR"), strict=True)
    [request] = of_type(bundle, "ServiceRequest")
    assert _codes(request) == {"PLAC": "PL-9", "FILL": "FL-9"}
    assert request["requisition"]["value"] == "GRP-1"  # ORC-4 (EI): the placer group number
    [report] = of_type(bundle, "DiagnosticReport")
    assert _codes(report)["PGN"] == "GRP-1"  # IG ORC[DiagnosticReport] row 4


def test_prt_between_the_obr_and_its_orc_does_not_separate_them() -> None:
    prt = seg("PRT", {2: "AD", 4: "CP", 5: "D-2^Consultant^Carl"})
    bundle = hl7v2_to_fhir(msg("OUL^R24", PID, OBR, prt, LATE_ORC, OBX), strict=True)
    assert len(of_type(bundle, "ServiceRequest")) == 1
    assert _codes(of_type(bundle, "ServiceRequest")[0])["FILL"] == "FL-1"


def test_each_order_takes_the_orc_that_follows_its_own_obr() -> None:
    obr2 = seg("OBR", {1: "2", 4: "718-7^Hemoglobin^LN", 7: "20240101080000", 25: "F"})
    orc2 = seg("ORC", {1: "SC", 2: "PL-2^EHR", 3: "FL-2^LAB", 12: "D-3^Second^Sue"})
    obx2 = seg("OBX", {1: "1", 2: "NM", 3: "718-7^Hemoglobin^LN", 5: "13", 11: "F"})
    bundle = hl7v2_to_fhir(msg("OUL^R24", PID, OBR, LATE_ORC, OBX, obr2, orc2, obx2), strict=True)
    by_code = {r["code"]["coding"][0]["code"]: r for r in of_type(bundle, "ServiceRequest")}
    assert _codes(by_code["2345-7"])["FILL"] == "FL-1" and _codes(by_code["718-7"])["FILL"] == "FL-2"
    orderer = resolve(bundle, resolve(bundle, by_code["718-7"]["requester"])["practitioner"])
    assert orderer["name"][0]["family"] == "Second"
    reports = {r["code"]["coding"][0]["code"]: r for r in of_type(bundle, "DiagnosticReport")}
    assert [resolve(bundle, x)["code"]["coding"][0]["code"] for x in reports["718-7"]["result"]] == ["718-7"]


def test_nte_and_tq1_after_a_following_orc_stay_on_its_order() -> None:
    nte = seg("NTE", {1: "1", 3: "Fasting sample"})
    tq1 = seg("TQ1", {1: "1", 9: "S"})
    bundle = hl7v2_to_fhir(msg("OUL^R22", PID, SPM, OBR, LATE_ORC, nte, tq1, OBX), strict=True)
    [request] = of_type(bundle, "ServiceRequest")
    assert request["note"] == [{"text": "Fasting sample"}]
    assert request["priority"] == "stat"


def test_prt_after_a_following_orc_joins_that_order_not_the_next() -> None:
    prt = seg("PRT", {2: "AD", 4: "CP", 5: "D-4^Copy^Cora"})
    obr2 = seg("OBR", {1: "2", 4: "718-7^Hemoglobin^LN", 25: "F"})
    orc2 = seg("ORC", {1: "SC", 3: "FL-2^LAB"})
    bundle = hl7v2_to_fhir(msg("OUL^R24", PID, OBR, LATE_ORC, prt, OBX, obr2, orc2), strict=True)
    by_code = {r["code"]["coding"][0]["code"]: r for r in of_type(bundle, "ServiceRequest")}
    people = [resolve(bundle, resolve(bundle, s).get("practitioner", s)) for s in by_code["2345-7"].get("supportingInfo", [])]
    assert [p["name"][0]["family"] for p in people] == ["Copy"]
    assert "supportingInfo" not in by_code["718-7"]


def test_an_orc_after_an_obr_in_an_oru_still_opens_the_next_order() -> None:
    # ORU_R01 ORDER_OBSERVATION is ORC, OBR: an ORC after an OBR belongs to the OBR after it.
    orc1 = seg("ORC", {1: "RE", 3: "FL-1^LAB"})
    orc2 = seg("ORC", {1: "RE", 3: "FL-2^LAB", 12: "D-5^Next^Nina"})
    obr2 = seg("OBR", {1: "2", 4: "718-7^Hemoglobin^LN", 25: "F"})
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, orc1, OBR, orc2, obr2), strict=True)
    by_code = {r["code"]["coding"][0]["code"]: r for r in of_type(bundle, "ServiceRequest")}
    assert _codes(by_code["2345-7"]) == {"FILL": "FL-1"} and "requester" not in by_code["2345-7"]
    assert _codes(by_code["718-7"]) == {"FILL": "FL-2"} and "requester" in by_code["718-7"]


def test_an_order_message_orc_before_its_obr_is_unchanged() -> None:
    orc = seg("ORC", {1: "NW", 2: "PL-7^EHR", 9: "20240101070000", 12: "D-6^Orderer^Otto"})
    bundle = hl7v2_to_fhir(msg("OML^O21", PID, orc, seg("OBR", {1: "1", 4: "2345-7^Glucose^LN"})), strict=True)
    [request] = of_type(bundle, "ServiceRequest")
    assert _codes(request) == {"PLAC": "PL-7"} and request["status"] == "active"
    assert request["authoredOn"].startswith("2024-01-01T07:00:00")
    role = resolve(bundle, request["requester"])
    assert role["code"] == [{"coding": [{"system": V2 + "0443", "code": "OP"}]}]


def test_in_oul_r22_each_spm_encloses_the_orders_after_it() -> None:
    spm2 = seg("SPM", {1: "2", 2: "SP-2&LAB", 4: "UR^Urine^HL70487"})
    obr2 = seg("OBR", {1: "2", 4: "5811-5^Specific gravity^LN", 7: "20240101080000", 25: "F"})
    bundle = hl7v2_to_fhir(msg("OUL^R22", PID, SPM, OBR, LATE_ORC, OBX, spm2, obr2, "ORC|SC||FL-2^LAB"), strict=True)
    specimen = {s["identifier"][0]["value"]: {"reference": e["fullUrl"]} for e in bundle["entry"]
                for s in [e["resource"]] if s["resourceType"] == "Specimen" and "identifier" in s}
    requests = {r["code"]["coding"][0]["code"]: r for r in of_type(bundle, "ServiceRequest")}
    reports = {r["code"]["coding"][0]["code"]: r for r in of_type(bundle, "DiagnosticReport")}
    for code, mine, other in (("2345-7", "SP-1", "SP-2"), ("5811-5", "SP-2", "SP-1")):
        assert requests[code]["specimen"] == [specimen[mine]]
        assert specimen[mine] in reports[code]["specimen"] and specimen[other] not in reports[code]["specimen"]


def test_an_nte_after_the_order_document_is_a_note_on_the_order() -> None:
    # v2.8 OUL_R22 ORDER: OBR, [ORC, [OBX, TXA]], NTE: the NTE is the order's, not the document's.
    doc_obx = seg("OBX", {1: "1", 2: "ED", 5: "^TEXT^PLAIN^Base64^SGVsbG8="})
    txa = seg("TXA", {1: "1", 2: "CN", 4: "20240101080000", 12: "DOC-1^LAB", 17: "AU"})
    nte = seg("NTE", {1: "1", 3: "Haemolysed", 5: "D-8^Noter^Nora", 6: "20240101100000"})
    bundle = hl7v2_to_fhir(msg("OUL^R22", PID, SPM, OBR, LATE_ORC, doc_obx, txa, nte, OBX), strict=True)
    [request] = of_type(bundle, "ServiceRequest")
    [note] = request["note"]
    assert note["text"] == "Haemolysed" and note["time"].startswith("2024-01-01T10:00:00")
    assert resolve(bundle, note["authorReference"])["name"][0]["family"] == "Noter"
    assert "note" not in of_type(bundle, "DocumentReference")[0]
