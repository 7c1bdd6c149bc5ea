"""Small builders for synthetic HL7v2 test messages and for reading the Bundles they become."""

from __future__ import annotations

V2 = "http://terminology.hl7.org/CodeSystem/v2-"


def msg(kind: str, *segments: str, facility: str = "TESTHOSP", sent: str = "20240102030405-0500",
        control: str = "C1") -> str:
    """A message of type ``kind`` (e.g. ``ORM^O01``) from a synthetic MSH (sending facility
    ``facility``^1.2.3^ISO, MSH-7 ``sent``, MSH-10 ``control``) and the given segments."""
    header = f"MSH|^~\\&|APP|{facility}^1.2.3^ISO|RCV|FAC|{sent}||{kind}|{control}|P|2.5.1"
    return "\r".join((header,) + segments) + "\r"


def seg(name: str, fields: dict[int, str]) -> str:
    """A segment from {field number: ER7 text}; fields not given are empty."""
    return "|".join([name] + [fields.get(n, "") for n in range(1, max(fields) + 1)])


def of_type(bundle: dict, rtype: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def url_of(bundle: dict, resource: dict) -> str:
    return next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is resource)


def entry_of(bundle: dict, resource: dict) -> dict:
    return next(e for e in bundle["entry"] if e["resource"] is resource)


def resolve(bundle: dict, ref: dict) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == ref["reference"])
