"""Crash safety under SIGKILL: a gateway killed mid-bulk and restarted on the same database.

    python -m benchmarks.crash_bench [--recipients 1000] [--providers twilio,sinch]
                                     [--points 0.2,0.5,0.8] [--latency 0.2] [--sinch-latency 2]

For each provider and each kill point: a simulator process whose scenario makes that provider
answer after ``latency`` seconds (messages are accepted when the request arrives, answered
later, as a busy provider would), a ``lynsms gateway --db FILE`` process, one bulk of
``recipients`` numbers through that provider, SIGKILL once the simulator holds that fraction
of the recipients (Sinch takes the whole bulk in one batch request: it is killed while that
request waits for its answer), a restart on the same file, and a wait until no message is
``unconfirmed``. Then it is judged through the public APIs only, the gateway's
``GET /api/v1/messages`` and the simulator's ``GET /_sim/messages``:

- accepted shown failed: recipients the provider accepted whose message the gateway shows ``failed``;
- sent twice: recipients the simulator holds more than once (any provider);
- also shown: accepted but not shown sent (still unconfirmed, or missing), how many messages were
  settled by reconciliation, and whether the bulk's ``Idempotency-Key`` replays each recipient's
  status as ``GET`` shows it.

Targets (issue 11): 0 accepted shown failed and 0 sent twice at every kill point, for Twilio and Sinch.

``tests/e2e/test_crash_recovery.py`` runs the same drill, small and fast, with these functions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lynsms.tls import client_tls

KEY = "crash-bench-key"
BODY = "Tickets for tonight are still available"
# Numbers phonenumbers calls valid, one per recipient (the gateway refuses the fiction ranges' neighbours).
RECIPIENTS = [f"+1202555{n:04d}" for n in range(1000, 2000)]
_URL = re.compile(r"(http://\S+?)(/api)?\s")


@dataclass
class Process:
    """A ``lynsms`` server process and the URL it printed."""

    url: str
    process: subprocess.Popen[str]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)


@contextmanager
def lynsms(*args: str) -> Iterator[Process]:
    """``lynsms ARGS`` (``--port 0``) in its own process, once it answers on the URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "lynsms.simulator.harness.cli", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "LYNSMS_API_KEY": KEY, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = _URL.search(line + " ")
        if found is None:
            raise RuntimeError(f"lynsms {args[0]} did not start: {line!r}")
        # The banner's other lines are not read: the pipe holds far more than they take.
        server = Process(found.group(1), process)
        health = "/api/health" if args[0] == "gateway" else "/_sim/health"
        wait_for(lambda: _answers(server.url + health), 20.0, f"lynsms {args[0]}")
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def gateway(db: Path, simulator_url: str) -> Iterator[Process]:
    """``lynsms gateway --db DB --simulator-url URL``: the built-in config, every provider on the simulator."""
    with lynsms("gateway", "--db", str(db), "--simulator-url", simulator_url) as server:
        yield server


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2, verify=client_tls()).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def scenario(provider: str, latency: float) -> str:
    """Every message of ``provider`` accepted at once, answered ``latency`` seconds later."""
    return json.dumps({"name": f"slow-{provider}", "providers": {provider: [{"latency": latency}]}})


@dataclass
class Bulk:
    """A bulk POSTed from a thread, since the gateway may die before it answers."""

    url: str
    payload: dict[str, Any]
    idempotency_key: str
    response: httpx.Response | None = None
    error: str | None = None
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._post, daemon=True)
        self.thread.start()

    def _post(self) -> None:
        try:
            self.response = httpx.post(
                f"{self.url}/api/v1/messages/bulk",
                json=self.payload,
                headers=headers(self.idempotency_key),
                timeout=60,
                verify=client_tls(),
            )
        except httpx.HTTPError as exc:  # the connection dies with the gateway
            self.error = f"{type(exc).__name__}: {exc}"


def headers(idempotency_key: str | None = None) -> dict[str, str]:
    sent = {"Authorization": f"Bearer {KEY}"}
    if idempotency_key:
        sent["Idempotency-Key"] = idempotency_key
    return sent


def bulk_payload(recipients: Sequence[str], provider: str) -> dict[str, Any]:
    return {"from": "LynSMS", "recipients": list(recipients), "body": BODY, "provider": provider}


def simulator_messages(simulator_url: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{simulator_url}/_sim/messages", timeout=30, verify=client_tls())
    found: list[dict[str, Any]] = answer.json()["messages"]
    return found


def gateway_messages(gateway_url: str) -> list[dict[str, Any]]:
    """Every message the gateway shows, through its list endpoint's pages."""
    found: list[dict[str, Any]] = []
    params: dict[str, str] = {"limit": "100"}
    with httpx.Client(base_url=gateway_url, headers=headers(), timeout=30, verify=client_tls()) as client:
        while True:
            page = client.get("/api/v1/messages", params=params).json()["data"]
            found += page["messages"]
            if not page["has_more"]:
                return found
            params["cursor"] = page["next_cursor"]


def settled(gateway_url: str) -> bool:
    """No message is unconfirmed any more (a gateway that has no such status never has one)."""
    answer = httpx.get(
        f"{gateway_url}/api/v1/messages",
        params={"status": "unconfirmed", "limit": "1"},
        headers=headers(),
        timeout=30,
        verify=client_tls(),
    )
    return answer.status_code == 400 or not answer.json()["data"]["messages"]


@dataclass(frozen=True)
class Verdict:
    recipients: int
    accepted: int  # recipients the simulator holds
    accepted_shown_failed: int
    sent_twice: int
    accepted_not_shown_sent: int  # unconfirmed still, or no such message
    reconciled: int  # messages whose history shows reconciliation
    replay_matches: bool  # the Idempotency-Key replays each recipient's status as GET shows it

    @property
    def ok(self) -> bool:
        return self.accepted_shown_failed == 0 and self.sent_twice == 0 and self.replay_matches


def judge(gateway_url: str, simulator_url: str, payload: dict[str, Any], idempotency_key: str) -> Verdict:
    """Judge a bulk from the outside: what the simulator accepted against what the gateway shows."""
    held = Counter(m["to"] if m["to"].startswith("+") else "+" + m["to"] for m in simulator_messages(simulator_url))
    shown = {m["to"]: m for m in gateway_messages(gateway_url) if m["body"] == payload["body"]}
    accepted = [to for to in payload["recipients"] if held[to]]
    shown_failed = [to for to in accepted if shown.get(to, {}).get("status") == "failed"]
    not_sent = [to for to in accepted if shown.get(to, {}).get("status") not in ("sent", "delivered", "undelivered")]
    reconciled = 0
    with httpx.Client(base_url=gateway_url, headers=headers(), timeout=30, verify=client_tls()) as client:
        for message in shown.values():
            if message["attempt_log"] and "after a restart" in (message["attempt_log"][-1]["reason"] or ""):
                reconciled += 1
        replay = client.post("/api/v1/messages/bulk", json=payload, headers={"Idempotency-Key": idempotency_key})
    replayed = {item["to"]: item["status"] for item in replay.json()["data"]["messages"]} if replay.is_success else {}
    return Verdict(
        recipients=len(payload["recipients"]),
        accepted=len(accepted),
        accepted_shown_failed=len(shown_failed),
        sent_twice=sum(1 for count in held.values() if count > 1),
        accepted_not_shown_sent=len(not_sent),
        reconciled=reconciled,
        replay_matches=replay.status_code == 201 and replayed == {to: m["status"] for to, m in shown.items()},
    )


def drill(simulator_url: str, db: Path, provider: str, recipients: Sequence[str], kill_after_accepted: int) -> Verdict:
    """Bulk through ``provider``; SIGKILL the gateway once the simulator holds ``kill_after_accepted``
    messages; restart on ``db``; wait until nothing is unconfirmed; judge."""
    payload = bulk_payload(recipients, provider)
    idempotency_key = f"crash-{provider}-{kill_after_accepted}"
    with gateway(db, simulator_url) as first:
        bulk = Bulk(first.url, payload, idempotency_key)
        wait_for(lambda: len(simulator_messages(simulator_url)) >= kill_after_accepted, 60.0, "acceptances")
        first.kill()
        bulk.thread.join(timeout=10)
    with gateway(db, simulator_url) as second:
        wait_for(lambda: settled(second.url), 60.0, "reconciliation")
        return judge(second.url, simulator_url, payload, idempotency_key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--providers", default="twilio,sinch")
    parser.add_argument("--points", default="0.1,0.5,0.9", help="kill once this fraction of recipients is accepted")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each Twilio request waits for its answer")
    parser.add_argument("--sinch-latency", type=float, default=2.0, help="seconds a Sinch batch waits for its answer")
    args = parser.parse_args()
    recipients = RECIPIENTS[: args.recipients]
    results: list[tuple[str, str, Verdict]] = []
    for provider in args.providers.split(","):
        latency = args.sinch_latency if provider == "sinch" else args.latency
        # One batch carries the whole bulk: the only point to kill at is while it waits.
        points = ["1.0"] if provider == "sinch" else args.points.split(",")
        for point in points:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "scenario.json"
                path.write_text(scenario(provider, latency), "utf-8")
                with lynsms("simulator", "--scenario", str(path)) as simulator:
                    kill_at = max(1, round(float(point) * len(recipients)))
                    started = time.perf_counter()
                    verdict = drill(simulator.url, Path(tmp) / "gateway.db", provider, recipients, kill_at)
                    took = time.perf_counter() - started
            label = f"{point} of the bulk accepted" if provider != "sinch" else "batch in flight"
            results.append((provider, label, verdict))
            print(
                f"{provider:7} kill at {label:28} accepted {verdict.accepted:4}/{verdict.recipients}  "
                f"accepted shown failed {verdict.accepted_shown_failed}  sent twice {verdict.sent_twice}  "
                f"accepted not shown sent {verdict.accepted_not_shown_sent}  reconciled {verdict.reconciled}  "
                f"replay {'matches' if verdict.replay_matches else 'DIFFERS'}  ({took:.1f} s)",
                flush=True,
            )
    failed = sum(v.accepted_shown_failed for _, _, v in results)
    twice = sum(v.sent_twice for _, _, v in results)
    print()
    print(f"total: accepted shown failed {failed} (target 0), sent twice {twice} (target 0)")
    if not all(v.ok for _, _, v in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
