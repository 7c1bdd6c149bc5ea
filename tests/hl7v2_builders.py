"""Small builders for synthetic HL7v2 test messages and for reading the Bundles they become."""

from __future__ import annotations

V2 = "http://terminology.hl7.org/CodeSystem/v2-"


def msg(kind: str, *segments: str) -> str:
    """A message of type ``kind`` (e.g. ``ORM^O01``) from a fixed synthetic MSH and the given segments."""
    header = f"MSH|^~\\&|APP|TESTHOSP^1.2.3^ISO|RCV|FAC|20240102030405-0500||{kind}|C1|P|2.5.1"
    return "\r".join((header,) + segments) + "\r"


def seg(name: str, fields: dict[int, str]) -> str:
    """A segment from {field number: ER7 text}; fields not given are empty."""
    return "|".join([name] + [fields.get(n, "") for n in range(1, max(fields) + 1)])


def of_type(bundle: dict, rtype: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def resolve(bundle: dict, ref: dict) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == ref["reference"])
