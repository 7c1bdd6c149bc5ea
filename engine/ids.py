"""Identifiers: sortable message ids, correlation ids and content hashes."""

from __future__ import annotations

import hashlib
import os
import time
import uuid

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    """A 26-character, time-ordered, random-suffixed id (ULID layout), safe across processes."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def content_hash(data: bytes) -> str:
    """Hash of a message's bytes, used with MSH-3/4/10 to recognise duplicate intake."""
    return hashlib.sha256(data).hexdigest()
