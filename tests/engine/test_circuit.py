"""The per-destination circuit breaker, on a fake clock (no sleeping)."""

from __future__ import annotations

import asyncio

from hl7bridge.engine.circuit import CLOSED, HALF_OPEN, OPEN, Circuit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def admitted(circuit: Circuit) -> bool:
    task = asyncio.ensure_future(circuit.admit())
    for _ in range(5):
        await asyncio.sleep(0)  # let it run to its first wait, no timing involved
    done = task.done()
    task.cancel()
    return done


async def test_it_opens_after_the_threshold_of_failures_in_a_row() -> None:
    clock = Clock()
    circuit = Circuit("d", threshold=3, initial_secs=1, clock=clock)
    circuit.failed()
    circuit.failed()
    assert circuit.state == CLOSED and await admitted(circuit)
    circuit.failed()
    assert circuit.state == OPEN and not await admitted(circuit)


async def test_a_success_in_between_resets_the_count() -> None:
    circuit = Circuit("d", threshold=2, clock=Clock())
    circuit.failed()
    circuit.succeeded()
    circuit.failed()
    assert circuit.state == CLOSED


async def test_after_the_cooldown_one_probe_goes_and_its_result_decides() -> None:
    clock = Clock()
    circuit = Circuit("d", threshold=1, initial_secs=2, max_secs=5, clock=clock)
    circuit.failed()
    clock.now += 2
    await asyncio.wait_for(circuit.admit(), 1)  # the probe
    assert circuit.state == HALF_OPEN and not await admitted(circuit)  # everyone else waits
    circuit.failed()  # probe failed: open again, cooldown doubled
    assert circuit.state == OPEN and circuit.open_until == clock.now + 4
    clock.now += 4
    await asyncio.wait_for(circuit.admit(), 1)
    waiter = asyncio.ensure_future(circuit.admit())
    circuit.succeeded()
    await asyncio.wait_for(waiter, 1)  # the waiter goes once the probe succeeded
    assert circuit.state == CLOSED and circuit.cooldown == 2


async def test_a_cancelled_probe_lets_the_next_one_go() -> None:
    clock = Clock()
    circuit = Circuit("d", threshold=1, initial_secs=1, clock=clock)
    circuit.failed()
    clock.now += 1
    await asyncio.wait_for(circuit.admit(), 1)
    circuit.release()
    await asyncio.wait_for(circuit.admit(), 1)
    assert circuit.probing


async def test_the_cooldown_is_capped() -> None:
    clock = Clock()
    circuit = Circuit("d", threshold=1, initial_secs=1, max_secs=3, clock=clock)
    for _ in range(5):
        circuit.failed()
    assert circuit.cooldown == 3


async def test_shutdown_releases_everyone_waiting() -> None:
    import pytest

    clock = Clock()
    circuit = Circuit("d", threshold=1, initial_secs=60, clock=clock)
    circuit.failed()
    waiter = asyncio.ensure_future(circuit.admit())
    pauser = asyncio.ensure_future(circuit.pause(60))
    await asyncio.sleep(0)
    circuit.shutdown()
    for task in (waiter, pauser):
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 1)
