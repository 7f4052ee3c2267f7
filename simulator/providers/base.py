"""The shape every emulated provider has, and the mechanics they share.

A provider module only knows its wire format: how to parse a send request into ``Submission``s, how
to render accepted messages, errors and delivery reports. Recording to the journal, asking the
engine what to do, storing accepted messages and turning parse problems into errors live here, once.

    request ──> Provider.endpoint wrapper ── opens a journal entry, times it, catches WireProblem/ProviderError
                   └── provider handler ── authenticates, parses ──> Provider.submit(...)
                                                                        ├── Engine.decide per submission
                                                                        ├── request-level trouble: http_error / fault / reject
                                                                        └── store accepted, render_sent(results)
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.gateway.segmentation import segment
from lynsms.simulator.decision import Decision
from lynsms.simulator.model import DeliveryStatus, ProviderName, RejectReason, SimMessage, Submission
from lynsms.simulator.state import JournalEntry
from lynsms.simulator.wire import WireProblem

if TYPE_CHECKING:
    from lynsms.simulator.app import Simulator

log = logging.getLogger("lynsms.simulator")

Handler = Callable[[Request, JournalEntry], Awaitable[Response]]


class ProviderError(Exception):
    """Raise from a provider handler to answer with that provider's own error response."""

    def __init__(self, response: Response, outcome: str = "invalid_request", detail: str | None = None) -> None:
        super().__init__(detail or outcome)
        self.response = response
        self.outcome = outcome
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Rejected:
    """A submission the scenario rejected; providers that answer per message render it inline."""

    submission: Submission
    reason: RejectReason
    decision: Decision


SendResult = SimMessage | Rejected


@dataclass(frozen=True, slots=True)
class Callback:
    """An HTTP request the simulator makes to a client: a delivery report in the provider's format."""

    url: str
    body: bytes
    headers: dict[str, str]


class Provider(ABC):
    name: ClassVar[ProviderName]
    # Path prefixes this provider owns, so unknown paths under them get this provider's 404.
    prefixes: ClassVar[tuple[str, ...]]

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    # ---- what each provider module writes: its wire format -------------------------------------

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
    def reject(self, reason: RejectReason, submission: Submission) -> Response | None:
        """A scripted rejection as a whole-request error, or None if this provider reports
        rejections per message inside a success response (then ``render_sent`` renders them)."""

    @abstractmethod
    def render_sent(self, request: Request, results: Sequence[SendResult]) -> Response:
        """The success response for a send request, one result per submission in order."""

    @abstractmethod
    def new_message_id(self) -> str:
        """A fresh id in this provider's format (from ``self.sim.state.ids``)."""

    @abstractmethod
    def initial_status(self) -> str:
        """The provider's status word for a just-accepted message."""

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

    def endpoint(self, path: str, handler: Handler, methods: Sequence[str]) -> Route:
        """A route whose every request is journaled and whose every failure is in this provider's voice."""

        async def run(request: Request) -> Response:
            # scope["path"], not request.url.path: building the URL object costs more than the lookup.
            entry = self.sim.state.journal.open(request.method, request.scope["path"], self.name)
            started = time.perf_counter()
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
                entry.duration_ms = (time.perf_counter() - started) * 1000
                return Response(status_code=499)
            except Exception:
                log.exception("%s %s failed", request.method, request.scope["path"])
                entry.outcome = {"kind": "internal_error"}
                response = self.error(500, "Internal simulator error")
            entry.status = response.status_code
            entry.duration_ms = (time.perf_counter() - started) * 1000
            return response

        return Route(path, run, methods=list(methods), name=f"{self.name}:{path}")

    async def submit(
        self,
        request: Request,
        entry: JournalEntry,
        account: str,
        submissions: Sequence[Submission],
        batch_id: str | None = None,
    ) -> Response:
        """Decide, store and render one send request carrying ``submissions``. ``batch_id`` is the
        client's own bulk id where the provider lets clients choose it (Infobip ``bulkId``)."""
        state = self.sim.state
        entry.account = account
        entry.messages = list(submissions)
        call = state.count_call(self.name, account)
        decisions = [self.sim.engine.decide(self.name, account, s, call) for s in submissions]
        latency = max((d.latency for d in decisions), default=0.0)
        # Request-level trouble answers for the whole request. Body faults (malformed/slow body) are
        # not trouble here: the provider accepts the message, only its success response is garbled.
        trouble = next((d for d in decisions if d.kind == "http_error" or (d.kind == "fault" and not d.accepts)), None)
        if trouble is not None:
            entry.outcome = trouble.to_json()
            await _wait(latency)
            return self.sim.faults.render(self, trouble, entry, submissions[0] if submissions else None)
        for submission, decision in zip(submissions, decisions):
            if decision.kind == "reject" and decision.reason is not None:
                whole = self.reject(decision.reason, submission)
                if whole is not None:
                    entry.outcome = decision.to_json()
                    await _wait(latency)
                    return whole
        now = datetime.now(UTC)
        if batch_id is None and (len(submissions) > 1 or self.batches):
            batch_id = self.new_batch_id()
        results: list[SendResult] = []
        for submission, decision in zip(submissions, decisions):
            if decision.kind == "reject" and decision.reason is not None:
                results.append(Rejected(submission, decision.reason, decision))
                continue
            shape = segment(submission.body)
            message = SimMessage(
                id=self.message_id_for(submission),
                provider=self.name,
                account=account,
                submission=submission,
                segments=shape.segments,
                encoding=shape.encoding,
                status=self.initial_status(),
                created_at=now,
                updated_at=now,
                batch_id=batch_id,
            )
            state.add([message])  # stored at once, so the next message_id_for sees this id taken
            results.append(message)
        accepted = [r for r in results if isinstance(r, SimMessage)]
        entry.message_ids = [m.id for m in accepted]
        entry.outcome = _summarise(decisions)
        await _wait(latency)
        response = self.render_sent(request, results)
        if 200 <= response.status_code < 300:
            for result, decision in zip(results, decisions):
                if isinstance(result, SimMessage) and decision.delivery is not None:
                    self.sim.deliveries.schedule(self, result, decision.delivery)
            garbled = next((d for d in decisions if d.kind == "fault"), None)
            if garbled is not None:
                response = self.sim.faults.garble(response, garbled, entry)
        return response

    # Providers whose every send creates a batch/bulk id, even for one recipient (Sinch, Infobip).
    batches: ClassVar[bool] = False

    def new_batch_id(self) -> str:
        return self.sim.state.ids.uuid()

    def message_id_for(self, submission: Submission) -> str:
        """The id of an accepted message: a fresh one, unless the provider lets clients choose."""
        return self.new_message_id()

    def message(self, message_id: str) -> SimMessage | None:
        found = self.sim.state.messages.get(message_id)
        return found if found is not None and found.provider == self.name else None


def _summarise(decisions: Sequence[Decision]) -> dict[str, Any]:
    first = decisions[0] if decisions else None
    if first is not None and all(d is first or d == first for d in decisions):
        return first.to_json()
    return {"kind": "mixed", "per_message": [d.to_json() for d in decisions]}


async def _wait(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


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
