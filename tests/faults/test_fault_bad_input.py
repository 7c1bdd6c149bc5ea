"""Bad input over real MLLP sockets to a real `hl7bridge run`: each gets the right answer (a NAK
naming the position, or a closed connection), never a crash, and the engine keeps serving other
connections, shown by a good message on a second connection afterwards."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hl7b_testkit import VT, EngineProcess, HttpReceiver, MllpTestClient, msa, segment

from faults.fault_kit import control_ids, list_json, start_engine

# A made-up patient name that must never come back in any ACK (invariant 5).
FAKE_NAME = "QUIXOTRANDA^ZEPHYRINE^V"


def message(control_id: str, *, msh9: str = "ADT^A01", version: str = "2.5.1", msh15: str = "") -> bytes:
    """A synthetic message whose PID-5 holds FAKE_NAME."""
    msh = f"MSH|^~\\&|SENDAPP|SENDFAC|RECVAPP|RECVFAC|20240102030405||{msh9}|{control_id}|P|{version}"
    msh += f"|||{msh15}" if msh15 else ""
    pid = f"PID|1||P777^^^HOSP^MR||{FAKE_NAME}||19800101|F"
    return "\r".join([msh, "EVN|A01|20240102030405", pid, ""]).encode()


def err_code_and_location(ack: bytes) -> tuple[str, str]:
    """(ERR-3.1, ERR-2) of a v2.5+ NAK."""
    err = segment(ack, "ERR")
    assert err is not None, "NAK has no ERR segment"
    return err[3].split("^")[0], err[2]


@pytest.fixture()
def engine(tmp_path: Path, receiver: HttpReceiver, unique: str) -> Iterator[tuple[EngineProcess, int]]:
    proc, port = start_engine(tmp_path, receiver, store=f"sqlite:///{tmp_path}/store.db", broker="embedded",
                              channel=f"bad_{unique}")
    try:
        yield proc, port
    finally:
        assert proc.stop() == 0, proc.log.read_text()[-2000:]


def still_serving(port: int, control_id: str = "GOOD1") -> None:
    """A good message on a fresh connection is accepted: the engine did not crash or wedge."""
    other = MllpTestClient(port)
    try:
        assert msa(other.send(message(control_id))) == ("AA", control_id)
    finally:
        other.close()


def test_garbage_in_a_frame_is_rejected_with_code_100_and_stored_as_errored(engine: tuple[EngineProcess, int]) -> None:
    proc, port = engine
    client = MllpTestClient(port)
    ack = client.send(b"\x00\x01\xfe\xffnot hl7 at all \x80\x81\r\n")
    assert msa(ack)[0] == "AR"
    assert err_code_and_location(ack)[0] == "100"
    still_serving(port)
    errored = list_json(proc, "--status", "ERRORED")
    assert len(errored) == 1 and errored[0]["status"] == "ERRORED"
    client.close()


def test_a_missing_msh_9_is_rejected_with_code_101_at_msh_1_9(engine: tuple[EngineProcess, int]) -> None:
    _, port = engine
    client = MllpTestClient(port)
    ack = client.send(message("NO9", msh9=""))
    assert msa(ack) == ("AR", "NO9")
    assert err_code_and_location(ack) == ("101", "MSH^1^9")
    still_serving(port)
    client.close()


def test_an_unsupported_version_is_rejected_with_code_203(engine: tuple[EngineProcess, int]) -> None:
    _, port = engine
    client = MllpTestClient(port)
    ack = client.send(message("V99", version="9.9"))
    assert msa(ack) == ("AR", "V99")
    assert err_code_and_location(ack) == ("203", "MSH^1^12")
    still_serving(port)
    client.close()


def test_enhanced_mode_answers_ca_and_cr_instead_of_aa_and_ar(engine: tuple[EngineProcess, int]) -> None:
    _, port = engine
    client = MllpTestClient(port)
    assert msa(client.send(message("ENH1", msh15="AL"))) == ("CA", "ENH1")
    rejected = client.send(message("ENH2", msh9="", msh15="AL"))
    assert msa(rejected) == ("CR", "ENH2") and err_code_and_location(rejected)[0] == "101"
    still_serving(port)
    client.close()


def test_msh_15_ne_gets_no_ack_but_the_message_is_stored(engine: tuple[EngineProcess, int]) -> None:
    proc, port = engine
    client = MllpTestClient(port)
    client.send_raw(VT + message("SILENT1", msh15="NE") + b"\x1c\r")
    # the next answer on this connection is for the next message: none was sent for SILENT1
    assert msa(client.send(message("LOUD1"))) == ("AA", "LOUD1")
    assert {"SILENT1", "LOUD1"} <= control_ids(list_json(proc))
    client.close()


def test_a_frame_over_max_frame_bytes_closes_the_connection(engine: tuple[EngineProcess, int]) -> None:
    proc, port = engine
    client = MllpTestClient(port)
    oversized = message("BIG1") + b"NTE|1||" + b"x" * 100_000 + b"\r"  # the test config allows 65,536
    try:
        client.send_raw(VT + oversized + b"\x1c\r")
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed while we were still sending: also a close
    assert client.closed_by_peer()
    still_serving(port)
    assert "BIG1" not in control_ids(list_json(proc))
    client.close()


def test_a_sender_that_stalls_mid_frame_is_closed_after_receive_timeout(engine: tuple[EngineProcess, int]) -> None:
    _, port = engine
    stalled = MllpTestClient(port)
    stalled.send_raw(VT + message("HALF1")[:40])
    started = time.monotonic()
    still_serving(port)  # served while the other sender stalls
    assert stalled.closed_by_peer(timeout=10)
    assert time.monotonic() - started >= 1.5  # receive_timeout_secs is 2 in the test config
    stalled.close()


def test_a_batch_of_three_is_stored_as_three_messages(engine: tuple[EngineProcess, int]) -> None:
    proc, port = engine
    ids = ["BAT1", "BAT2", "BAT3"]
    batch = b"FHS|^~\\&|SENDAPP|SENDFAC\rBHS|^~\\&|SENDAPP|SENDFAC\r"
    batch += b"".join(message(i) for i in ids) + b"BTS|3\rFTS|1\r"
    client = MllpTestClient(port)
    reply = client.send(batch)
    answers = [seg.split("|")[1:3] for seg in reply.decode().split("\r") if seg.startswith("MSA|")]
    assert answers == [["AA", i] for i in ids]
    rows = list_json(proc)
    assert sorted(r["control_id"] for r in rows) == ids
    client.close()


def test_naks_never_carry_field_values_from_the_message(engine: tuple[EngineProcess, int]) -> None:
    _, port = engine
    client = MllpTestClient(port)
    bad_inputs = [
        message("PHI1", msh9=""),
        message("PHI2", version="9.9"),
        message("PHI3", msh9="", msh15="AL"),
        b"PID|1||P777||" + FAKE_NAME.encode() + b"\rMSH|^~\\&|A|B\r",  # no MSH first
        b"MSH" + FAKE_NAME.encode() + b"|PID",  # a bad field separator
        b"MSH|^~\\&|SENDAPP|SENDFAC|||||ADT^A01|\rPID|1||1||" + FAKE_NAME.encode() + b"\r",  # no MSH-10
    ]
    acks = [client.send(raw) for raw in bad_inputs]
    assert [msa(a)[0] for a in acks] == ["AR", "AR", "CR", "AR", "AR", "AR"]
    for ack in acks:
        assert b"QUIXOTRANDA" not in ack and b"ZEPHYRINE" not in ack
    still_serving(port)
    client.close()


def test_a_half_open_connection_does_not_stop_other_senders(engine: tuple[EngineProcess, int]) -> None:
    _, port = engine
    silent = socket.create_connection(("127.0.0.1", port), timeout=5)  # connects, never sends
    try:
        still_serving(port, "GOOD2")
    finally:
        silent.close()
