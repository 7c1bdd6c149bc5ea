"""The fault tests' TCP proxy itself: forwards, cuts, refuses, stalls, restores."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Iterator

import pytest

from faults.tcp_proxy import STALL, TcpProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture()
def echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _recv(sock: socket.socket) -> bytes:
    """What the peer sent; b"" when it closed or reset the link."""
    try:
        return sock.recv(4096)
    except ConnectionResetError:
        return b""


def _echo_through(port: int, payload: bytes = b"ping") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            return b""
        return _recv(sock)


def test_the_proxy_forwards_cuts_refuses_and_restores(echo_port: int,
                                                      proxy_factory: Callable[[str, int], TcpProxy]) -> None:
    proxy = proxy_factory("127.0.0.1", echo_port)
    held = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    held.sendall(b"one")
    assert held.recv(16) == b"one"
    proxy.cut()
    assert _recv(held) == b""  # the open link was dropped
    assert _echo_through(proxy.port) == b""  # new links are refused while cut
    assert proxy.refused == 1
    proxy.restore()
    assert _echo_through(proxy.port) == b"ping"
    held.close()


def test_a_stalled_proxy_accepts_but_never_answers(echo_port: int,
                                                   proxy_factory: Callable[[str, int], TcpProxy]) -> None:
    proxy = proxy_factory("127.0.0.1", echo_port)
    proxy.cut(then=STALL)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=0.3) as sock:
        sock.sendall(b"hello")
        with pytest.raises(socket.timeout):
            sock.recv(16)
        assert proxy.stalled == 1 and proxy.forwarded == 0
        proxy.restore()  # the stalled link is dropped so its peer reconnects
        sock.settimeout(2)
        assert _recv(sock) == b""
    assert _echo_through(proxy.port) == b"ping"
