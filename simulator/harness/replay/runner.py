"""Replaying one scenario: reset the simulator, load the scenario, run its steps against the gateway.

Each step is bracketed by the simulator's journal sequence (``GET /_sim/requests?since=SEQ``), so
the per-provider counts and the journal lines in a failure report are exactly what that step caused.
The first failing step ends the scenario: later steps usually build on it, and their failures
would only repeat the first one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from lynsms.clock import Clock, FastForwardClock
from lynsms.simulator.harness.replay.stack import RUNNER_HEADER, Refused, Stack, prepare_simulator
from lynsms.simulator.scenario import Scenario
from lynsms.simulator.scenario.expect import MISSING, Difference, differences, render
from lynsms.simulator.scenario.references import UnresolvedReference, resolve
from lynsms.simulator.scenario.steps import DEFAULT_WAIT, Step
from lynsms.tls import client_tls

POLL: Final = 0.005  # real seconds between looks at a message in wait_for, and at the webhook receiver
WEBHOOK_WAIT: Final = 3.0  # how long expected webhooks may take to arrive after their step
COUNTS: Final = ("requests", "messages", "accepted")
FINAL_STATUSES: Final = frozenset({"delivered", "undelivered", "failed"})  # wait_for stops at these


@dataclass(frozen=True, slots=True)
class Failure:
    step: int  # 0-based step index; -1 when the scenario could not start
    label: str  # "step 2 'replay' (send)"
    line: int  # of the step in its file; 0 when not from a step
    expectation: str  # "expect.status", "expect.json", "expect.message", "expect.simulator", "wait_for"...
    expected: str
    actual: str
    diff: tuple[str, ...] = ()  # one line per difference, with its path
    journal: tuple[str, ...] = ()  # the simulator journal lines of the step


@dataclass(frozen=True, slots=True)
class StepResult:
    step: Step
    seconds: float  # scenario time: what the clock of the stack says it took
    summary: str  # what was done and what came back: "POST /api/v1/messages/send -> 201"
    failures: tuple[Failure, ...] = ()
    journal: tuple[str, ...] = ()
    response: Any = None  # the response JSON, shown in reports
    wall: float | None = None  # wall time, when the clock fast-forwarded
    unchecked: tuple[str, ...] = ()  # expectations that could not be checked here, each with why

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    name: str
    source: str | None
    steps: tuple[StepResult, ...]
    total_steps: int
    seconds: float  # scenario time
    error: Failure | None = None  # the scenario could not run at all (servers unreachable, scenario refused)
    notes: tuple[str, ...] = field(default_factory=tuple)
    wall: float | None = None  # wall time, when the clock fast-forwarded
    skip_reason: str | None = None  # why nothing was replayed (no steps)

    @property
    def passed(self) -> bool:
        """Nothing failed (a skipped scenario has not failed either)."""
        return self.error is None and all(s.passed for s in self.steps) and len(self.steps) == self.total_steps

    @property
    def unchecked(self) -> tuple[str, ...]:
        return tuple(f"{s.step.label}: {u}" for s in self.steps for u in s.unchecked)

    @property
    def skipped(self) -> str | None:
        """Why this scenario counts as skipped: nothing replayed, or expectations left unchecked."""
        if self.skip_reason is not None:
            return self.skip_reason
        if self.passed and self.unchecked:
            return "not every expectation could be checked: " + "; ".join(self.unchecked)
        return None

    @property
    def failures(self) -> tuple[Failure, ...]:
        found = tuple(f for s in self.steps for f in s.failures)
        return (self.error, *found) if self.error else found


def run_scenario(
    scenario: Scenario, stack: Stack, *, on_step: Callable[[StepResult], None] | None = None
) -> ScenarioResult:
    """Replay ``scenario`` on ``stack``; ``on_step`` sees each step's result as it finishes."""
    notes = list(stack.notes)
    if not scenario.steps:
        reason = "no steps: the file scripts the simulator only, there is nothing to replay"
        return ScenarioResult(scenario.name, scenario.source, (), 0, 0.0, notes=tuple(notes), skip_reason=reason)
    results: list[StepResult] = []
    headers = {"Authorization": f"Bearer {stack.api_key}", RUNNER_HEADER: "1"}
    with ExitStack() as servers:
        # Both marked as the runner's: a server's answer to it is held until read (``hand_over``),
        # and its polling never restarts the calm that lets time skip.
        sim = servers.enter_context(
            httpx.Client(
                base_url=stack.simulator_url,
                headers={RUNNER_HEADER: "1"},
                timeout=30,
                trust_env=False,
                verify=client_tls(),
            )
        )
        gateway = servers.enter_context(
            httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=60, trust_env=False, verify=client_tls())
        )
        run = _Run(scenario, stack, sim, gateway)
        hold = stack.clock.hold() if isinstance(stack.clock, FastForwardClock) else nullcontext()
        servers.enter_context(hold)  # time skips only while the runner waits on the stack (_Run.waiting)
        timer = _Timer(stack.clock)
        try:
            run.prepare()
        except (Refused, httpx.HTTPError) as exc:
            detail = f"{type(exc).__name__}: {exc}" if isinstance(exc, httpx.HTTPError) else str(exc)
            error = Failure(-1, "setup", 0, "setup", "the simulator to load the scenario", detail)
            return ScenarioResult(
                scenario.name,
                scenario.source,
                (),
                len(scenario.steps),
                timer.scenario(),
                error,
                tuple(notes),
                timer.wall(),
            )
        for step in scenario.steps:
            result = run.step(step)
            results.append(result)
            if on_step is not None:
                on_step(result)
            if not result.passed:
                break
        seconds, wall = timer.scenario(), timer.wall()  # while held: time cannot skip before it is read
    return ScenarioResult(
        scenario.name, scenario.source, tuple(results), len(scenario.steps), seconds, None, tuple(notes), wall
    )


class _Timer:
    """Scenario time on the stack's clock, and wall time beside it when they differ."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.started = clock.monotonic()
        self.wall_started = time.monotonic()

    def scenario(self) -> float:
        return self.clock.monotonic() - self.started

    def wall(self) -> float | None:
        return time.monotonic() - self.wall_started if isinstance(self.clock, FastForwardClock) else None


@dataclass(frozen=True, slots=True)
class _Outcome:
    summary: str
    status: int | None = None
    answer: Any = None  # the response JSON
    message_ids: tuple[str, ...] = ()  # the messages the step is about
    message: Any = None  # the stored message when the answer is one (get, wait_for)
    failure: tuple[str, str, str] | None = None  # (expectation, expected, actual) when the action itself failed


class _Run:
    def __init__(self, scenario: Scenario, stack: Stack, sim: httpx.Client, gateway: httpx.Client) -> None:
        self.scenario = scenario
        self.stack = stack
        self.sim = sim
        self.gateway = gateway
        self.answers: dict[str, Any] = {}  # step name -> response JSON, for ${steps.NAME...}
        self.message_of: dict[str, str] = {}  # step name -> the message it is about

    def prepare(self) -> None:
        if not self.stack.prepared:
            prepare_simulator(self.sim, self.scenario)
        if self.stack.webhooks is not None:
            self.stack.webhooks.clear()

    def step(self, step: Step) -> StepResult:
        before = self._last_seq()
        timer = _Timer(self.stack.clock)
        try:
            outcome = self._act(step)
        except UnresolvedReference as exc:
            outcome = _Outcome("not sent", failure=("reference", "a value from an earlier step", str(exc)))
        except httpx.HTTPError as exc:
            outcome = _Outcome(
                "no answer", failure=("request", "an answer from the gateway", f"{type(exc).__name__}: {exc}")
            )
        failures: list[tuple[str, str, str, tuple[str, ...]]] = []
        unchecked: list[str] = []
        if outcome.failure is not None:
            failures.append((*outcome.failure, ()))
        else:
            failures.extend(self._check(step, outcome, before, unchecked))
        journal = self._journal(before)
        if step.name is not None:
            self.answers[step.name] = outcome.answer
            if outcome.message_ids:
                self.message_of[step.name] = outcome.message_ids[0]
        built = tuple(
            Failure(step.index, step.label, step.line, kind, want, got, diff, journal)
            for kind, want, got, diff in failures
        )
        seconds, wall = timer.scenario(), timer.wall()
        return StepResult(step, seconds, outcome.summary, built, journal, outcome.answer, wall, tuple(unchecked))

    # ---- actions ---------------------------------------------------------------------------------

    def waiting(self) -> AbstractContextManager[object]:
        """The runner waits on the stack (an answer, a status, a sleep): scripted waits may skip."""
        clock = self.stack.clock
        return clock.running() if isinstance(clock, FastForwardClock) else nullcontext()

    def _handed_back(self) -> None:
        if isinstance(self.stack.clock, FastForwardClock):
            self.stack.clock.handed_back()

    def _act(self, step: Step) -> _Outcome:
        with self.waiting():
            return self._action(step)

    def _action(self, step: Step) -> _Outcome:
        headers = resolve(dict(step.headers), self.answers)
        if step.action in ("send", "bulk"):
            path = f"/api/v1/messages/{step.action}"
            response = self.gateway.post(path, json=resolve(dict(step.body or {}), self.answers), headers=headers)
            answer = _json(response)
            if step.action == "send":
                ids: tuple[str, ...] = tuple(filter(None, [message_id_of(answer)]))
            else:
                items = answer.get("data", {}).get("messages", []) if isinstance(answer, dict) else []
                ids = tuple(item["id"] for item in items if isinstance(item, dict) and "id" in item)
            return _Outcome(f"POST {path} -> {response.status_code}", response.status_code, answer, ids)
        if step.action == "get":
            message_id = self._target(step)
            response = self.gateway.get(f"/api/v1/messages/{message_id}", headers=headers)
            answer = _json(response)
            found = answer.get("data") if response.status_code == 200 and isinstance(answer, dict) else None
            return _Outcome(
                f"GET /api/v1/messages/{message_id} -> {response.status_code}",
                response.status_code,
                answer,
                (message_id,),
                found,
            )
        if step.action == "wait_for":
            return self._wait_for(step)
        if step.action == "reply":
            return self._reply(step)
        _sleep(self.stack.clock, step.seconds)
        return _Outcome(f"slept {step.seconds:g} s")

    def _reply(self, step: Step) -> _Outcome:
        """POST /_sim/inbound, then wait until the push is delivered or given up, so the step's
        expectations see what the gateway made of it (an opt-out, a help answer)."""
        body = resolve(dict(step.body or {}), self.answers)
        response = self.sim.post("/_sim/inbound", json=body)
        answer = _json(response)
        summary = f"POST /_sim/inbound -> {response.status_code}"
        if response.status_code != 202 or not isinstance(answer, dict):
            return _Outcome(summary, response.status_code, answer)
        deadline = time.monotonic() + DEFAULT_WAIT
        while answer.get("delivery") == "queued" and time.monotonic() < deadline:
            time.sleep(POLL)
            found = self.sim.get("/_sim/inbound", params={"provider": body.get("provider")}).json()["inbound"]
            self._handed_back()  # time may skip again between looks
            answer = next((m for m in found if m["id"] == answer["id"]), answer)
        return _Outcome(f"{summary}, push {answer.get('delivery')}", response.status_code, answer)

    def _target(self, step: Step) -> str:
        target = str(resolve(step.target, self.answers))
        return self.message_of.get(target, target)

    def _wait_for(self, step: Step) -> _Outcome:
        message_id = self._target(step)
        with _deadline(self.stack.clock, step.seconds) as deadline:
            while True:
                over = deadline()  # read before looking: the last look comes after the deadline
                response = self.gateway.get(f"/api/v1/messages/{message_id}")
                self._handed_back()  # time may skip again between looks
                answer = _json(response)
                message = answer.get("data") if response.status_code == 200 and isinstance(answer, dict) else None
                status = message.get("status") if isinstance(message, dict) else None
                finished = status == step.status or status in FINAL_STATUSES or response.status_code != 200
                if finished or over:
                    break
                time.sleep(POLL)
        summary = f"waited for {message_id} to be {step.status}: {status or response.status_code}"
        failure = None
        if status != step.status:
            why = "" if status in FINAL_STATUSES else f" within {step.seconds:g} s"
            error = message.get("error") if isinstance(message, dict) else None
            got = f"{status or f'HTTP {response.status_code}'}" + (f" (error {render(error)})" if error else "")
            failure = ("wait_for", f"status {step.status}{why}", got)
        return _Outcome(summary, response.status_code, answer, (message_id,), message, failure)

    # ---- expectations ----------------------------------------------------------------------------

    def _check(
        self, step: Step, outcome: _Outcome, before: int, unchecked: list[str]
    ) -> list[tuple[str, str, str, tuple[str, ...]]]:
        expect = step.expect
        found: list[tuple[str, str, str, tuple[str, ...]]] = []
        if expect.status is not None and outcome.status != expect.status:
            found.append(("expect.status", str(expect.status), f"{outcome.status}: {render(outcome.answer, 300)}", ()))
        if expect.json is not MISSING:
            wanted = resolve(expect.json, self.answers)
            found.extend(_compare("expect.json", wanted, outcome.answer))
        if expect.message is not None:
            message = outcome.message if outcome.message is not None else self._message(outcome.message_ids[:1])
            wanted = resolve(dict(expect.message), self.answers)
            if message is None:
                found.append(
                    ("expect.message", "a stored message", f"none: the answer names no message ({outcome.summary})", ())
                )
            else:
                found.extend(_compare("expect.message", wanted, message))
        if expect.messages is not None:
            stored = [self._message((i,)) for i in outcome.message_ids]
            found.extend(_compare("expect.messages", resolve(list(expect.messages), self.answers), stored))
        if expect.simulator is not None:
            counts = _counts(self._entries(before))
            wanted_counts = {p: dict(c) for p, c in expect.simulator.items()}
            actual = {p: {k: counts.get(p, {}).get(k, 0) for k in c} for p, c in wanted_counts.items()}
            found.extend(_compare("expect.simulator", wanted_counts, actual))
        if expect.webhooks is not None and self.stack.webhooks is None:
            unchecked.append(
                "expect.webhooks: the gateway's webhook_url cannot be pointed at a receiver here (an external "
                "gateway without the admin endpoint: start it with `lynsms up --admin`)"
            )
        elif expect.webhooks is not None:
            found.extend(self._webhooks(step, outcome))
        return found

    def _message(self, ids: tuple[str, ...]) -> Any:
        if not ids:
            return None
        response = self.gateway.get(f"/api/v1/messages/{ids[0]}")
        answer = _json(response)
        return answer.get("data") if response.status_code == 200 and isinstance(answer, dict) else None

    def _webhooks(self, step: Step, outcome: _Outcome) -> list[tuple[str, str, str, tuple[str, ...]]]:
        assert step.expect.webhooks is not None
        wanted = resolve(list(step.expect.webhooks), self.answers)
        ids = set(outcome.message_ids)
        with self.waiting():
            events = self._events(ids, len(wanted))
        return _compare("expect.webhooks", wanted, events)

    def _events(self, ids: set[str], wanted: int) -> list[Any]:
        receiver = self.stack.webhooks
        assert receiver is not None
        with _deadline(self.stack.clock, WEBHOOK_WAIT) as deadline:
            while True:
                over = deadline()
                events = [
                    e for e in receiver.events() if not ids or (isinstance(e, dict) and e.get("message_id") in ids)
                ]
                if len(events) >= wanted or over:
                    return events
                time.sleep(POLL)

    # ---- the simulator's journal -----------------------------------------------------------------

    def _last_seq(self) -> int:
        entries = self.sim.get("/_sim/requests", params={"limit": 1}).json()["requests"]
        return int(entries[-1]["seq"]) if entries else 0

    def _entries(self, since: int) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.sim.get("/_sim/requests", params={"since": since, "limit": 10_000}).json()[
            "requests"
        ]
        return entries

    def _journal(self, since: int) -> tuple[str, ...]:
        try:
            return tuple(journal_line(e) for e in self._entries(since))
        except httpx.HTTPError as exc:
            return (f"(journal unavailable: {type(exc).__name__}: {exc})",)


def _sleep(clock: Clock, seconds: float) -> None:
    if isinstance(clock, FastForwardClock):
        clock.sleep_blocking(seconds)
    else:
        time.sleep(seconds)


@contextmanager
def _deadline(clock: Clock, seconds: float) -> Iterator[Callable[[], bool]]:
    """A test of whether ``seconds`` have passed on ``clock``, for the block; on a fast-forward
    clock the deadline is a timer of its own, so the clock skips to it once everything before it
    has happened, and it is cancelled when the block ends."""
    if isinstance(clock, FastForwardClock):
        deadline = clock.deadline(seconds)
        try:
            yield deadline.is_set
        finally:
            deadline.cancel()
        return
    end = clock.monotonic() + seconds
    yield lambda: clock.monotonic() >= end


def _compare(kind: str, expected: Any, actual: Any) -> list[tuple[str, str, str, tuple[str, ...]]]:
    found: list[Difference] = differences(expected, actual)
    if not found:
        return []
    return [(kind, render(expected, 300), render(actual, 300), tuple(str(d) for d in found))]


def _counts(entries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per provider (and ``total``): requests (POSTs: sends and lookups; callbacks and polling are
    not counted), the messages they carried, and the messages the provider accepted."""
    counts: dict[str, dict[str, int]] = {"total": dict.fromkeys(COUNTS, 0)}
    for entry in entries:
        provider = entry.get("provider")
        if provider is None or entry.get("method") != "POST":
            continue
        for bucket in (counts.setdefault(provider, dict.fromkeys(COUNTS, 0)), counts["total"]):
            bucket["requests"] += 1
            bucket["messages"] += len(entry.get("messages") or [])
            bucket["accepted"] += len(entry.get("message_ids") or [])
    return counts


def journal_line(entry: Mapping[str, Any]) -> str:
    """``#3 twilio POST /2010-04-01/.../Messages.json -> 503  http_error 503 (rule 'outage')  2 ms``"""
    outcome = entry.get("outcome") or {}
    kind = str(outcome.get("kind", ""))
    detail = {
        "reject": outcome.get("reason"),
        "http_error": outcome.get("status"),
        "fault": outcome.get("fault"),
        "accept": None,
    }.get(kind)
    what = " ".join(str(part) for part in (kind, detail) if part is not None)
    if outcome.get("rule"):
        what += f" (rule {outcome['rule']!r})"
    if entry.get("method") == "CALLBACK" and outcome.get("result"):
        what = f"callback {outcome['result']}"
    status = entry.get("status")
    answered = f"-> {status}" if status is not None else "-> no response"
    request = f"#{entry.get('seq')} {entry.get('provider') or '-'} {entry.get('method')} {entry.get('path')}"
    return f"{request} {answered}  {what}  {entry.get('duration_ms', 0):g} ms"


def message_id_of(answer: Any) -> str | None:
    """The message a send/get/wait_for answer is about: ``data.id``, or ``error.message_id`` on failure."""
    if not isinstance(answer, Mapping):
        return None
    for section, key in (("data", "id"), ("error", "message_id")):
        part = answer.get(section)
        if isinstance(part, Mapping) and isinstance(part.get(key), str):
            return str(part[key])
    return None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"non_json_body": response.text[:2000]}
