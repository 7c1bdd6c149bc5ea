"""HL7v2 datatype -> FHIR datatype mappings (IG datatype maps)."""

from __future__ import annotations

import pytest

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.hl7v2.codes import system_uri
from hl7bridge.transforms.hl7v2.datatypes import cwe, cx, dtm, ed_attachment, ei, number, sn_value, xad, xpn, xtn
from hl7bridge.transforms.hl7v2.encoding import DEFAULT as ENC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024", "2024"),
        ("202403", "2024-03"),
        ("20240315", "2024-03-15"),
        ("2024031508", "2024-03-15T08:00:00Z"),
        ("202403150830", "2024-03-15T08:30:00Z"),
        ("20240315083015", "2024-03-15T08:30:15Z"),
        ("20240315083015.123", "2024-03-15T08:30:15.123Z"),
        ("20240315083015-0500", "2024-03-15T08:30:15-05:00"),
        ("198908181126+0215", "1989-08-18T11:26:00+02:15"),
        ("", None),
    ],
)
def test_dtm_keeps_precision_and_offset(text: str, expected: str | None) -> None:
    assert dtm(text, "Z", "PID-7") == expected


def test_dtm_uses_given_zone_only_without_offset() -> None:
    assert dtm("20240315083015", "-04:00", "X") == "2024-03-15T08:30:15-04:00"
    assert dtm("20240315083015+0100", "-04:00", "X") == "2024-03-15T08:30:15+01:00"


@pytest.mark.parametrize("text", ["2024-03-15", "20241315", "20240315256000", "abc", "2024031508301"])
def test_dtm_rejects_malformed_values_with_location(text: str) -> None:
    with pytest.raises(ParseError) as info:
        dtm(text, "Z", "PID-7")
    assert info.value.location == "PID-7" and info.value.hl7_code == 102
    assert text not in str(info.value)


def test_cx_with_iso_authority_and_type() -> None:
    ident = cx("12345^^^HOSP&2.16.840.1.113883.19&ISO^MR^^20200101^20301231", ENC)
    assert ident == {"value": "12345", "system": "urn:oid:2.16.840.1.113883.19",
                     "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR",
                                          "display": "Medical record number"}]},
                     "period": {"start": "2020-01-01", "end": "2030-12-31"}}


def test_cx_local_identifier_type_is_not_claimed_for_table_0203() -> None:
    # IG CX.5 goes through the IdentifierType map: a sender's own code ('MRN') keeps no system, so a
    # validator never finds a code that table 0203 does not have; a newer 0203 code (PLAC) keeps it.
    assert cx("1^^^HOSP^MRN", ENC)["type"] == {"coding": [{"code": "MRN"}]}
    assert cx("1^^^HOSP^PLAC", ENC)["type"]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/v2-0203"
    assert cx("1^^^HOSP^NNGBR", ENC)["type"]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/v2-0203"


def test_cx_namespace_only_default_and_ssn() -> None:
    assert cx("1^^^HOSP^MR", ENC)["system"] == "urn:hl7bridge:id:HOSP"
    assert cx("1", ENC, "urn:oid:1.2.3")["system"] == "urn:oid:1.2.3"
    assert cx("123-45-6789^^^SSA^SS", ENC)["system"] == "http://hl7.org/fhir/sid/us-ssn"
    assert cx("^^^HOSP", ENC) is None


def test_ei_uses_universal_id() -> None:
    assert ei("ORD1^EHR^1.2.3^ISO", ENC) == {"system": "urn:oid:1.2.3", "value": "ORD1"}
    assert ei("ORD1^EHR", ENC) == {"system": "urn:hl7bridge:id:EHR", "value": "ORD1"}


def test_xpn_maps_parts_and_use() -> None:
    assert xpn("Doe&Van^Jane^Q^Jr^Dr^PhD^L", ENC) == {
        "family": "Doe", "given": ["Jane", "Q"], "prefix": ["Dr"], "suffix": ["Jr", "PhD"], "use": "official"}
    assert xpn("^^", ENC) is None


def test_xpn_decodes_escapes() -> None:
    assert xpn("O\\T\\Brien^Ann", ENC)["family"] == "O&Brien"


def test_xad_maps_lines_and_type() -> None:
    assert xad("1 Main St^Apt 2^Town^IL^60601^USA^M^^Cook", ENC) == {
        "line": ["1 Main St", "Apt 2"], "city": "Town", "state": "IL", "postalCode": "60601", "country": "USA",
        "district": "Cook", "type": "postal"}
    assert xad("1 Main St^^^^^^H", ENC)["use"] == "home"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("^NET^Internet^a@b.org", {"system": "email", "value": "a@b.org"}),
        ("^PRN^PH^^1^217^5551234^12", {"system": "phone", "value": "+1 (217) 5551234 ext. 12", "use": "home"}),
        ("(555)555-1234^WPN^FX", {"system": "fax", "value": "(555)555-1234", "use": "work"}),
        ("5551234^PRN^CP", {"system": "phone", "use": "mobile", "value": "5551234"}),
        ("^^PH^^^^^^^^^+15551234", {"system": "phone", "value": "+15551234"}),
    ],
)
def test_xtn_to_contact_point(text: str, expected: dict) -> None:
    assert xtn(text, ENC) == expected


def test_cwe_codings_text_and_systems() -> None:
    concept = cwe("8867-4^Heart rate^LN^HR^Pulse^99LOC^2.68^^Pulse rate", ENC)
    assert concept == {"coding": [
        {"system": "http://loinc.org", "version": "2.68", "code": "8867-4", "display": "Heart rate"},
        {"system": "urn:hl7bridge:codesystem:99LOC", "code": "HR", "display": "Pulse"}], "text": "Pulse rate"}
    assert cwe("^Only text", ENC) == {"text": "Only text"}
    assert cwe('""', ENC) is None


@pytest.mark.parametrize(
    ("name", "uri"),
    [("HL70004", "http://terminology.hl7.org/CodeSystem/v2-0004"), ("SCT", "http://snomed.info/sct"),
     ("I10", "http://hl7.org/fhir/sid/icd-10"), ("CVX", "http://hl7.org/fhir/sid/cvx"),
     ("2.16.840.1.113883.6.1", "urn:oid:2.16.840.1.113883.6.1"), ("http://x.org/cs", "http://x.org/cs")],
)
def test_coding_system_names(name: str, uri: str) -> None:
    assert system_uri(name) == uri


def test_sn_range_ratio_and_comparator() -> None:
    assert sn_value("^10^-^20", ENC, "OBX-5") == ("valueRange", {"low": {"value": 10}, "high": {"value": 20}})
    assert sn_value("^1^:^128", ENC, "OBX-5") == ("valueRatio", {"numerator": {"value": 1}, "denominator": {"value": 128}})
    assert sn_value(">^2.5", ENC, "OBX-5") == ("valueQuantity", {"value": 2.5, "comparator": ">"})


def test_number_rejects_text() -> None:
    assert number("-1.50", "OBX-5") == -1.5
    with pytest.raises(ParseError, match="OBX-5"):
        number("12 mg", "OBX-5")


def test_ed_attachment_keeps_base64_and_encodes_text() -> None:
    assert ed_attachment("^application^pdf^Base64^SGVs\nbG8=", ENC) == {"contentType": "application/pdf", "data": "SGVsbG8="}
    assert ed_attachment("^TEXT^^A^hi", ENC)["data"] == "aGk="
    with pytest.raises(ParseError):
        ed_attachment("^AP^PDF^Base64^<not base64>", ENC)


def test_malformed_validity_dates_are_left_out_not_fatal() -> None:
    assert "period" not in xpn("Doe^Jane^^^^^L^^^^^notadate^20301231x", ENC)
    assert xpn("Doe^Jane^^^^^L^^^^^20200101", ENC)["period"] == {"start": "2020-01-01"}
