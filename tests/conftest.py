"""Fixtures for the real services.  On a laptop without RabbitMQ or PostgreSQL those tests skip
with a clear message; under CI=true they fail instead."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

AMQP_URL = os.environ.get("HL7BRIDGE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
PG_URL = os.environ.get("HL7BRIDGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("postgresql+psycopg", "postgresql"))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _unavailable(what: str) -> None:
    message = f"{what} is not reachable; start it or set the env var to run these tests"
    if IN_CI:
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def amqp_url() -> str:
    if not _reachable(AMQP_URL, 5672):
        _unavailable(f"RabbitMQ at {AMQP_URL} (HL7BRIDGE_TEST_AMQP)")
    return AMQP_URL


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not _reachable(PG_URL, 5432):
        _unavailable(f"PostgreSQL at {PG_URL} (HL7BRIDGE_TEST_PG)")
    import psycopg

    admin = PG_URL.replace("postgresql+psycopg", "postgresql")
    name = f"hl7b_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def unique() -> str:
    """A short suffix that keeps queue and channel names of one test apart from any other's."""
    return uuid.uuid4().hex[:8]
