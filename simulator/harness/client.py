"""A test's handle on a running simulator: load scenarios, read what arrived, assert on it.

It speaks only the public control API (``/_sim/...``), never the ``Simulator`` object: the
simulator lives on its server's event loop, and the HTTP API serialises every change onto that
loop. The same handle therefore works for an in-process server and for one started elsewhere.

Failed assertions list the *near misses*, WireMock-style: every message that did reach the
simulator in this test, closest to what was expected first, with what differed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from lynsms.simulator.decision import BODY_FAULTS
from lynsms.simulator.messages import NORMALISED_STATUSES
from lynsms.simulator.scenario import SUFFIXES
from lynsms.simulator.scenario import parse as parse_scenario
from lynsms.tls import client_tls

ScenarioSource = str | os.PathLike[str] | Mapping[str, Any]

NEAR_MISSES_SHOWN = 10
BODY_SNIPPET = 40


@dataclass(frozen=True)
class SentMessage:
    """A message a provider accepted (``GET /_sim/messages``). ``data`` is the full JSON."""

    id: str
    provider: str
    account: str
    to: str
    sender: str | None
    body: str
    status: str
    segments: int
    data: Mapping[str, Any]
    delivery: str = "accepted"  # the status normalised across providers (NORMALISED_STATUSES)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SentMessage:
        return cls(
            id=data["id"],
            provider=data["provider"],
            account=data["account"],
            to=data["to"],
            sender=data.get("from"),
            body=data["body"],
            status=data["status"],
            segments=data["segments"],
            data=data,
            delivery=data.get("delivery", "accepted"),
        )


@dataclass(frozen=True)
class Arrival:
    """One message as it arrived in a provider request (from the journal), and what became of it."""

    seq: int
    provider: str
    to: str
    sender: str | None
    body: str
    http_status: int | None  # None: no response was sent (connection reset, the client gave up)
    outcome: Mapping[str, Any]

    @property
    def accepted(self) -> bool:
        kind = self.outcome.get("kind")
        taken = kind == "accept" or (kind == "fault" and self.outcome.get("fault") in BODY_FAULTS)
        return taken and self.http_status is not None and 200 <= self.http_status < 300

    def describe(self) -> str:
        """``sinch  to=+447700900123  from=Acme  body='Your code…'  -> 503 http_error (rule x)``"""
        body = self.body if len(self.body) <= BODY_SNIPPET else self.body[: BODY_SNIPPET - 1] + "…"
        status = "no response" if self.http_status is None else str(self.http_status)
        what = "accepted" if self.accepted else _outcome_text(self.outcome)
        return f"{self.provider:<9} to={self.to}  from={self.sender}  body={body!r}  -> {status} {what}"


@dataclass(frozen=True)
class Expectation:
    """What ``assert_sent`` looks for; ``None`` fields match anything."""

    provider: str | None = None
    to: str | None = None
    sender: str | None = None
    body_contains: str | None = None

    def misses(self, provider: str, to: str, sender: str | None, body: str) -> list[str]:
        """The names of the criteria this message fails, empty when it matches."""
        missed: list[str] = []
        if self.provider is not None and provider != self.provider:
            missed.append("provider")
        if self.to is not None and not _same_number(to, self.to):
            missed.append("to")
        if self.sender is not None and (sender is None or not _same_number(sender, self.sender)):
            missed.append("from")
        if self.body_contains is not None and self.body_contains not in body:
            missed.append("body")
        return missed

    def __str__(self) -> str:
        parts = []
        if self.to is not None:
            parts.append(f"to {self.to}")
        if self.sender is not None:
            parts.append(f"from {self.sender}")
        if self.provider is not None:
            parts.append(f"via {self.provider}")
        if self.body_contains is not None:
            parts.append(f"with body containing {self.body_contains!r}")
        return " ".join(parts) or "(any)"


class SmsSimulator:
    """A running simulator at ``url``, driven over its control API."""

    def __init__(self, url: str, client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        # One keep-alive client: a new connection per control call would cost more than the call.
        self.control = client or httpx.Client(base_url=self.url, timeout=10.0, verify=client_tls())

    def close(self) -> None:
        self.control.close()

    def __repr__(self) -> str:
        return f"SmsSimulator(url={self.url!r})"

    # ---- state -----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget messages, journal, counters and runtime scenarios (``POST /_sim/reset``)."""
        self.control.post("/_sim/reset").raise_for_status()

    def load(self, scenario: ScenarioSource, account: str | None = None, *, base: Path | None = None) -> dict[str, Any]:
        """Load a scenario for this test: a file path, YAML (or JSON) text, or a mapping.

        It is validated here first, so problems name the file and line; ``account`` loads it for
        that credential only. Relative paths are looked up under ``base`` first, then the working
        directory. Returns the loaded scenario as ``GET /_sim/scenario`` shows it.
        """
        text, source = _scenario_text(scenario, base)
        parse_scenario(text, source)  # raises simulator.scenario.ScenarioError with file:line problems
        params = {"account": account} if account is not None else {}
        answer = self.control.put("/_sim/scenario", params=params, content=text.encode("utf-8"))
        if answer.status_code != 200:  # the local check passed, so only a version skew gets here
            raise ValueError(f"{source}: the simulator refused the scenario: {answer.text}")
        loaded: dict[str, Any] = answer.json()["scenario"]
        return loaded

    def reply(
        self,
        sender: str,
        to: str,
        body: str,
        *,
        provider: str = "twilio",
        account: str | None = None,
        wait: float | None = 10.0,
    ) -> dict[str, Any]:
        """A handset at ``sender`` texts ``body`` to ``to`` (``POST /_sim/inbound``): ``provider``
        pushes its own inbound webhook to the URL registered for it. With ``wait`` (seconds), returns
        once the push was delivered or given up, so the receiver has acted on it; the inbound
        message, with its push attempts. Raises ``LookupError`` when no inbound URL is registered."""
        payload = {"provider": provider, "from": sender, "to": to, "body": body}
        if account is not None:
            payload["account"] = account
        answer = self.control.post("/_sim/inbound", json=payload)
        if answer.status_code == 409:
            raise LookupError(answer.json().get("message", "no inbound URL is registered"))
        answer.raise_for_status()
        message: dict[str, Any] = answer.json()
        deadline = time.monotonic() + (wait or 0)
        while wait and message["delivery"] == "queued" and time.monotonic() < deadline:
            time.sleep(0.02)
            found = self.inbound(provider)
            message = next((m for m in found if m["id"] == message["id"]), message)
        return message

    def inbound(self, provider: str | None = None) -> list[dict[str, Any]]:
        """Inbound messages handsets sent (``GET /_sim/inbound``), oldest first, with their pushes."""
        params = {"provider": provider} if provider else {}
        found: list[dict[str, Any]] = self.control.get("/_sim/inbound", params=params).json()["inbound"]
        return found

    def messages(self, provider: str | None = None, to: str | None = None) -> list[SentMessage]:
        """Messages the providers accepted, oldest first."""
        params = {k: v for k, v in (("provider", provider), ("to", to)) if v is not None}
        answer = self.control.get("/_sim/messages", params=params)
        answer.raise_for_status()
        return [SentMessage.from_json(m) for m in answer.json()["messages"]]

    def requests(self, provider: str | None = None) -> list[dict[str, Any]]:
        """The journal: every request the simulator served (and every callback it made), oldest first.
        Includes calls that are not sends, e.g. a gateway registering its ClickSend receipt URL."""
        params = {"provider": provider} if provider is not None else {}
        answer = self.control.get("/_sim/requests", params=params)
        answer.raise_for_status()
        entries: list[dict[str, Any]] = answer.json()["requests"]
        return entries

    def arrivals(self, provider: str | None = None) -> list[Arrival]:
        """Every message that arrived in a provider request, accepted or not, oldest first."""
        return [a for entry in self.requests(provider) for a in _arrivals(entry)]

    # ---- assertions ------------------------------------------------------------------------------

    def assert_sent(
        self,
        *,
        to: str | None = None,
        provider: str | None = None,
        body_contains: str | None = None,
        sender: str | None = None,
        status: str | None = None,
        count: int | None = 1,
    ) -> list[SentMessage]:
        """Assert that providers accepted ``count`` messages matching every given field (``count=None``:
        at least one). Numbers compare with or without the leading ``+``. ``status`` is where the
        message stands in one vocabulary for every provider: ``accepted`` (no report yet), ``sent``,
        ``delivered``, ``undelivered``, ``failed`` or ``expired``. Returns the matches."""
        __tracebackhide__ = True
        if status is not None and status not in NORMALISED_STATUSES:
            raise ValueError(f"status {status!r}: expected one of {', '.join(NORMALISED_STATUSES)}")
        expected = Expectation(provider=provider, to=to, sender=sender, body_contains=body_contains)
        same = [m for m in self.messages() if not expected.misses(m.provider, m.to, m.sender, m.body)]
        found = [m for m in same if status is None or m.delivery == status]
        if (count is None and found) or len(found) == count:
            return found
        wanted = "at least 1 message" if count is None else f"{count} message(s)"
        what = f"{expected}" + (f" and status {status}" if status is not None else "")
        other_status = [m for m in same if m not in found]
        raise AssertionError(
            f"expected {wanted} sent {what}, found {len(found)}.\n" + self._explain(expected, found, other_status)
        )

    def assert_nothing_sent(self, *, provider: str | None = None, to: str | None = None) -> None:
        """Assert that no provider (or not ``provider``) accepted a message (to ``to``)."""
        __tracebackhide__ = True
        expected = Expectation(provider=provider, to=to)
        found = [m for m in self.messages() if not expected.misses(m.provider, m.to, m.sender, m.body)]
        if found:
            what = f" {expected}" if provider or to else ""
            lines = [f"expected nothing sent{what}, but {len(found)} message(s) were accepted:"]
            lines.extend(
                f"  {m.id}  {m.provider:<9} to={m.to}  body={m.body[:BODY_SNIPPET]!r}  status={m.status}" for m in found
            )
            raise AssertionError("\n".join(lines))

    def _explain(
        self, expected: Expectation, found: Sequence[SentMessage], other_status: Sequence[SentMessage] = ()
    ) -> str:
        lines: list[str] = []
        if found:
            lines.append("Matching messages:")
            lines.extend(
                f"  {m.id}  {m.provider:<9} to={m.to}  body={m.body[:BODY_SNIPPET]!r}  status={m.status}" for m in found
            )
        if other_status:
            lines.append("Matching all but the status:")
            lines.extend(
                f"  {m.id}  {m.provider:<9} to={m.to}  body={m.body[:BODY_SNIPPET]!r}  "
                f"status={m.delivery} ({m.provider}: {m.status})"
                for m in other_status
            )
        arrivals = self.arrivals()
        if not arrivals:
            lines.append(
                f"Nothing reached the simulator at {self.url} in this test: is the code under test pointed at it?"
            )
            return "\n".join(lines)
        # Closeness first: what was sent (number, provider, sender, body) before whether it was taken,
        # so a rejected message that is otherwise the one expected leads; newest first among equals.
        ranked = sorted(
            arrivals, key=lambda a: (len(expected.misses(a.provider, a.to, a.sender, a.body)), not a.accepted, -a.seq)
        )
        misses = [(a, _misses(expected, a)) for a in ranked]
        near = [(a, m) for a, m in misses if m]
        if near:
            lines.append(f"Near misses (closest first; {len(arrivals)} message(s) reached the simulator in this test):")
            for arrival, missed in near[:NEAR_MISSES_SHOWN]:
                lines.append(f"  {arrival.describe()}   differs: {', '.join(missed)}")
            if len(near) > NEAR_MISSES_SHOWN:
                lines.append(
                    f"  ... and {len(near) - NEAR_MISSES_SHOWN} more (sms_simulator.arrivals() lists them all)"
                )
        return "\n".join(lines)


def _misses(expected: Expectation, arrival: Arrival) -> list[str]:
    missed = expected.misses(arrival.provider, arrival.to, arrival.sender, arrival.body)
    if not arrival.accepted:
        missed.append("not accepted")
    return missed


def _arrivals(entry: Mapping[str, Any]) -> list[Arrival]:
    messages: list[Mapping[str, Any]] = entry.get("messages") or []
    outcome: Mapping[str, Any] = entry.get("outcome") or {}
    # A request carrying several messages may have decided each differently.
    per_message = outcome.get("per_message") if outcome.get("kind") == "mixed" else None
    return [
        Arrival(
            seq=entry["seq"],
            provider=entry.get("provider") or "?",
            to=str(m.get("to", "")),
            sender=m.get("from"),
            body=str(m.get("body", "")),
            http_status=entry.get("status"),
            outcome=per_message[i] if per_message and i < len(per_message) else outcome,
        )
        for i, m in enumerate(messages)
    ]


def _outcome_text(outcome: Mapping[str, Any]) -> str:
    kind = str(outcome.get("kind", "?"))
    detail = outcome.get("reason") or outcome.get("fault") or outcome.get("detail")
    text = f"{kind} {detail}" if detail else kind
    return f"{text} (rule {outcome['rule']})" if outcome.get("rule") else text


def _same_number(a: str, b: str) -> bool:
    # Providers differ on the leading '+' (Sinch reports '447700900123'); so does the simulator's filter.
    return a.lstrip("+") == b.lstrip("+")


def _scenario_text(scenario: ScenarioSource, base: Path | None) -> tuple[str, str]:
    """(text, name for problems) of a scenario given as a path, YAML/JSON text or a mapping."""
    if isinstance(scenario, Mapping):
        return json.dumps(scenario), "<scenario mapping>"
    if isinstance(scenario, str) and ("\n" in scenario or not scenario.endswith(SUFFIXES)):
        return scenario, "<inline scenario>"  # a one-line path must end like a scenario file
    path = Path(scenario)
    candidates = [path] if path.is_absolute() or base is None else [base / path, path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text("utf-8"), str(candidate)
    raise FileNotFoundError(
        f"scenario file {os.fspath(scenario)!r} not found (looked in: {', '.join(map(str, candidates))})"
    )
