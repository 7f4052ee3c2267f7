"""The shape every emulated provider has, and the mechanics they share.

A provider folder (``providers/<name>/``) only knows its wire format: ``parse.py`` turns a request
into ``Submission``s, ``render.py`` writes resources, errors and delivery reports, ``handlers.py``
holds the ``Provider`` subclass with its endpoints, and ``__init__.py`` names it ``PROVIDER``.
Recording to the journal, asking the engine what to do, storing accepted messages, turning parse
problems into errors, paging parameters, rejection tables and moving a message's status live here, once.

    request ──> Provider.endpoint ── journals, times, turns problems into errors
                   └── handler ── authenticates, parses ──> Provider.submit(send, submissions)
                                                               ├── Engine.decide per submission
                                                               ├── request-level trouble: http_error / fault / reject
                                                               └── store accepted, render_sent(send, results)

Providers get a ``Core`` (state, clock, engine, faults, deliveries), never the app that holds them.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Protocol, TypeVar

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.clock import Clock, utc_now
from lynsms.gateway.providers.names import ProviderName
from lynsms.gateway.segmentation import segment
from lynsms.simulator import accounts
from lynsms.simulator.decision import Decision
from lynsms.simulator.hosts import ProviderRoute
from lynsms.simulator.http import RAW_BODY, WireProblem
from lynsms.simulator.messages import DeliveryStatus, RejectReason, SimMessage, Submission
from lynsms.simulator.state import JournalEntry, SimState

if TYPE_CHECKING:
    from lynsms.simulator.deliveries import Deliveries
    from lynsms.simulator.engine import Engine
    from lynsms.simulator.faults import Faults
    from lynsms.simulator.scheduling import Scheduled

log = logging.getLogger("lynsms.simulator")

Handler = Callable[[Request, JournalEntry], Awaitable[Response]]
# What a send handler parsed beyond the submissions, handed back to ``render_sent``.
SendT = TypeVar("SendT")


@dataclass(frozen=True, slots=True)
class Core:
    """What a provider works with, handed over by the app that holds it."""

    state: SimState
    clock: Clock
    engine: Engine
    faults: Faults
    deliveries: Deliveries
    scheduled: Scheduled


class ProviderFactory(Protocol):
    """What ``providers/<name>/__init__.py`` exports as ``PROVIDER``: builds the provider for a core."""

    def __call__(self, core: Core) -> Provider[Any]: ...


class ProviderError(Exception):
    """Raise from a provider handler to answer with that provider's own error response."""

    def __init__(self, response: Response, outcome: str = "invalid_request", detail: str | None = None) -> None:
        super().__init__(detail or outcome)
        self.response = response
        self.outcome = outcome
        self.detail = detail


class BadParam(ValueError):
    """A query parameter out of range; each provider words it in its own error format."""

    def __init__(self, name: str, text: str, limit: str) -> None:
        super().__init__(f"{name}: must be an integer {limit}")
        self.name = name
        self.text = text


@dataclass(frozen=True, slots=True)
class Rejection:
    """A scripted rejection answered as a whole-request error: status, provider code, text
    (``{to}`` and ``{sender}`` filled from the submission)."""

    status: int
    code: str | int | None
    text: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """A submission the scenario rejected; providers that answer per message render it inline."""

    submission: Submission
    reason: RejectReason
    decision: Decision


@dataclass(frozen=True, slots=True)
class Refused:
    """A submission the provider itself refused on its content (Infobip unroutable destinations,
    ClickSend missing fields): never decided, answered inside the success response."""

    index: int  # its position in the request
    submission: Submission
    reason: str  # a ``RejectReason`` or the provider's own status word


SendResult = SimMessage | Rejected | Refused


@dataclass(frozen=True, slots=True)
class Callback:
    """An HTTP request the simulator makes to a client: a delivery report in the provider's format."""

    url: str
    body: bytes
    headers: dict[str, str]


def int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
    """A whole-number query parameter in ``low..high``; raises ``BadParam`` naming it."""
    text = params.get(name)
    if text is None:
        return default
    value = int(text) if text.isascii() and text.isdecimal() else None
    if value is None or value < low or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadParam(name, text, limit)
    if value > _INT_MAX:  # the providers' Java and .NET backends parse a 32-bit int
        raise BadParam(name, text, f"between {low} and {_INT_MAX}")
    return value


_INT_MAX: Final = 2**31 - 1


class Provider(ABC, Generic[SendT]):
    name: ClassVar[ProviderName]
    # Path prefixes this provider owns, so unknown paths under them get this provider's 404.
    prefixes: ClassVar[tuple[str, ...]]
    # Scripted rejections this provider answers as a whole-request error; others ride per message.
    rejections: ClassVar[Mapping[RejectReason, Rejection]] = {}
    # Providers whose every send creates a batch/bulk id, even for one recipient (Sinch, Infobip).
    batches: ClassVar[bool] = False
    # The status word of a message held for a later send (``Submission.send_at``), and the one it
    # takes when it falls due and goes out.
    scheduled_status: ClassVar[str] = "scheduled"
    released_status: ClassVar[str] = "queued"

    def __init__(self, core: Core) -> None:
        self.core = core
        self.state = core.state
        self.clock = core.clock

    # ---- what each provider writes: its wire format ----------------------------------------------

    @abstractmethod
    def routes(self) -> list[Route]:
        """This provider's endpoints, each built with ``self.endpoint(path, handler, methods)``."""

    @abstractmethod
    def error(self, status: int, message: str, code: str | int | None = None) -> Response:
        """A generic error in this provider's own format (401, 404, 405, 413, 415, 429, 5xx...)."""

    @abstractmethod
    def malformed(self, problem: WireProblem) -> Response:
        """The provider's answer to a body it cannot read (too large, wrong type, bad JSON/form/UTF-8)."""

    @abstractmethod
    def authenticate(self, request: Request) -> str:
        """The credential (account) the request is made under; raises ``ProviderError`` when refused."""

    @abstractmethod
    def render_sent(self, request: Request, send: SendT, results: Sequence[SendResult]) -> Response:
        """The success response for a send request: ``send`` is what the handler parsed, ``results``
        one per submission in request order (refused ones included)."""

    @abstractmethod
    def new_message_id(self) -> str:
        """A fresh id in this provider's format (from ``self.state.ids``)."""

    @abstractmethod
    def initial_status(self, send: SendT) -> str:
        """The provider's status word for a message just accepted in ``send``."""

    @abstractmethod
    def delivery_report(
        self, message: SimMessage, status: DeliveryStatus | str, error_code: str | None
    ) -> dict[str, Any] | None:
        """Move ``message.status`` into the provider's vocabulary for ``status`` (a final status, or an
        intermediate one such as "sent"), and return the provider's delivery report as the JSON-able
        dict its polling endpoint lists and its callback carries; None when nothing could ever read
        it (a provider without a report endpoint, for a message that asked for no callback)."""

    @abstractmethod
    def callback(self, message: SimMessage, report: dict[str, Any]) -> Callback | None:
        """The HTTP request that pushes ``report`` to the client, or None when nobody asked for it."""

    def reject(self, reason: RejectReason, submission: Submission) -> Response | None:
        """A scripted rejection as a whole-request error (from ``rejections``), or None if this
        provider reports it per message inside a success response (``render_sent`` renders it)."""
        rejection = self.rejections.get(reason)
        if rejection is None:
            return None
        text = rejection.text.format(to=submission.to, sender=submission.sender or "")
        return self.error(rejection.status, text, rejection.code)

    def lead_status(self, message: SimMessage) -> str | None:
        """A status ``message`` reaches inside the provider as soon as its delivery starts, reported
        (and called back) before the scripted steps; None for most providers."""
        return None

    def released(self, message: SimMessage) -> None:
        """A held message fell due and goes out now (``scheduling``)."""
        self.move(message, self.released_status, None)

    def refused_outcome(self, outcome: dict[str, Any], refused: Sequence[Refused], decided: int) -> dict[str, Any]:
        """The journal outcome of a send whose ``refused`` submissions never reached the engine
        (``decided`` is how many did)."""
        return {**outcome, "refused": {str(r.index): r.reason for r in refused}}

    def http_error(self, status: int, retry_after: int | None = None, submission: Submission | None = None) -> Response:
        """Scripted HTTP trouble (429, 500, 503...) in this provider's own error format, for the
        request that carried ``submission`` (its first message, when it had any)."""
        response = self.error_for(submission, status, _STATUS_TEXT.get(status, "Error"))
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    def error_for(self, submission: Submission | None, status: int, message: str) -> Response:
        """``error`` in the format of the API ``submission`` arrived on; providers with one error
        format (all but Infobip, whose v1/v2 paths answer in an older one) need not override it."""
        return self.error(status, message)

    # ---- shared mechanics ------------------------------------------------------------------------

    def now(self) -> datetime:
        return utc_now(self.clock)

    def authenticated(self, request: Request, entry: JournalEntry) -> str:
        """``authenticate``, with the credential stamped on the request's journal entry."""
        entry.account = account = self.authenticate(request)
        return account

    def endpoint(self, path: str, handler: Handler, methods: Sequence[str]) -> Route:
        """A route whose every request is journaled and whose every failure is in this provider's voice."""

        async def run(request: Request) -> Response:
            # scope["path"], not request.url.path: building the URL object costs more than the lookup.
            entry = self.state.journal.open(request.method, request.scope["path"], self.name)
            clock = self.clock
            started = clock.monotonic()
            try:
                response = await handler(request, entry)
            except WireProblem as problem:
                entry.outcome = {"kind": "invalid_request", "detail": problem.detail}
                response = self.malformed(problem)
            except ProviderError as exc:
                entry.outcome = {"kind": exc.outcome}
                if exc.detail:
                    entry.outcome["detail"] = exc.detail
                response = exc.response
            except ClientDisconnect:
                # The client hung up mid-body: nobody is left to answer.
                entry.outcome = {"kind": "client_gave_up"}
                entry.duration_ms = (clock.monotonic() - started) * 1000
                return Response(status_code=499)
            except Exception:
                log.exception("%s %s failed", request.method, request.scope["path"])
                entry.outcome = {"kind": "internal_error"}
                response = self.error(500, "Internal simulator error")
            entry.status = response.status_code
            entry.duration_ms = (clock.monotonic() - started) * 1000
            # The console reads these when a tester opens the message. The answer is copied into
            # a block of its own size: orjson hands back bytes inside a ~4 KiB buffer, and 10,000
            # journal entries holding those cost ~40 MB instead of ~4.
            entry.exchange = (
                request.scope.get(RAW_BODY, b""),
                response.status_code,
                bytes(memoryview(getattr(response, "body", b""))),
            )
            return response

        return ProviderRoute(self.name, path, run, methods=list(methods), name=f"{self.name}:{path}")

    async def submit(
        self,
        request: Request,
        entry: JournalEntry,
        account: str,
        send: SendT,
        submissions: Sequence[Submission],
        *,
        refused: Sequence[Refused] = (),
        batch_id: str | None = None,
    ) -> Response:
        """Decide, store and render one send request carrying ``submissions`` (plus ``refused``
        ones the provider answers itself). ``batch_id`` is the client's own bulk id where the
        provider lets clients choose it (Infobip ``bulkId``)."""
        await self.core.deliveries.keep_up()  # sends wait while callbacks are behind
        state = self.state
        entry.account = account
        entry.messages = list(submissions)
        call = state.count_call(self.name, account)
        now = self.now()
        decisions = self._decide(account, submissions, call, now)
        latency = max((d.latency for d in decisions), default=0.0)
        # Request-level trouble answers for the whole request. Body faults (malformed/slow body) are
        # not trouble here: the provider accepts the message, only its success response is garbled.
        trouble = next((d for d in decisions if d.kind == "http_error" or (d.kind == "fault" and not d.accepts)), None)
        if trouble is not None:
            entry.outcome = trouble.to_json()
            await self._wait(latency)
            return self.core.faults.render(self, trouble, entry, submissions[0] if submissions else None)
        shapes = [self.shape(s) for s in submissions]
        parts = [shape[0] for shape in shapes]
        decisions = accounts.charge(state, self.core.engine, self.name, account, submissions, parts, decisions)
        for submission, decision in zip(submissions, decisions, strict=True):
            if decision.kind == "reject" and decision.reason is not None:
                whole = self.reject(decision.reason, submission)
                if whole is not None:
                    entry.outcome = decision.to_json()
                    await self._wait(latency)
                    return whole
        if batch_id is None and (len(submissions) > 1 or self.batches):
            batch_id = self.new_batch_id()
        decided: list[SendResult] = []
        status = self.initial_status(send)
        held: list[tuple[SimMessage, datetime]] = []
        for submission, shape, decision in zip(submissions, shapes, decisions, strict=True):
            if decision.kind == "reject" and decision.reason is not None:
                decided.append(Rejected(submission, decision.reason, decision))
                continue
            due = _due(submission, now)
            message = SimMessage(
                id=self.message_id_for(submission),
                provider=self.name,
                account=account,
                submission=submission,
                segments=shape[0],
                encoding=shape[1],
                status=status if due is None else self.scheduled_status,
                created_at=now,
                updated_at=now,
                batch_id=batch_id,
            )
            state.add([message])  # stored at once, so the next message_id_for sees this id taken
            if due is not None:
                held.append((message, due))
            decided.append(message)
        entry.message_ids = [r.id for r in decided if isinstance(r, SimMessage)]
        entry.outcome = _summarise(decisions)
        results = _in_request_order(decided, refused)
        if refused:
            entry.messages = [r.submission for r in results]
            entry.outcome = self.refused_outcome(entry.outcome, refused, len(submissions))
        # Rendered before the wait: rendering records what the request created (a Sinch batch), and
        # a provider that is slow to answer has still taken the messages, so its read APIs list
        # them at once, even if the client gives up (or dies) before the answer comes.
        response = self.render_sent(request, send, results)
        await self._wait(latency)
        if 200 <= response.status_code < 300:
            for message, due in held:
                self.core.scheduled.hold(self, message, due, call)
            waiting = {message.id for message, _ in held}
            for result, decision in zip(decided, decisions, strict=True):
                if isinstance(result, SimMessage) and result.id not in waiting and decision.delivery is not None:
                    self.core.deliveries.schedule(self, result, decision.delivery)
            garbled = next((d for d in decisions if d.kind == "fault"), None)
            if garbled is not None:
                response = self.core.faults.garble(response, garbled, entry)
        return response

    def _decide(self, account: str, submissions: Sequence[Submission], call: int, now: datetime) -> list[Decision]:
        """The engine's decision per submission. A message sent for later meets the engine again
        when due (``scheduling``): a rule is counted once per message, so an acceptance that lets
        it wait is not counted here, only an outcome that ends it (or garbles the answer) now."""
        engine, name = self.core.engine, self.name
        decisions = []
        for submission in submissions:
            if _due(submission, now) is None:
                decisions.append(engine.decide(name, account, submission, call))
                continue
            decision = engine.decide(name, account, submission, call, count=False)
            if decision.kind != "accept":
                engine.count(name, account, decision)
            decisions.append(decision)
        return decisions

    def shape(self, submission: Submission) -> tuple[int, str]:
        """(parts, encoding) of ``submission``: its body as text, unless the provider sent binary content."""
        shape = segment(submission.body)
        return shape.segments, shape.encoding

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            await self.clock.sleep(seconds)

    def new_batch_id(self) -> str:
        return self.state.ids.uuid()

    def message_id_for(self, submission: Submission) -> str:
        """The id of an accepted message: a fresh one, unless the provider lets clients choose."""
        return self.new_message_id()

    def message(self, message_id: str) -> SimMessage | None:
        found = self.state.messages.get(message_id)
        return found if found is not None and found.provider == self.name else None

    def messages_of(self, account: str) -> Iterator[SimMessage]:
        """This provider's messages sent under ``account``, oldest first."""
        return self.state.owned(self.name, account)

    def move(self, message: SimMessage, status: str, error_code: str | None) -> datetime:
        """Set ``message``'s status and error code in the provider's words, stamped now; returns now."""
        now = self.now()
        self.state.restatus(message, status)
        message.status, message.error_code, message.updated_at = status, error_code, now
        self.state.touch(message)
        return now


def _due(submission: Submission, now: datetime) -> datetime | None:
    """When a scheduled send falls due; None when it goes at once (no time, or one already past)."""
    send_at = submission.send_at
    return send_at if send_at is not None and send_at > now else None


def _in_request_order(decided: list[SendResult], refused: Sequence[Refused]) -> list[SendResult]:
    if not refused:
        return decided
    results = list(decided)
    for item in sorted(refused, key=lambda r: r.index):
        results.insert(item.index, item)
    return results


def _summarise(decisions: Sequence[Decision]) -> dict[str, Any]:
    first = decisions[0] if decisions else None
    if first is not None and all(d is first or d == first for d in decisions):
        return first.to_json()
    return {"kind": "mixed", "per_message": [d.to_json() for d in decisions]}


_STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
