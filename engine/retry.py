"""Retry policy: exponential backoff with jitter, and how each failure is classified.

Pure functions, tested on their own (tests/engine/test_retry.py).
"""

from __future__ import annotations

import random


def backoff_secs(attempt: int, *, initial_secs: float, max_secs: float, multiplier: float = 2.0,
                 jitter: float = 0.2, rng: random.Random | None = None) -> float:
    """The pause before retry number ``attempt`` (1-based): initial * multiplier^(attempt-1),
    capped at ``max_secs``, then spread by +/- ``jitter`` (a fraction) so retries don't stampede."""
    base = min(max_secs, initial_secs * multiplier ** max(0, attempt - 1))
    spread = base * jitter
    return max(0.0, base + (rng or random).uniform(-spread, spread))


def retry_delay_secs(attempt: int, retry: object, retry_after_secs: float | None = None) -> float:
    """The delay for a destination's ``retry`` spec; a server's Retry-After wins when it is longer."""
    delay = backoff_secs(
        attempt,
        initial_secs=getattr(retry, "initial_backoff_ms") / 1000.0,
        max_secs=float(getattr(retry, "max_backoff_secs")),
        multiplier=float(getattr(retry, "multiplier", 2.0)),
        jitter=float(getattr(retry, "jitter", 0.2)),
    )
    if retry_after_secs is not None:
        delay = max(delay, min(retry_after_secs, float(getattr(retry, "max_backoff_secs"))))
    return delay


def http_outcome(status: int) -> str:
    """'success' for 2xx; 'retry' for 408, 429 and 5xx; 'dead_letter' for any other status."""
    if 200 <= status < 300:
        return "success"
    if status in (408, 429) or status >= 500:
        return "retry"
    return "dead_letter"


DEFAULT_ACK_RULES = {"AA": "success", "CA": "success", "AE": "retry", "CE": "retry",
                     "AR": "dead_letter", "CR": "dead_letter", "timeout": "retry"}


def ack_outcome(code: str, rules: dict[str, str] | None = None) -> str:
    """What an MLLP peer's ACK code means for the delivery, with per-destination overrides."""
    table = DEFAULT_ACK_RULES | (rules or {})
    return table.get(code.upper(), "retry")
