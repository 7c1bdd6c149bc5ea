"""Reading MSH at intake and building ACKs per HL7 (original and enhanced mode)."""

from __future__ import annotations

import pytest

from hl7bridge.engine.acks import build_ack, error_location, read_header
from hl7bridge.engine.errors import MessageError, ParseError

A01 = (b"MSH|^~\\&|LAB|NORTH|EHR|SOUTH|20240102030405||ADT^A01^ADT_A01|CTRL1|P|2.5.1\r"
       b"PID|1||MRN7^^^HOSP^MR~ALT9^^^X||SECRETNAME^ALPHA\r")


def segments(ack: bytes) -> dict[str, list[str]]:
    return {s[:3]: s.split("|") for s in ack.decode().split("\r") if s}


def test_the_header_gives_routing_and_search_fields_without_a_full_parse() -> None:
    h = read_header(A01)
    assert (h.sending_app, h.sending_facility, h.receiving_app, h.receiving_facility) == ("LAB", "NORTH", "EHR", "SOUTH")
    assert (h.message_type, h.trigger_event, h.control_id, h.version) == ("ADT", "A01", "CTRL1", "2.5.1")
    assert h.patient_id == "MRN7" and not h.enhanced


@pytest.mark.parametrize("variant", [
    A01.replace(b"\r", b"\n"), A01.replace(b"\r", b"\r\n"), b"\xef\xbb\xbf" + A01, A01.rstrip(b"\r"),
])
def test_line_ends_a_byte_order_mark_and_a_missing_final_cr_are_tolerated(variant: bytes) -> None:
    assert read_header(variant).control_id == "CTRL1"


def test_other_delimiters_and_a_truncation_character_are_read_from_msh() -> None:
    h = read_header(b"MSH#*!\\%#LAB#F#R#RF#2024##ORU*R01#X9#P#2.7\r")
    assert (h.encoding, h.message_type, h.trigger_event, h.control_id) == ("*!\\%", "ORU", "R01", "X9")


@pytest.mark.parametrize("raw, location, code", [
    (b"garbage", "MSH", 100),
    (b"MSH|^~\\&|A|B|C|D|2024||||P|2.5\r", "MSH-9", 101),
    (b"MSH|^~\\&|A|B|C|D|2024||ADT^A01||P|2.5\r", "MSH-10", 101),
    (b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|X|P|\r", "MSH-12", 101),
    (b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|X|P|9.9\r", "MSH-12", 203),
    (b"MSH|^~|A\r", "MSH-2", 102),
])
def test_a_bad_header_names_the_position_and_the_table_0357_code(raw: bytes, location: str, code: int) -> None:
    with pytest.raises(ParseError) as caught:
        read_header(raw, frozenset({"2.5", "2.5.1"}))
    assert (caught.value.location, caught.value.hl7_code) == (location, code)


def test_the_ack_mirrors_sender_and_receiver_and_echoes_msh_10() -> None:
    ack = segments(build_ack(read_header(A01), "accept", ack_control_id="ACK1"))
    assert ack["MSH"][2:6] == ["EHR", "SOUTH", "LAB", "NORTH"]
    assert ack["MSH"][8] == "ACK^A01^ACK" and ack["MSH"][9] == "ACK1" and ack["MSH"][11] == "2.5.1"
    assert ack["MSA"][1:3] == ["AA", "CTRL1"] and "ERR" not in ack


def test_enhanced_mode_answers_with_commit_codes() -> None:
    header = read_header(A01.replace(b"|P|2.5.1", b"|P|2.5.1|||AL"))
    assert header.enhanced
    assert segments(build_ack(header, "accept", ack_control_id="A"))["MSA"][1] == "CA"
    assert segments(build_ack(header, "error", ack_control_id="A"))["MSA"][1] == "CE"
    assert segments(build_ack(header, "reject", ack_control_id="A"))["MSA"][1] == "CR"


@pytest.mark.parametrize("mode, positive, wanted", [
    ("AL", True, True), ("AL", False, True), ("NE", True, False), ("NE", False, False),
    ("ER", True, False), ("ER", False, True), ("SU", True, True), ("SU", False, False), ("", False, True),
])
def test_msh_15_decides_whether_an_accept_ack_is_sent(mode: str, positive: bool, wanted: bool) -> None:
    header = read_header(A01.replace(b"|P|2.5.1", f"|P|2.5.1|||{mode}".encode()))
    assert header.wants_ack(positive) is wanted


def test_a_nak_carries_err_with_code_and_location_but_no_field_values() -> None:
    raw = A01.replace(b"ADT^A01^ADT_A01", b"")
    with pytest.raises(ParseError) as caught:
        read_header(raw)
    nak = build_ack(caught.value.header, "reject", ack_control_id="N1", error=caught.value)  # type: ignore[attr-defined]
    err = segments(nak)["ERR"]
    assert segments(nak)["MSA"][1:3] == ["AR", "CTRL1"]
    assert err[2] == "MSH^1^9" and err[3] == "101^Required field missing^HL70357" and err[4] == "E"
    assert b"SECRETNAME" not in nak and b"MRN7" not in nak


def test_versions_before_2_5_get_the_err_1_layout() -> None:
    header = read_header(A01.replace(b"2.5.1", b"2.3"))
    stored = build_ack(header, "error", ack_control_id="N", error=MessageError("x", hl7_code=207))
    assert segments(stored)["ERR"][1] == "MSH^^^207&Application internal error&HL70357"
    missing = build_ack(header, "reject", ack_control_id="N", error=ParseError("x", location="MSH-9", hl7_code=101))
    assert segments(missing)["ERR"][1] == "MSH^1^9^101&Required field missing&HL70357"


def test_an_unreadable_header_still_gets_a_reject() -> None:
    nak = build_ack(None, "reject", ack_control_id="N", error=ParseError("no MSH", location="MSH", hl7_code=100))
    assert segments(nak)["MSA"][1] == "AR" and segments(nak)["ERR"][3].startswith("100^")


@pytest.mark.parametrize("location, erl", [("MSH-9", "MSH^1^9"), ("PID-3.1", "PID^1^3^1^1"),
                                           ("OBX[2]-5", "OBX^1^5"), (None, "MSH")])
def test_positions_become_err_2_locations(location: str | None, erl: str) -> None:
    assert error_location(location, "^") == erl
