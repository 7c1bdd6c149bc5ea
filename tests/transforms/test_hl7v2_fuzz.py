"""Damaged messages fail with a located ParseError / TransformError, never with another exception."""

from __future__ import annotations

import random
from pathlib import Path

from hl7bridge.engine.errors import ParseError, TransformError
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7v2"
NOISE = b'|^~\\&\r\n0123456789ABZ"'


def _damage(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        pos = rng.randrange(len(out))
        choice = rng.random()
        if choice < 0.4:
            del out[pos:pos + rng.randint(1, 20)]
        elif choice < 0.7:
            out[pos:pos] = bytes([rng.choice(NOISE)])
        else:
            out[pos] = rng.randrange(256)
    return bytes(out)


def test_damaged_messages_never_crash() -> None:
    rng = random.Random(2024)  # fixed seed: the same 400 cases every run
    sources = [p.read_bytes() for p in sorted(FIXTURES.glob("*.hl7"))]
    outcomes = {"bundle": 0, "error": 0}
    for _ in range(400):
        try:
            hl7v2_to_fhir(_damage(rng.choice(sources), rng))
            outcomes["bundle"] += 1
        except (ParseError, TransformError) as exc:
            assert exc.location, "every error names a position"
            assert exc.__cause__ is None or isinstance(exc.__cause__, (ParseError, TransformError)), \
                f"mapper bug surfaced: {exc.__cause__!r}"
            outcomes["error"] += 1
    assert outcomes["bundle"] > 0 and outcomes["error"] > 0
