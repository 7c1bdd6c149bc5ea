"""Fixtures of the fault tests: a real HTTP receiver and the TCP proxy."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hl7b_testkit import HttpReceiver

from faults.tcp_proxy import TcpProxy


@pytest.fixture()
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver()
    yield r
    r.close()


@pytest.fixture()
def proxy_factory() -> Iterator[Callable[[str, int], TcpProxy]]:
    """Start proxies with ``proxy_factory(host, port)``; every one is closed after the test."""
    started: list[TcpProxy] = []

    def make(host: str, port: int) -> TcpProxy:
        proxy = TcpProxy(host, port).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.close()
