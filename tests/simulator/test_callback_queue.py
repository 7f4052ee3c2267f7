"""The delivery-callback queue is bounded: beyond ``max_queued`` waiting callbacks the newest is
dropped and journaled, a callback waiting for its retry holds no worker, and sends wait while
callbacks are behind."""

from __future__ import annotations

import asyncio

import httpx

from lynsms.clock import ManualClock
from lynsms.simulator import Simulator, create_app
from lynsms.simulator.deliveries import BEHIND, CALLBACK_CONCURRENCY

ACCOUNT = "AC" + "0" * 31 + "1"
NOWHERE = "http://127.0.0.1:9/callbacks"  # the discard port: nothing listens, every attempt fails


async def send_with_callbacks(sim: Simulator, count: int, url: str = NOWHERE) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sim=sim)), base_url="http://sim"
    ) as client:
        for n in range(count):
            answer = await client.post(
                f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
                data={"To": f"+1202555{n:04d}", "From": "+12025550100", "Body": "hi", "StatusCallback": url},
                auth=(ACCOUNT, "token"),
            )
            assert answer.status_code == 201, answer.text


def callbacks(sim: Simulator) -> list[str]:
    return [str(e.outcome["result"]) for e in sim.state.journal if e.method == "CALLBACK" and e.outcome]


async def test_a_full_queue_drops_the_newest_callbacks_and_journals_each_drop() -> None:
    clock = ManualClock()
    sim = Simulator(clock=clock)
    sim.deliveries.max_queued = 3
    await send_with_callbacks(sim, 10)
    clock.advance(0.5)  # the ten "sent" reports fall due in one tick, together
    for _ in range(20):
        await asyncio.sleep(0)
    dropped = [result for result in callbacks(sim) if result == "dropped"]
    assert sim.deliveries.dropped == len(dropped) == 7  # three were queued; the seven after them dropped
    await sim.deliveries.close()


async def test_a_callback_waiting_to_retry_holds_no_worker() -> None:
    clock = ManualClock()
    sim = Simulator(clock=clock)
    await send_with_callbacks(sim, 2)
    clock.advance(0.5)
    # Let both first attempts fail against the closed port. Time stands still, so they then wait for
    # their retries for as long as this takes: the bound only keeps a broken queue from hanging.
    async with asyncio.timeout(60):
        while "retry" not in callbacks(sim) or sim.deliveries._workers:
            await asyncio.sleep(0.01)
    assert sim.deliveries.in_flight == len(sim.deliveries._retries) > 0
    await sim.deliveries.close()


async def test_sends_wait_while_callbacks_are_behind() -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()  # a receiver that never answers: every worker stays busy

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/callbacks"
    clock = ManualClock()
    sim = Simulator(clock=clock)
    await send_with_callbacks(sim, BEHIND + CALLBACK_CONCURRENCY + 10, url)
    clock.advance(0.5)  # every "sent" report is due: more callbacks than the workers can take
    for _ in range(20):
        await asyncio.sleep(0)
    waiting = asyncio.create_task(send_with_callbacks(sim, 1, url))
    await asyncio.sleep(0.2)
    assert not waiting.done()  # held back while callbacks are behind
    await sim.deliveries.close()  # the queue empties: nothing is behind any more
    await asyncio.wait_for(waiting, 60)  # a bound for a loaded machine, not a window
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()
