"""The lazy HL7v2 parse model: parsing tolerance, paths, escapes, writes, batches."""

from __future__ import annotations

import pytest

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.hl7v2.batch import split_batch
from hl7bridge.transforms.hl7v2.message import Message
from hl7bridge.transforms.hl7v2.path import parse_path

ADT = (
    "MSH|^~\\&|EPIC|HOSP|RCV|FAC|20240102030405-0500||ADT^A01^ADT_A01|MSG0001|P|2.5.1\r"
    "EVN|A01|20240102030405\r"
    "PID|1||12345^^^HOSP^MR~999-88-7777^^^SSA^SS||Doe^Jane^Q^^Dr&Prof||19800101|F\r"
    "NK1|1|Doe^John|SPO\r"
    "NK1|2|Roe^Rita|MTH\r"
    "ZPI|custom|value\r"
)


def test_header_shortcuts_read_msh() -> None:
    msg = Message.parse(ADT)
    assert (msg.message_type, msg.trigger_event, msg.control_id, msg.version) == ("ADT", "A01", "MSG0001", "2.5.1")


def test_msh1_and_msh2_follow_hl7_numbering() -> None:
    msg = Message.parse(ADT)
    assert msg.get("MSH-1") == "|"
    assert msg.get("MSH-2") == "^~\\&"
    assert msg.get("MSH-3") == "EPIC"
    assert msg.get("MSH-9.3") == "ADT_A01"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("PID-3[1].1", "12345"),
        ("PID-3.4", "HOSP"),
        ("PID-3[2].5", "SS"),
        ("PID-3[3].1", None),
        ("PID-5.5.2", "Prof"),
        ("PID-5.5", "Dr&Prof"),
        ("PID-8", "F"),
        ("PID-30", None),
        ("NK1[2]-2.1", "Roe"),
        ("NK1[3]-2.1", None),
        ("OBX-5", None),
        ("ZPI-2", "value"),
    ],
)
def test_get_reads_paths(path: str, expected: str | None) -> None:
    assert Message.parse(ADT).get(path) == expected


def test_get_whole_field_keeps_repetitions() -> None:
    assert Message.parse(ADT).get("PID-3") == "12345^^^HOSP^MR~999-88-7777^^^SSA^SS"


@pytest.mark.parametrize("path", ["PID", "PID-", "pid-3", "PID-3.", "PID-0", "PID-3[0]", "PI-3", "PID-3.1.1.1", ""])
def test_malformed_path_raises_value_error(path: str) -> None:
    with pytest.raises(ValueError, match="HL7 path"):
        Message.parse(ADT).get(path)


def test_path_parses_all_parts() -> None:
    p = parse_path("OBX[3]-5[2].1.2")
    assert (p.segment, p.segment_index, p.field, p.repetition, p.component, p.subcomponent) == ("OBX", 3, 5, 2, 1, 2)
    assert str(p) == "OBX[3]-5[2].1.2"


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
def test_any_segment_ending_and_missing_final_one(ending: str) -> None:
    text = ADT.replace("\r", ending).rstrip(ending)
    msg = Message.parse(text)
    assert [s.name for s in msg] == ["MSH", "EVN", "PID", "NK1", "NK1", "ZPI"]


def test_byte_order_mark_and_mllp_framing_are_ignored() -> None:
    msg = Message.parse(b"\x0b\xef\xbb\xbf" + ADT.encode() + b"\x1c\r")
    assert msg.control_id == "MSG0001"


def test_str_with_bom_parses() -> None:
    assert Message.parse("\ufeff" + ADT).message_type == "ADT"


def test_custom_encoding_characters_and_truncation_char() -> None:
    text = "MSH*:!/@#*A*B*C*D*2024**ORU:R01*1*P*2.7\rPID*1**7:::H!8:::K**Li:Wei/S/x/F/y\r"
    msg = Message.parse(text)
    assert msg.encoding.truncation == "#"
    assert msg.get("MSH-2") == ":!/@#"
    assert msg.get("PID-3[2].1") == "8"
    assert msg.get("PID-5.2") == "Wei:x*y"
    assert msg.trigger_event == "R01"


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("a\\F\\b", "a|b"), ("a\\S\\b", "a^b"), ("a\\T\\b", "a&b"), ("a\\R\\b", "a~b"), ("a\\E\\b", "a\\b"),
        ("line1\\.br\\line2", "line1\nline2"), ("\\H\\bold\\N\\", "bold"), ("caf\\XC3A9\\", "café"),
        ("unterminated\\F", "unterminated\\F"), ("odd\\Q\\x", "odd\\Q\\x"),
    ],
)
def test_escape_sequences_are_decoded(raw: str, decoded: str) -> None:
    msg = Message.parse(f"MSH|^~\\&|A||||||ADT^A01|1|P|2.5\rNTE|1||{raw}\r")
    assert msg.get("NTE-3") == decoded
    assert msg.get_raw("NTE-3") == raw


def test_set_escapes_and_round_trips() -> None:
    msg = Message.parse(ADT)
    msg.set("PID-5.1", "O'Neil|Smith^Jr&Co~\\x")
    assert msg.get("PID-5.1") == "O'Neil|Smith^Jr&Co~\\x"
    again = Message.parse(msg.to_er7())
    assert again.get("PID-5.1") == "O'Neil|Smith^Jr&Co~\\x"
    assert again.get("PID-5.2") == "Jane"


def test_set_creates_missing_fields_components_and_segments() -> None:
    msg = Message.parse(ADT)
    msg.set("PID-40[2].3.2", "x")
    msg.set("NK1[3]-2.1", "New")
    msg.set("ZZZ-2", "z")
    assert msg.get("PID-40[2].3.2") == "x"
    assert msg.get("NK1[3]-2.1") == "New"
    assert [s.name for s in msg][-3:] == ["NK1", "ZPI", "ZZZ"]
    assert Message.parse(msg.to_er7()).get("PID-40[2].3.2") == "x"


def test_set_refuses_gaps_and_encoding_fields() -> None:
    msg = Message.parse(ADT)
    with pytest.raises(ValueError, match="NK1"):
        msg.set("NK1[5]-2", "x")
    with pytest.raises(ValueError, match="encoding"):
        msg.set("MSH-2", "^~")


def test_set_raw_copies_structure_unchanged() -> None:
    msg = Message.parse(ADT)
    msg.set_raw("PID-4", msg.get_raw("PID-3") or "")
    assert msg.get("PID-4[2].1") == "999-88-7777"


def test_to_er7_is_unchanged_when_nothing_is_written() -> None:
    assert Message.parse(ADT.replace("\r", "\n")).to_er7() == ADT


def test_fields_are_split_only_when_read() -> None:
    msg = Message.parse(ADT)
    nk1 = msg.segments("NK1")[1]
    assert nk1._fields is None
    assert msg.get("NK1[2]-3") == "MTH"
    assert nk1._fields is not None
    assert msg.segments("PID")[0]._fields is None


def test_wrapped_text_line_is_joined_to_its_segment() -> None:
    msg = Message.parse("MSH|^~\\&|A||||||ORU^R01|1|P|2.5\nOBX|1|TX|x||first line\nsecond line\nNTE|1\n")
    assert [s.name for s in msg] == ["MSH", "OBX", "NTE"]
    assert msg.get("OBX-5") == "first line\nsecond line"


def test_latin1_bytes_and_declared_charset() -> None:
    latin = ADT.replace("Jane", "Jos\u00e9").encode("latin-1")
    assert Message.parse(latin).get("PID-5.2") == "Jos\u00e9"
    declared = ADT.replace("2.5.1", "2.5.1||||||8859/15").replace("Jane", "\u20acuro").encode("iso8859-15")
    assert Message.parse(declared).get("PID-5.2") == "\u20acuro"
    utf8 = ADT.replace("Jane", "\u674e").encode("utf-8")
    assert Message.parse(utf8).get("PID-5.2") == "\u674e"


@pytest.mark.parametrize(
    ("text", "location", "code"),
    [
        ("PID|1||x\r", "MSH", 100),
        ("", "MSH", 100),
        ("MSH", "MSH-2", 101),
        ("MSHA^~\\&|x\r", "MSH-1", 102),
        ("MSH|^^\\&|x\r", "MSH-2", 102),
        ("MSH|^~\\&|A||||||\r", "MSH-9", 101),
    ],
)
def test_parse_errors_name_location_and_table_0357_code(text: str, location: str, code: int) -> None:
    with pytest.raises(ParseError) as info:
        Message.parse(text)
    assert info.value.location == location
    assert info.value.hl7_code == code


def test_parse_error_text_holds_no_content() -> None:
    with pytest.raises(ParseError) as info:
        Message.parse("SECRETNAME|x\r")
    assert "SECRET" not in str(info.value)


def test_segment_repr_holds_no_content() -> None:
    assert "Doe" not in repr(Message.parse(ADT).segments("PID")[0])


def test_batch_envelopes_are_split_into_messages() -> None:
    batch = "FHS|^~\\&|A\rBHS|^~\\&|A\r" + ADT + ADT.replace("MSG0001", "MSG0002") + "BTS|2\rFTS|1\r"
    parts = split_batch(batch.replace("\r", "\r\n").encode())
    assert [Message.parse(p).control_id for p in parts] == ["MSG0001", "MSG0002"]
    assert all(p.endswith("\r") and "\n" not in p for p in parts)


def test_batch_without_envelope_and_empty_input() -> None:
    assert len(split_batch(ADT + ADT)) == 2
    assert split_batch("") == []


def test_batch_rejects_segments_before_first_msh() -> None:
    with pytest.raises(ParseError) as info:
        split_batch("PID|1\r" + ADT)
    assert info.value.location == "line 1"


def test_single_message_inside_envelope_parses() -> None:
    msg = Message.parse("BHS|^~\\&|A\r" + ADT + "BTS|1\r")
    assert msg.control_id == "MSG0001"
    assert msg.segments()[-1].name == "ZPI"


def test_doubled_escape_character_in_msh2_is_tolerated() -> None:
    msg = Message.parse("MSH|^~\\\\&|A||||||ORU^R01|1|P|2.6\rPID|1||7^^^H\r")
    assert msg.encoding.escape_char == "\\" and msg.encoding.truncation == ""
    assert msg.get("PID-3.4") == "H"
