"""The CLI's validate and send, and the exit codes it promises."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hl7bridge.cli import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, main
from hl7bridge.connectors.mllp import MllpServer
from hl7b_testkit import hl7

REPO = Path(__file__).resolve().parents[2]


def test_the_sample_config_validates() -> None:
    result = CliRunner().invoke(main, ["validate", str(REPO / "config" / "channels.yaml")])
    assert result.exit_code == EXIT_OK and "7 channel(s) valid" in result.output


def test_validate_prints_each_problem_with_its_position_and_exits_78(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("engine: {store: 'sqlite:///x.db'}\nchannels:\n  adt:\n    sorce: {type: mllp, listen: ':1'}\n")
    result = CliRunner().invoke(main, ["validate", "--config", str(bad)])
    assert result.exit_code == EXIT_CONFIG
    assert f"{bad}:4:5 error [unknown-key]" in result.output and "source" in result.output


def test_hl7bridge_config_env_var_names_the_default_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate"], env={"HL7BRIDGE_CONFIG": str(tmp_path / "none.yaml")})
    assert result.exit_code == EXIT_CONFIG and "none.yaml" in result.output


class Listener:
    """An MLLP listener on its own loop in a thread, answering each message with ``code``."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.loop = asyncio.new_event_loop()
        self.server = MllpServer("127.0.0.1", 0, self.answer)
        self.loop.run_until_complete(self.server.start())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def answer(self, message: bytes, peer: str) -> bytes:
        control_id = message.split(b"\r")[0].split(b"|")[9]
        return b"MSH|^~\\&|R|R|S|S|2024||ACK|1|P|2.5.1\rMSA|" + self.code.encode() + b"|" + control_id + b"\r"

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(params=["AA", "AE"])
def listener(request: pytest.FixtureRequest) -> Iterator[Listener]:
    lst = Listener(request.param)
    yield lst
    lst.close()


def test_send_prints_each_ack_and_fails_unless_all_were_accepted(tmp_path: Path, listener: Listener) -> None:
    file = tmp_path / "two.hl7"
    file.write_bytes(hl7("S1") + hl7("S2"))
    result = CliRunner().invoke(main, ["send", str(file), "--to", f"127.0.0.1:{listener.server.port}"])
    assert f"{file}#1 S1 {listener.code}" in result.output and f"{file}#2 S2 {listener.code}" in result.output
    assert result.exit_code == (EXIT_OK if listener.code == "AA" else EXIT_FAILURE)
