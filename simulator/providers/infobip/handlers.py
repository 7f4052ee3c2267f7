"""Infobip on its real wire: SMS v3 (the official SDK) and v2, delivery reports and logs.

Infobip rejects per destination inside an HTTP 200 (status group 5 REJECTED); only bad credentials,
unreadable bodies and schema violations fail the whole request. v1/v2 paths answer errors in the
older ``requestError`` format, v3 paths in the ApiError format.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import timedelta
from functools import partial
from typing import Any, ClassVar

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.gateway.providers.names import ProviderName
from lynsms.gateway.segmentation import segment
from lynsms.simulator.http import JSONResponse, WireProblem, basic_auth, bearer_token, read_json
from lynsms.simulator.messages import DeliveryStatus, RejectReason, SimMessage, Submission
from lynsms.simulator.providers.base import (
    BadParam,
    Callback,
    Handler,
    Provider,
    ProviderError,
    Refused,
    Rejected,
    SendResult,
    int_param,
)
from lynsms.simulator.providers.infobip import account, filters, parse, preview, scheduling
from lynsms.simulator.providers.infobip import render as wire
from lynsms.simulator.state import JournalEntry

_PROBLEM_STATUS = {"too_large": 413, "content_type": 415}
_AUTH_SCHEMES = ("App", "Bearer", "IBSSO")
DEFAULT_LIMIT, MAX_LIMIT = 50, 1000
SCHEDULE_LIMIT = timedelta(days=180)  # Infobip: "can only be scheduled up to 180 days in advance"


class Infobip(Provider[parse.Parsed]):
    name: ClassVar[ProviderName] = "infobip"
    # The SDK given a host with a trailing slash asks for "//sms/...": serve that too.
    prefixes: ClassVar[tuple[str, ...]] = ("/sms/", "//sms/", "/account/", "//account/")
    batches: ClassVar[bool] = True
    scheduled_status: ClassVar[str] = "PENDING_ACCEPTED"
    released_status: ClassVar[str] = "PENDING_ACCEPTED"

    def routes(self) -> list[Route]:
        table: list[tuple[str, Handler, str]] = [
            ("/sms/3/messages", self._send_v3, "POST"),
            ("/sms/2/text/advanced", self._send_v2, "POST"),
            ("/sms/3/reports", self._reports, "GET"),
            ("/sms/1/reports", self._reports, "GET"),
            ("/sms/3/logs", self._logs, "GET"),
            ("/sms/1/logs", self._logs, "GET"),
            ("/sms/1/bulks", partial(scheduling.get_schedule, self), "GET"),
            ("/sms/1/bulks", partial(scheduling.reschedule, self), "PUT"),
            ("/sms/1/bulks/status", partial(scheduling.get_status, self), "GET"),
            ("/sms/1/bulks/status", partial(scheduling.set_status, self), "PUT"),
            ("/account/1/balance", partial(account.balance, self), "GET"),
            ("/sms/1/preview", partial(preview.preview, self), "POST"),
            ("/sms/2/binary/advanced", self._binary_v2, "POST"),
        ]
        return [self.endpoint(lead + path, handler, [method]) for path, handler, method in table for lead in ("", "/")]

    # ---- errors --------------------------------------------------------------------------------

    def error(self, status: int, message: str, code: str | int | None = None) -> Response:
        known = wire.API_ERRORS.get(status)
        if known is None:
            body = wire.api_error(str(code or f"E{status}"), message, "Check the request.")
        else:
            body = wire.api_error(str(code or known[0]), known[1], known[2], resources=known[3])
        return JSONResponse(body, status_code=status)

    def error_for(self, submission: Submission | None, status: int, message: str) -> Response:
        if submission is not None and submission.extra.get("api", "v3") != "v3":
            return self.legacy(status, message)
        return self.error(status, message)

    def legacy(self, status: int, text: str, violations: list[tuple[str, str]] | None = None) -> Response:
        message_id = wire.LEGACY_IDS.get(status, "GENERAL_ERROR")
        return JSONResponse(wire.legacy_error(message_id, text, violations), status_code=status)

    def malformed(self, problem: WireProblem) -> Response:
        status = _PROBLEM_STATUS.get(problem.kind, 400)
        if status == 400:
            return self._bad_request([])
        return self.error(status, problem.detail)

    def _bad_request(self, violations: list[tuple[str, str]]) -> Response:
        code, description, action, _ = wire.API_ERRORS[400]
        return JSONResponse(wire.api_error(code, description, action, violations), status_code=400)

    def _unauthorized(self, api: wire.Api) -> Response:
        return self.error(401, "Unauthorized") if api == "v3" else self.legacy(401, "Invalid login details")

    def _invalid(self, api: wire.Api, violations: list[tuple[str, str]], detail: str) -> ProviderError:
        response = self._bad_request(violations) if api == "v3" else self.legacy(400, "Bad request", violations)
        return ProviderError(response, outcome="invalid_request", detail=detail)

    def reject(self, reason: RejectReason, submission: Submission) -> Response | None:
        if reason == "auth_failed":
            return self._unauthorized(submission.extra.get("api", "v3"))
        return None  # rendered per destination by render_sent

    # ---- auth ----------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> str:
        """The credential: the API key/token, or the Basic username. Any well-formed one is accepted."""
        for scheme in _AUTH_SCHEMES:
            token = bearer_token(request, scheme)
            if token:
                return token
        basic = basic_auth(request)
        if basic is not None:
            return basic.username
        raise ProviderError(
            self._unauthorized(_api(request)), outcome="unauthorized", detail="missing or malformed Authorization"
        )

    # ---- sending -------------------------------------------------------------------------------

    async def _send_v3(self, request: Request, entry: JournalEntry) -> Response:
        account = self.authenticate(request)
        body = await read_json(request)
        try:
            parsed = parse.parse_v3(body)
        except parse.Invalid as exc:
            raise self._invalid("v3", exc.violations, str(exc)) from None
        return await self._send(request, entry, account, parsed)

    async def _send_v2(self, request: Request, entry: JournalEntry) -> Response:
        account = self.authenticate(request)
        try:
            body = await read_json(request)
        except WireProblem as problem:
            status = _PROBLEM_STATUS.get(problem.kind, 400)
            raise ProviderError(self.legacy(status, problem.detail), detail=problem.detail) from None
        try:
            parsed = parse.parse_v2(body)
        except parse.Invalid as exc:
            raise self._invalid("v2", exc.violations, str(exc)) from None
        return await self._send(request, entry, account, parsed)

    async def _binary_v2(self, request: Request, entry: JournalEntry) -> Response:
        """Binary SMS is refused as a whole (400), like v3 ``SmsBinaryContent``."""
        self.authenticated(request, entry)
        raise self._invalid("v2", [("messages", parse.BINARY_REFUSED)], "binary SMS refused")

    async def _send(self, request: Request, entry: JournalEntry, account: str, parsed: parse.Parsed) -> Response:
        latest = self.now() + SCHEDULE_LIMIT
        if any(s.send_at is not None and s.send_at > latest for s in parsed.submissions):
            violation = [("sendAt", "must not be more than 180 days in the future")]
            raise self._invalid(parsed.api, violation, "sendAt more than 180 days ahead")
        refused: list[Refused] = []
        valid: list[Submission] = []
        for index, submission in enumerate(parsed.submissions):
            reason = parse.precheck(submission)
            if reason is None:
                valid.append(submission)
            else:
                refused.append(Refused(index, submission, reason))
        return await self.submit(request, entry, account, parsed, valid, refused=refused, batch_id=parsed.bulk_id)

    def refused_outcome(self, outcome: dict[str, Any], refused: Sequence[Refused], decided: int) -> dict[str, Any]:
        if not decided:
            return {"kind": "reject", "reason": refused[0].reason, "source": "validation"}
        return {**outcome, "prerejected": {str(r.index): r.reason for r in refused}}

    def render_sent(self, request: Request, send: parse.Parsed, results: Sequence[SendResult]) -> Response:
        accepted = [r for r in results if isinstance(r, SimMessage)]
        bulk_id = send.bulk_id or (accepted[0].batch_id if accepted else None) or self.new_batch_id()
        rows = [self._row(result, send.api) for result in results]
        return JSONResponse({"bulkId": bulk_id, "messages": rows}, status_code=200)

    def message_id_for(self, submission: Submission) -> str:
        """Infobip takes the client's ``destinations[].messageId`` as the message id (unless taken)."""
        wanted = submission.extra.get("message_id")
        if wanted and wanted not in self.state.messages:
            return str(wanted)
        return self.new_message_id()

    def _row(self, result: SendResult, api: wire.Api) -> dict[str, Any]:
        if isinstance(result, SimMessage):
            message_id, to, status, parts = result.id, result.to, result.status, result.segments
        else:
            submission = result.submission
            message_id = submission.extra.get("message_id") or self.new_message_id()
            to, status = submission.to, wire.REJECT_STATUS[_reason(result)]
            parts = segment(submission.body).segments
        if api == "v2":
            return {"to": to, "status": wire.status_json(status), "messageId": message_id, "smsCount": parts}
        return {
            "messageId": message_id,
            "status": wire.status_json(status),
            "destination": to,
            "details": {"messageCount": parts},
        }

    def new_message_id(self) -> str:
        return self.state.ids.uuid()

    def new_batch_id(self) -> str:
        # Infobip bulk ids are long numeric strings, e.g. "2034072219640523072".
        return str(10**18 + int(self.state.ids.digits(18)))

    def initial_status(self, send: parse.Parsed) -> str:
        return "PENDING_ACCEPTED"

    # ---- delivery reports ----------------------------------------------------------------------

    def delivery_report(
        self, message: SimMessage, status: DeliveryStatus | str, error_code: str | None
    ) -> dict[str, Any]:
        name, default_error = wire.FINAL_STATUS.get(status, (wire.INTERMEDIATE_STATUS, 0))
        error = wire.error_id(error_code, default_error)
        now = self.move(message, name, str(error) if error else None)
        return {
            "bulkId": message.batch_id,
            "messageId": message.id,
            "to": message.to,
            "sender": message.submission.sender or wire.DEFAULT_SENDER,
            "sentAt": wire.timestamp(message.created_at),
            "doneAt": wire.timestamp(now),
            wire.count_key(message.submission.extra.get("api", "v3")): message.segments,
            "mccMnc": wire.mcc_mnc(message.to),
            "callbackData": message.submission.client_ref,
            "price": {"pricePerMessage": 0.01, "currency": "EUR"},
            "status": wire.status_json(name),
            "error": wire.error_json(error),
        }

    def callback(self, message: SimMessage, report: dict[str, Any]) -> Callback | None:
        extra = message.submission.extra
        url = message.submission.callback_url
        if not url or (report["status"]["groupName"] == "PENDING" and not extra.get("intermediate")):
            return None
        content_type = extra.get("content_type", "application/json")
        payload = {"results": [report]}
        if "xml" in content_type.lower():
            return Callback(url, wire.to_xml("DeliveryReports", payload), {"Content-Type": content_type})
        return Callback(url, json.dumps(payload).encode(), {"Content-Type": content_type})

    # ---- polling: reports (each returned once) and logs ------------------------------------------

    async def _reports(self, request: Request, entry: JournalEntry) -> Response:
        """``/sms/3/reports`` and ``/sms/1/reports``."""
        account, api = self.authenticated(request, entry), _api(request)
        limit = self._limit(request, api)
        bulk_id, message_id = request.query_params.get("bulkId"), request.query_params.get("messageId")
        consumed: dict[str, int] = self.state.extra(self.name).setdefault("consumed", {})
        results: list[dict[str, Any]] = []
        for message in self._visible(account, [bulk_id] if bulk_id else [], [message_id] if message_id else []):
            for index in range(consumed.get(message.id, 0), len(message.reports)):
                if len(results) >= limit:
                    break
                consumed[message.id] = index + 1
                report = message.reports[index]
                if report["status"]["groupName"] != "PENDING":  # polling serves final reports only
                    results.append(wire.reshape(report, api))
        return JSONResponse({"results": results})

    async def _logs(self, request: Request, entry: JournalEntry) -> Response:
        """``/sms/3/logs`` and ``/sms/1/logs``."""
        account, api = self.authenticated(request, entry), _api(request)
        limit = self._limit(request, api)
        try:
            wanted = filters.log_filter(request.query_params)
        except filters.Refused as exc:
            raise self._invalid(api, exc.violations, str(exc)) from None
        params = request.query_params
        recipient = params.get("destination") or params.get("to")
        # The recipient index answers "what went to X?", the account's timeline a date range,
        # without walking the whole store.
        if recipient:
            source: Iterator[SimMessage] = (
                m for m in reversed(self.state.sent_to(recipient)) if m.provider == self.name and m.account == account
            )
        else:
            source = self._logged(account, params)
        found: list[dict[str, Any]] = []
        for message in source:  # newest first, stopping at the limit
            if wanted(message):
                found.append(wire.log(message, api))
                if len(found) == limit:
                    break
        return JSONResponse({"results": found})

    def _logged(self, account: str, params: QueryParams) -> Iterator[SimMessage]:
        """The account's messages newest first, from the status index when ``generalStatus`` holds
        few of them (a quarter or less), else from its timeline bounded by ``sentSince``/``sentUntil``."""
        group = params.get("generalStatus", "").upper()
        counts = self.state.statuses(self.name, account)
        statuses = [status for status in counts if filters.group_of(status) == group]
        if group and sum(counts[s] for s in statuses) * 4 <= sum(counts.values()):
            return reversed(self.state.in_status(self.name, account, statuses))
        low, high = filters.created_bounds(params)
        return self.state.owned(self.name, account, low, high, newest_first=True)

    def _visible(self, account: str, bulk_ids: list[str], message_ids: list[str]) -> list[SimMessage]:
        """This account's messages, oldest first, optionally narrowed to some bulks or ids."""
        return [
            m
            for m in self.messages_of(account)
            if (not bulk_ids or m.batch_id in bulk_ids) and (not message_ids or m.id in message_ids)
        ]

    def _limit(self, request: Request, api: wire.Api) -> int:
        try:
            return int_param(request.query_params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        except BadParam as exc:
            violation = [("limit", f"must be between 1 and {MAX_LIMIT}")]
            raise self._invalid(api, violation, f"limit {exc.text!r} out of range") from None


def _api(request: Request) -> wire.Api:
    """v3 paths answer in the ApiError format, v1/v2 paths in the older one."""
    return "v3" if "/sms/3/" in request.scope["path"] else "v2"


def _reason(result: Rejected | Refused) -> RejectReason:
    reason = result.reason
    if reason not in wire.REJECT_STATUS:
        raise ValueError(f"Infobip has no rejection status for {reason!r}")
    return reason
