"""The transaction Bundle builder: stable ids, conditional requests, one entry per key."""

from __future__ import annotations

import uuid

from hl7bridge.transforms.fhir.bundle import NAMESPACE, BundleBuilder, uuid5_str


def test_fast_uuid5_matches_the_standard_library() -> None:
    for name in ("", "Patient|urn:oid:1.2|7", "é|ü|\u674e"):
        assert uuid5_str(name) == str(uuid.uuid5(NAMESPACE, name))


def test_identifier_makes_a_conditional_update_with_escaped_token() -> None:
    bundle = BundleBuilder("APP|FAC|1")
    bundle.add({"resourceType": "Patient"}, "k", {"system": "urn:x", "value": "A|B C"})
    entry = bundle.to_bundle()["entry"][0]
    assert entry["request"] == {"method": "PUT", "url": "Patient?identifier=urn:x|A%5C%7CB%20C"}
    assert "id" not in entry["resource"]


def test_referenced_resources_are_created_only_if_absent() -> None:
    bundle = BundleBuilder("s")
    bundle.add({"resourceType": "Practitioner"}, "k", {"system": "urn:npi", "value": "1"}, create_only=True)
    request = bundle.to_bundle()["entry"][0]["request"]
    assert request == {"method": "POST", "url": "Practitioner", "ifNoneExist": "identifier=urn:npi|1"}


def test_without_identifier_the_id_comes_from_the_key_not_the_message() -> None:
    first, second = BundleBuilder("msg-1"), BundleBuilder("msg-2")
    for bundle in (first, second):
        bundle.add({"resourceType": "Observation"}, "Observation|p|1-1")
    a, b = first.to_bundle()["entry"][0], second.to_bundle()["entry"][0]
    assert a["request"] == b["request"] and a["request"]["url"].startswith("Observation/")
    assert a["fullUrl"] != b["fullUrl"]


def test_first_resource_under_a_key_wins_and_keys_are_recoverable() -> None:
    bundle = BundleBuilder("s")
    ref = bundle.add({"resourceType": "Location", "name": "A"}, "L|1")
    assert bundle.add({"resourceType": "Location", "name": "B"}, "L|1") == ref
    assert [r["name"] for r in bundle.resources("Location")] == ["A"]
    assert bundle.key_of(ref) == "L|1"
