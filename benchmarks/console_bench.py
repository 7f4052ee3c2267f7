"""The QA console's targets, measured with a real browser (Debian's chromium via Playwright).

    python -m benchmarks.console_bench [--rate 200] [--seconds 5] [--messages 20000] [--rounds 5]
                                       [--cpu-rate 400] [--only live|big|cpu]

Issue targets:
- a message is visible in an open console < 500 ms after the provider call, at 200 messages/s
  (time from the provider's answer to the row's insertion into the page, both on this machine's
  wall clock; p50/p95/max printed);
- with 20,000 messages the first view renders in < 1 s (navigation start to the newest rows shown,
  the page's own ``lynsms:snapshot-shown`` mark; the time until every row is loaded is printed too)
  and an update costs < 16 ms of main thread (one frame's application of the pushed changes plus
  the layout it forces, at a steady 100 messages/s and in a burst; long tasks counted as well);
- the event stream adds < 5% to the simulator's CPU per request with one console open: the
  simulator process's CPU time per request (its threads' scheduler run time) at a fixed request
  rate below saturation, without a console, with a plain SSE reader and with a chromium page open
  on the console: three phases back to back on one fresh simulator per round, their order rotating.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import contextlib
import json
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import httpx
from playwright.sync_api import Page, sync_playwright

from benchmarks.loadgen import _read_response, build_request, median, run_load, server_process, split_cores
from benchmarks.simulator_bench import PATH, twilio_create
from benchmarks.targets import TWILIO_ACCOUNT
from lynsms.simulator.console.browser import launch

T = TypeVar("T")
AUTH = (TWILIO_ACCOUNT, "lynsms-local-auth-token")
CONNECTIONS = 8  # keep-alive connections the paced sends share
# Records when each row first enters the page, by its body text.
OBSERVE = """() => {
  window.__seen = {};
  new MutationObserver((records) => {
    const now = Date.now();
    for (const r of records) for (const node of r.addedNodes) {
      const body = node.querySelector && node.querySelector('.body');
      if (body && !(body.textContent in window.__seen)) window.__seen[body.textContent] = now;
    }
  }).observe(document.querySelector('#list .rows'), {childList: true});
}"""
# Times each frame's application of the pushed changes (``applyInbox``): the handler and the layout
# it forces, on the main thread; and every long task (> 50 ms) the page has meanwhile, whatever it is.
TIME_UPDATES = """() => {
  window.__updates = [];
  window.__long = [];
  if (window.__timed) return;  // already timing: the counts start again
  window.__timed = true;
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long.push(e.duration); })
    .observe({type: 'longtask'});
  const original = window.applyInbox;
  window.applyInbox = () => {
    if (!frameAsked) return original();  // the frame or its fallback timer already did the work
    const t = performance.now();
    original();
    void document.body.offsetHeight;
    window.__updates.push(performance.now() - t);
  };
}"""


def open_console(page: Page, url: str) -> tuple[float, float]:
    """Open the console; returns ms from navigation start to the first screen shown (the newest
    rows) and to every row loaded."""
    page.goto(f"{url}/_sim/")
    page.wait_for_function("performance.getEntriesByName('lynsms:snapshot-complete').length > 0", timeout=30_000)
    marks: list[float] = page.evaluate(
        "['shown', 'complete'].map((m) => performance.getEntriesByName('lynsms:snapshot-' + m)[0].startTime)"
    )
    page.wait_for_selector("#live.on")
    return marks[0], marks[1]


async def paced(url: str, rate: float, count: int, prefix: str) -> dict[str, float]:
    """Send ``count`` messages at ``rate`` a second over keep-alive connections; returns each body's
    time (ms, wall clock) when its provider call was answered."""
    answered: dict[str, float] = {}
    parts = urlsplit(url)
    auth = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {auth}"}
    queue: asyncio.Queue[int | None] = asyncio.Queue()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while (i := await queue.get()) is not None:
                body = f"{prefix} {i}"
                form = urlencode({"To": "+12025550143", "From": "+12025550100", "Body": body}).encode()
                writer.write(build_request(url + PATH, "POST", form, headers))
                status = await _read_response(reader)
                answered[body] = time.time() * 1000
                if status != 201:
                    raise SystemExit(f"send answered {status}")
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(i)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return answered


def off_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on its own loop in another thread: Playwright's sync API holds this one's."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def server_cores() -> set[int] | None:
    cores = split_cores()
    return cores[1] if cores else None


def live_latency(browser: Any, rate: float, seconds: float) -> None:
    with server_process("simulator", cores=server_cores()) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        open_console(page, server.url)
        page.evaluate(OBSERVE)
        sent = off_thread(paced(server.url, rate, int(rate * seconds), "live"))
        page.wait_for_timeout(1000)
        seen: dict[str, float] = page.evaluate("window.__seen")
        latencies = [seen[b] - t for b, t in sent.items() if b in seen]
        missing = len(sent) - len(latencies)
        print(
            f"live at {rate:.0f} msg/s: {len(latencies)} rows seen, p50 {percentile(latencies, 0.5):.0f} ms, "
            f"p95 {percentile(latencies, 0.95):.0f} ms, max {max(latencies):.0f} ms (target < 500 ms)"
            + (f", {missing} never inserted (scrolled past)" if missing else ""),
            flush=True,
        )
        page.close()


def spread(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):.1f} ms, p95 {percentile(values, 0.95):.1f} ms, max {max(values):.1f} ms"


def big_store(browser: Any, messages: int) -> None:
    with server_process("simulator", cores=server_cores()) as server:
        request = twilio_create(server.url)
        off_thread(run_load(server.url, request, concurrency=32, count=messages, expect=201))
        opened = []
        for _ in range(4):  # the first in a fresh page: a cold start
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            opened.append(open_console(page, server.url))
            page.close()
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        open_console(page, server.url)
        rows = page.evaluate("document.querySelector('#count').textContent")
        shown, complete = zip(*opened, strict=True)
        print(
            f"{rows}: first view (newest rows shown) cold {shown[0]:.0f} ms, median {median(shown):.0f} ms "
            f"(target < 1000 ms); every row loaded cold {complete[0]:.0f} ms, median {median(complete):.0f} ms",
            flush=True,
        )
        steady = timed_updates(browser, page, lambda: off_thread(paced(server.url, 100, 300, "steady")))
        burst = timed_updates(  # a burst: 2,000 sends as fast as they go
            browser, page, lambda: off_thread(run_load(server.url, request, concurrency=32, count=2000, expect=201))
        )
        long_tasks: list[float] = page.evaluate("window.__long")
        for label, (wall, cpu) in (("at 100 msg/s", steady), ("2,000 sent at full speed", burst)):
            print(
                f"update {label} (one frame's changes, the layout they force, and the rest of that task; "
                f"target < 16 ms): main thread CPU {spread(cpu)}; wall clock {spread(wall)}; {len(cpu)} frames",
                flush=True,
            )
        print(
            f"long tasks (> 50 ms wall clock) meanwhile: {len(long_tasks)}"
            + (f", longest {max(long_tasks):.0f} ms" if long_tasks else ""),
            flush=True,
        )
        page.close()


TASKS = ("ThreadControllerImpl::RunTask", "RunTask")  # a main-thread task's trace event, newer and older name


def timed_updates(browser: Any, page: Page, load: Callable[[], object]) -> tuple[list[float], list[float]]:
    """Run ``load`` with the page's update timed; returns, for every browser task that applied
    pushed changes (``applyInbox``), its wall-clock time and its main-thread CPU time (ms), from
    chromium's own trace. The CPU time is what the update costs; the wall clock also counts the
    moments the shared machine ran something else."""
    page.evaluate(TIME_UPDATES)
    browser.start_tracing(page=page, categories=["devtools.timeline", "toplevel"])
    load()
    page.wait_for_timeout(1000)
    events = json.loads(browser.stop_tracing())["traceEvents"]
    main = {e["tid"] for e in events if e.get("name") == "thread_name" and e["args"]["name"] == "CrRendererMain"}
    tasks = [e for e in events if e.get("tid") in main and e.get("ph") == "X" and e.get("name") in TASKS]
    calls = [
        e
        for e in events
        if e.get("tid") in main and e.get("name") == "FunctionCall" and "applyInbox" in str(e["args"].get("data"))
    ]
    wall, cpu = [], []
    for task in tasks:
        start, end = task["ts"], task["ts"] + task["dur"]
        if any(start <= c["ts"] <= end and c.get("dur", 0) > 50 for c in calls):  # > 50 us: it did work
            wall.append(task["dur"] / 1000)
            cpu.append(task.get("tdur", task["dur"]) / 1000)
    return wall, cpu


async def sse_reader(url: str, stop: asyncio.Event) -> int:
    """A plain SSE client (no browser): reads ``/_sim/events`` until ``stop``; returns bytes read."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(build_request(url + "/_sim/events", "GET", b"", {"Accept": "text/event-stream"}))
    read = 0
    try:
        while not stop.is_set():
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 0.2)
            except TimeoutError:
                continue
            if not chunk:
                break
            read += len(chunk)
    finally:
        writer.close()
    return read


async def paced_with_reader(url: str, rate: float, count: int, reader: bool) -> int:
    """``paced`` sends, with a plain SSE reader open alongside when ``reader``; returns bytes it read."""
    stop = asyncio.Event()
    task = asyncio.create_task(sse_reader(url, stop)) if reader else None
    await asyncio.sleep(0.2)  # the stream is open before the first send
    await paced(url, rate, count, "cpu")
    stop.set()
    return await task if task is not None else 0


MODES = ("no console", "SSE reader", "chromium page")


def cpu_ns(pid: int) -> int:
    """Nanoseconds the process's threads have run on a CPU (the scheduler's own count: far finer
    than the 10 ms clock ticks of ``/proc/PID/stat``)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/task/{task}/schedstat") as stat:
            total += int(stat.read().split()[0])
    return total


def stream_overhead(browser: Any, rate: float, seconds: float, rounds: int) -> None:
    """Server CPU time per request at a fixed request rate (below saturation), without a console,
    with a plain SSE reader and with a real console page. Each round is one fresh simulator process
    that runs the three phases back to back, in an order that rotates from round to round: the
    comparison is within one process (same memory layout, same core), and slow drifts of the
    machine's load or of the store's size hit every phase alike. Printed: the median over the
    rounds of each phase's cost, and of its ratio to the same round's phase without a console."""
    results: dict[str, list[float]] = {mode: [] for mode in MODES}
    count = int(rate * seconds)
    for round_no in range(rounds):
        order = MODES[round_no % 3 :] + MODES[: round_no % 3]
        costs = {}
        with server_process("simulator", cores=server_cores()) as server:
            off_thread(paced(server.url, rate, int(rate), "warm"))  # one second of warm-up
            for mode in order:
                page = browser.new_page(viewport={"width": 1280, "height": 900}) if mode == MODES[2] else None
                if page is not None:
                    open_console(page, server.url)
                before = cpu_ns(server.pid)
                off_thread(paced_with_reader(server.url, rate, count, reader=mode == MODES[1]))
                costs[mode] = (cpu_ns(server.pid) - before) / count / 1e3
                if page is not None:
                    page.close()
        for mode, cost in costs.items():
            results[mode].append(cost)
        shown = ", ".join(f"{m} {costs[m]:4.0f}" for m in order)
        print(f"  round {round_no + 1}: {shown} us CPU/req", flush=True)
    base = median(results[MODES[0]])
    parts = []
    for mode in MODES[1:]:
        ratio = median([with_ / without for with_, without in zip(results[mode], results[MODES[0]], strict=True)])
        parts.append(f"{mode} {median(results[mode]):.0f} us ({(ratio - 1) * 100:+.1f}%)")
    print(
        f"event stream at {rate:.0f} req/s (server CPU per request, median of {rounds} rounds; in brackets the "
        f"median of the per-round ratios): no console {base:.0f} us, {', '.join(parts)} (target < +5%)",
        flush=True,
    )


def feed_work(messages: int = 4000, per_tick: int = 40) -> None:
    """The feed's own work per message, timed directly (free of the machine's noise): a simulator in
    this process takes ``messages`` sends through its ASGI app, and the feed collects and encodes
    what changed after every ``per_tick`` of them (40: a 100 ms tick at 400 requests/s), rows and
    status moves only (what a console that does not show the journal gets), then with the journal."""
    from lynsms.simulator import Simulator, create_app

    async def run(journal: bool) -> float:
        sim = Simulator(seed=1)
        app = create_app(sim=sim)
        feed = sim.console.feed
        sim.state.touched = set()  # as while a console listens
        form = {"To": "+12025550143", "From": "+12025550100", "Body": "Your code is 482194"}
        spent = 0.0
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
            for i in range(messages):
                await client.post(PATH, data=form, auth=AUTH)
                if i % per_tick == per_tick - 1:
                    started = time.perf_counter()
                    feed.collect(journal)
                    spent += time.perf_counter() - started
        return spent / messages * 1e6

    rows, with_journal = off_thread(run(False)), off_thread(run(True))
    print(
        f"feed's own work per message (collect + encode, every {per_tick} messages): {rows:.1f} us for rows and "
        f"status moves, {with_journal:.1f} us with the journal too",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu-rate", type=float, default=400.0, help="request rate of the CPU comparison")
    parser.add_argument("--only", choices=("live", "big", "cpu"), help="run one part only")
    args = parser.parse_args()
    cores = split_cores()
    if cores:
        # The browser, Playwright's driver and the load generator inherit this: the servers get the
        # other cores to themselves (server_process pins them), so CPU per request is the server's own.
        os.sched_setaffinity(0, cores[0])
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            if args.only in (None, "live"):
                live_latency(browser, args.rate, args.seconds)
            if args.only in (None, "big"):
                big_store(browser, args.messages)
            if args.only in (None, "cpu"):
                feed_work()
                stream_overhead(browser, args.cpu_rate, args.seconds, args.rounds)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
