"""Filtered lists with a full store: 20,000 messages stored, how fast does each provider's filtered
list answer?

    python -m benchmarks.list_bench [--messages 20000] [--requests 200]

Issue target: with 20,000 messages stored, a filtered list answers in under 20 ms (p99), for each
provider's list call: Twilio ``Messages.json?To=``, Sinch ``batches?client_reference=``, Infobip
``/sms/3/logs?destination=&generalStatus=``, ClickSend ``/v3/sms/history?q=to:``. The simulator runs
in its own process (``benchmarks.targets``); latencies are measured by the client, HTTP included.
The store is filled with a quarter of the messages per provider, each to one of 1,000 numbers, so a
filter on one number matches about five messages and must look at all of them to find those.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.loadgen import server_process

TWILIO = "AC" + "b" * 32
NUMBERS = 1000
CONCURRENCY = 16
QUIET = {"name": "list-bench", "defaults": {"deliver": False}}


def number(i: int) -> str:
    return f"+1202555{i % NUMBERS:04d}"


def sends(per_provider: int) -> list[tuple[str, dict[str, Any]]]:
    """Twilio one message per request and Sinch one batch per recipient (so its batch list grows too);
    Infobip and ClickSend 100 messages per request, which fills faster and stores the same."""
    requests: list[tuple[str, dict[str, Any]]] = []
    for i in range(per_provider):
        to = number(i)
        requests.append(
            (
                f"/2010-04-01/Accounts/{TWILIO}/Messages.json",
                {"data": {"To": to, "From": "+15005550006", "Body": f"m{i}"}, "auth": (TWILIO, "t")},
            )
        )
        requests.append(
            (
                "/xms/v1/plan-1/batches",
                {
                    "json": {"to": [to], "from": "Acme", "body": f"m{i}", "client_reference": f"ref-{i % NUMBERS}"},
                    "headers": {"Authorization": "Bearer api-token"},
                },
            )
        )
    for start in range(0, per_provider, 100):
        chunk = [number(i) for i in range(start, min(start + 100, per_provider))]
        requests.append(
            (
                "/sms/3/messages",
                {
                    "json": {"messages": [{"destinations": [{"to": to} for to in chunk], "content": {"text": "m"}}]},
                    "headers": {"Authorization": "App key"},
                },
            )
        )
        requests.append(
            ("/v3/sms/send", {"json": {"messages": [{"to": to, "body": "m"} for to in chunk]}, "auth": ("user", "key")})
        )
    return requests


async def fill(url: str, requests: list[tuple[str, dict[str, Any]]]) -> None:
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            path, options = queue.get_nowait()
            try:
                answer = await client.post(path, **options)
            except httpx.TransportError:  # a keep-alive connection the busy server closed: once more
                answer = await client.post(path, **options)
            if answer.status_code >= 300:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))


def lists(i: int) -> dict[str, tuple[str, dict[str, Any]]]:
    to = number(i)
    now = datetime.now(UTC)
    today = now.date().isoformat()
    day_start = int(datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp())
    return {
        "baseline: GET /_sim/health": ("/_sim/health", {}),
        "twilio Messages.json?To=": (
            f"/2010-04-01/Accounts/{TWILIO}/Messages.json",
            {"params": {"To": to}, "auth": (TWILIO, "t")},
        ),
        "sinch batches?client_reference=": (
            "/xms/v1/plan-1/batches",
            {"params": {"client_reference": f"ref-{i % NUMBERS}"}, "headers": {"Authorization": "Bearer api-token"}},
        ),
        "infobip logs?destination=&generalStatus=": (
            "/sms/3/logs",
            {
                "params": {"destination": to.lstrip("+"), "generalStatus": "PENDING"},
                "headers": {"Authorization": "App key"},
            },
        ),
        "clicksend history?q=to:": ("/v3/sms/history", {"params": {"q": f"to:{to}"}, "auth": ("user", "key")}),
        # Filters no recipient index answers: a date range (everything sent today, and a range
        # that holds nothing) and a status.
        "twilio Messages.json?DateSent>=": (
            f"/2010-04-01/Accounts/{TWILIO}/Messages.json",
            {"params": {"DateSent>": today}, "auth": (TWILIO, "t")},
        ),
        "twilio Messages.json?DateSent<=": (
            f"/2010-04-01/Accounts/{TWILIO}/Messages.json",
            {"params": {"DateSent<": "2001-01-01"}, "auth": (TWILIO, "t")},
        ),
        "infobip logs?sentSince=": (
            "/sms/3/logs",
            {"params": {"sentSince": f"{today}T00:00:00.000+0000"}, "headers": {"Authorization": "App key"}},
        ),
        "infobip logs?sentUntil=": (
            "/sms/3/logs",
            {"params": {"sentUntil": "2001-01-01T00:00:00.000+0000"}, "headers": {"Authorization": "App key"}},
        ),
        "infobip logs?generalStatus=": (
            "/sms/3/logs",
            {"params": {"generalStatus": "DELIVERED"}, "headers": {"Authorization": "App key"}},
        ),
        "clicksend history?date_from=&date_to=": (
            "/v3/sms/history",
            {"params": {"date_from": str(day_start), "date_to": str(day_start + 86400)}, "auth": ("user", "key")},
        ),
        "clicksend history?date_to= (none)": (
            "/v3/sms/history",
            {"params": {"date_to": "978307200"}, "auth": ("user", "key")},
        ),
        "clicksend history?q=status:": ("/v3/sms/history", {"params": {"q": "status:Queued"}, "auth": ("user", "key")}),
    }


def measure(url: str, rounds: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(rounds):
            for name, (path, options) in lists(i * 7).items():
                started = time.perf_counter()
                answer = client.get(path, **options)
                elapsed = time.perf_counter() - started
                if answer.status_code != 200:
                    raise RuntimeError(f"{name}: {answer.status_code} {answer.text[:200]}")
                timings.setdefault(name, []).append(elapsed)
    return timings


def server_times(url: str) -> dict[str, list[float]]:
    """The simulator's own time for each timed list call (its journal's ``duration_ms``): the
    handler's work without HTTP, the event loop's queue or the client, so a busy machine blurs it less."""
    entries = httpx.get(f"{url}/_sim/requests", params={"limit": 10_000}, timeout=60).json()["requests"]
    timed = [name for name, (path, _) in lists(0).items() if path.startswith(("/2010", "/xms", "/sms", "/v3"))]
    calls = [e for e in entries if e["method"] == "GET" and e["path"].startswith(("/2010", "/xms", "/sms", "/v3"))]
    # The journal keeps paths without queries: the timed calls went round-robin, in ``lists`` order.
    found: dict[str, list[float]] = {}
    for n, entry in enumerate(calls[-len(timed) * (len(calls) // len(timed)) :] if calls else []):
        found.setdefault(timed[n % len(timed)], []).append(entry["duration_ms"] / 1000)
    return found


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200, help="timed list calls per provider")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scenario = Path(folder) / "quiet.json"
        scenario.write_text(json.dumps(QUIET))
        with server_process("simulator", str(scenario)) as server:
            started = time.perf_counter()
            asyncio.run(fill(server.url, sends(args.messages // 4)))
            # One number's messages, not the whole store: the count is all this needs.
            stored = httpx.get(f"{server.url}/_sim/messages", params={"to": number(0)}, timeout=60).json()
            print(f"filled in {time.perf_counter() - started:.1f} s; {stored['count']} messages to {number(0)}")
            timings = measure(server.url, args.requests)
            inside = server_times(server.url)
    worst = 0.0
    print(f"{'list call':44} {'client p50':>10} {'client p99':>10} {'server p50':>10} {'server p99':>10}  (ms)")
    for name, values in timings.items():
        p99 = percentile(values, 99) * 1000
        own = inside.get(name)
        own_text = (
            f"{percentile(own, 50) * 1000:10.2f} {percentile(own, 99) * 1000:10.2f}" if own else f"{'-':>10} {'-':>10}"
        )
        worst = worst if name.startswith("baseline") else max(worst, p99)
        print(f"{name:44} {percentile(values, 50) * 1000:10.2f} {p99:10.2f} {own_text}")
    print(f"target: client p99 < 20 ms for every list: {'PASS' if worst < 20 else 'FAIL'} (worst {worst:.2f} ms)")


if __name__ == "__main__":
    main()
