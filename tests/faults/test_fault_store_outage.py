"""PostgreSQL unreachable (a TCP proxy between the engine and the shared PostgreSQL is cut, or
stalled like a network partition): intake answers AE/CE with ERR code 207 and never AA, promptly
and to every sender, and accepts the same message once the store is back; the engine's workers
outlive the outage and deliver afterwards."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import pytest
from hl7b_testkit import HttpReceiver, MllpTestClient, hl7, msa, segment, wait_until

from faults.fault_kit import delete_queues, delivered_ids, keys_by_control_id, start_engine
from faults.tcp_proxy import STALL, TcpProxy


SENDERS = 6


def through_proxy(url: str, proxy_factory: Callable[[str, int], TcpProxy]) -> tuple[str, TcpProxy]:
    parsed = urlparse(url)
    proxy = proxy_factory(parsed.hostname or "127.0.0.1", parsed.port or 5432)
    user = f"{parsed.username}@" if parsed.username else ""
    return url.replace(parsed.netloc, f"{user}127.0.0.1:{proxy.port}"), proxy


def error_code(ack: bytes) -> str:
    err = segment(ack, "ERR")
    assert err is not None, "AE/CE without an ERR segment"
    return err[3].split("^")[0]


@pytest.mark.postgres
@pytest.mark.parametrize("broker", ["embedded", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def test_a_store_outage_answers_ae_207_never_aa_and_recovers(tmp_path: Path, receiver: HttpReceiver, pg_url: str,
                                                            unique: str, broker: str,
                                                            proxy_factory: Callable[[str, int], TcpProxy],
                                                            request: pytest.FixtureRequest) -> None:
    store, proxy = through_proxy(pg_url, proxy_factory)
    channel = f"pg_{unique}"
    amqp_url = request.getfixturevalue("amqp_url") if broker == "rabbitmq" else None
    engine, port = start_engine(tmp_path, receiver, store=store, broker=amqp_url or "embedded", channel=channel)
    try:
        client = MllpTestClient(port)
        assert msa(client.send(hl7("S0"))) == ("AA", "S0")
        wait_until(lambda: "S0" in delivered_ids(engine), 30, "S0 DELIVERED before the outage")

        proxy.cut()
        original, enhanced = hl7("S1"), hl7("S2", accept_ack="AL")
        refused_original, refused_enhanced = client.send(original), client.send(enhanced)
        assert msa(refused_original) == ("AE", "S1") and error_code(refused_original) == "207"
        assert msa(refused_enhanced) == ("CE", "S2") and error_code(refused_enhanced) == "207"
        turned_away = proxy.refused
        wait_until(lambda: proxy.refused >= turned_away + 2, 20, "the workers to meet the outage too")

        proxy.restore()
        assert msa(client.send(original)) == ("AA", "S1")  # the sender's retry is accepted
        assert msa(client.send(enhanced)) == ("CA", "S2")
        wanted = {"S0", "S1", "S2"}
        wait_until(lambda: wanted <= set(keys_by_control_id(receiver)), 30, "delivery after the outage")
        wait_until(lambda: wanted <= delivered_ids(engine), 30, "DELIVERED in the store")
        assert all(len(set(keys)) == 1 for keys in keys_by_control_id(receiver).values())
        client.close()
    finally:
        assert engine.stop() == 0, engine.log.read_text()[-3000:]
        if amqp_url:
            delete_queues(amqp_url, channel)


def send_from_each(clients: list[MllpTestClient], prefix: str) -> list[bytes | str]:
    """One message per connection, all at once; each ACK, or the error that replaced it."""
    answers: list[bytes | str] = [""] * len(clients)

    def send(index: int) -> None:
        try:
            answers[index] = clients[index].send(hl7(f"{prefix}{index}"))
        except OSError as exc:  # socket.timeout: no answer within the sender's ACK timeout
            answers[index] = type(exc).__name__

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.postgres
def test_a_stalled_database_link_answers_ae_207_to_every_sender_instead_of_hanging(
        tmp_path: Path, receiver: HttpReceiver, pg_url: str, unique: str,
        proxy_factory: Callable[[str, int], TcpProxy]) -> None:
    store, proxy = through_proxy(pg_url, proxy_factory)
    engine, port = start_engine(tmp_path, receiver, store=store, broker="embedded", channel=f"pgs_{unique}")
    # a sender's ACK timeout is commonly 30 s or more; 20 s leaves room for the store's connect timeout
    clients = [MllpTestClient(port, timeout=20) for _ in range(SENDERS)]
    try:
        assert msa(clients[0].send(hl7("T0"))) == ("AA", "T0")
        proxy.cut(then=STALL)  # a partition: connections are accepted and never answered
        answers = send_from_each(clients, "P")
        assert all(isinstance(a, bytes) for a in answers), f"senders left without an answer: {answers}"
        assert [(msa(a)[0], error_code(a)) for a in answers] == [("AE", "207")] * SENDERS  # type: ignore[arg-type]
        proxy.restore()
        assert msa(clients[1].send(hl7("T1"))) == ("AA", "T1")
        wait_until(lambda: {"T0", "T1"} <= set(keys_by_control_id(receiver)), 30, "delivery after the partition")
    finally:
        for client in clients:
            client.close()
        assert engine.stop() == 0, engine.log.read_text()[-3000:]
