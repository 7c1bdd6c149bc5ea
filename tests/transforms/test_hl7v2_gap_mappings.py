"""Segments and fields mapped to close gaps against Microsoft's expected output, each per the IG spreadsheets."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

PID = "PID|1||12345^^^HOSP&1.2.3&ISO^MR||Doe^Jane||19800101|F"


def msg(kind: str, *segments: str) -> str:
    header = f"MSH|^~\\&|APP|HOSP^1.2.3^ISO|RCV|FAC|20240102030405-0500||{kind}|C1|P|2.5.1"
    return "\r".join((header,) + segments) + "\r"


def of_type(bundle: dict, rtype: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def test_pid21_mother_identifier_becomes_a_mother_related_person() -> None:
    bundle = hl7v2_to_fhir(msg("ADT^A01", PID + "|||||||||||||M-777^^^HOSP&1.2.3&ISO^MR"), strict=True)
    mother = next(r for r in of_type(bundle, "RelatedPerson") if r["relationship"][0]["coding"][0]["code"] == "MTH")
    assert mother["identifier"][0]["value"] == "M-777"
    assert mother["patient"]["reference"] == next(e["fullUrl"] for e in bundle["entry"]
                                                  if e["resource"]["resourceType"] == "Patient")


def test_no_pid21_no_mother() -> None:
    assert of_type(hl7v2_to_fhir(msg("ADT^A01", PID)), "RelatedPerson") == []
