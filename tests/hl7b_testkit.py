"""Shared test kit: real sockets, a real HTTP receiver, the engine as a real subprocess."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VT, FS, CR = b"\x0b", b"\x1c", b"\r"
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def control_id_of(message: bytes) -> str:
    return message.split(b"\r")[0].split(b"|")[9].decode()


def hl7(control_id: str, *, message_type: str = "ADT^A01", patient: str = "P100", version: str = "2.5.1",
        extra: str = "", accept_ack: str = "") -> bytes:
    """A synthetic HL7v2 message (no real person)."""
    msh = (f"MSH|^~\\&|SENDAPP|SENDFAC|RECVAPP|RECVFAC|20240102030405||{message_type}|{control_id}|P|{version}"
           + (f"|||{accept_ack}" if accept_ack else ""))
    segments = [msh, "EVN|A01|20240102030405", f"PID|1||{patient}^^^HOSP^MR||TESTPATIENT^ALPHA||19800101|F"]
    if message_type.startswith("ORU"):
        segments += ["OBR|1|ORD1|FIL1|1234-5^GLUCOSE^LN", "OBX|1|NM|2345-7^Glucose^LN||95|mg/dL|70-99|N|||F"]
    return ("\r".join(segments + ([extra] if extra else [])) + "\r").encode()


class MllpTestClient:
    """A plain blocking MLLP client over a real socket."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, message: bytes) -> bytes:
        self.sock.sendall(VT + message + FS + CR)
        return self.read_ack()

    def read_ack(self) -> bytes:
        while FS not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.buffer += chunk
        frame, _, rest = self.buffer.partition(FS)
        self.buffer = rest.lstrip(CR)
        return frame[frame.find(VT) + 1:]

    def closed_by_peer(self, timeout: float = 10.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self) -> None:
        self.sock.close()


def msa(ack: bytes) -> tuple[str, str]:
    """(MSA-1, MSA-2) of an ACK."""
    for segment in ack.decode().split("\r"):
        if segment.startswith("MSA|"):
            fields = segment.split("|") + ["", ""]
            return fields[1], fields[2]
    raise AssertionError("ACK has no MSA segment")


def segment(ack: bytes, name: str) -> list[str] | None:
    for seg in ack.decode().split("\r"):
        if seg.startswith(name + "|"):
            return seg.split("|")
    return None


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    """A real HTTP server; answers with ``script`` statuses in turn, then ``default_status``."""

    script: list[int] = field(default_factory=list)
    default_status: int = 200
    requests: list[Received] = field(default_factory=list)
    decide: Callable[[bytes], int] | None = None  # status from the body, instead of the script

    def __post_init__(self) -> None:
        receiver = self
        self.lock = threading.Condition()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body))
                    if receiver.decide is not None:
                        status = receiver.decide(body)
                    else:
                        status = receiver.script.pop(0) if receiver.script else receiver.default_status
                    receiver.lock.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        with self.lock:
            if not self.lock.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"expected {count} requests, got {len(self.requests)} in {timeout}s")
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class EngineProcess:
    """``hl7bridge run`` as a subprocess on a config written to ``workdir``."""

    def __init__(self, workdir: Path, config_text: str, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.config = workdir / "channels.yaml"
        self.config.write_text(config_text)
        self.env = os.environ | {"PYTHONUNBUFFERED": "1"} | (env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "engine.log"

    def start(self, timeout: float = 30.0) -> "EngineProcess":
        self._log_handle = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "hl7bridge.cli", "run", "--config", str(self.config)],
                                     cwd=self.workdir, stdout=self._log_handle, stderr=subprocess.STDOUT,
                                     env=self.env)
        wait_until(lambda: b"engine ready" in self.log.read_bytes() or self.proc.poll() is not None, timeout,
                   "the engine to start")
        if self.proc.poll() is not None:
            raise AssertionError(f"engine exited: {self.log.read_text()[-3000:]}")
        return self

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hl7bridge.cli", *args, "--config", str(self.config)],
                              cwd=self.workdir, capture_output=True, text=True, env=self.env, input=input,
                              timeout=60)

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        self._log_handle.close()
        return self.proc.returncode

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self._log_handle.close()


def engine_config(*, store: str, broker: str, port: int, http_url: str, channel: str, archive: str,
                  max_attempts: int = 5, http_listen: str | None = None) -> str:
    http = f"  http: {{listen: \"{http_listen}\"}}\n" if http_listen else ""
    return f"""
engine:
  store: "{store}"
  broker: "{broker}"
  queue_type: quorum
{http}channels:
  {channel}:
    description: end-to-end test channel
    source: {{type: mllp, listen: "127.0.0.1:{port}", receive_timeout_secs: 2, max_frame_bytes: 65536}}
    filter:
      message_types: [ADT, ORU^R01]
    destinations:
      service:
        type: http
        endpoint: "{http_url}"
        timeout_secs: 5
        retry: {{max_attempts: {max_attempts}, initial_backoff_ms: 50, max_backoff_secs: 1}}
      archive: {{type: file, directory: "{archive}"}}
"""


def mark_mapped(payload: Any) -> None:
    """Mapping code used by tests as a `python:` step: tags MSH-5 (receiving application)."""
    payload.data.set("MSH-5", "MAPPED")


def raise_runtime_error(payload: Any) -> None:
    """Mapping code with a bug (its message would carry a value): a `python:` step for failure tests."""
    raise RuntimeError("SECRET value that must not reach a log")


def delete_queues(amqp_url: str, names: list[str]) -> None:
    """Delete test queues (and their .dlq companions) so quorum queues don't pile up run after run."""
    import pika

    from hl7bridge.engine.brokers.rabbitmq_admin import delete_queues as delete

    try:
        delete(amqp_url, names, timeout_secs=5)
    except pika.exceptions.AMQPError:
        pass  # cleanup only: the test has its answer


def channel_queues(channel: str, destinations: list[str]) -> list[str]:
    return [channel] + [f"{channel}.{d}" for d in destinations]
