"""ClickSend on its real wire: REST v3, Basic ``username:api_key``, one envelope for every answer.

ClickSend accepts a send request as a whole and reports rejections per message inside the 200, so a
request's messages split three ways: type errors fail the whole request (400), content problems
found here (bad number, missing field, bad sender) and scripted rejections become per-message
statuses, and the rest are queued. Delivery receipts go to the account's registered receipt URL,
never to a per-message callback.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.gateway.providers.names import ProviderName
from lynsms.simulator.http import WireProblem, basic_auth, read_json
from lynsms.simulator.messages import DeliveryStatus, SimMessage, Submission
from lynsms.simulator.providers.base import (
    BadParam,
    Callback,
    Provider,
    ProviderError,
    Refused,
    Rejected,
    SendResult,
    int_param,
)
from lynsms.simulator.providers.clicksend import (
    account,
    export,
    parse,
    pricing,
    reading,
    receipt_rules,
    scheduling,
    templates,
)
from lynsms.simulator.providers.clicksend import render as cw
from lynsms.simulator.state import JournalEntry


class ClickSend(Provider[None]):
    name: ClassVar[ProviderName] = "clicksend"
    prefixes: ClassVar[tuple[str, ...]] = ("/v3/",)
    rejections = cw.REJECTIONS
    scheduled_status: ClassVar[str] = cw.SCHEDULED
    released_status: ClassVar[str] = cw.QUEUED.status

    def routes(self) -> list[Route]:
        return [
            self.endpoint("/v3/sms/send", self._send, ["POST"]),
            self.endpoint("/v3/sms/history", self._history, ["GET"]),
            self.endpoint("/v3/sms/history/export", partial(export.export, self), ["GET"]),
            self.endpoint(export.FILES + "/{file_id}", partial(export.download, self), ["GET"]),
            self.endpoint("/v3/sms/receipts-read", partial(reading.receipts_read, self), ["PUT"]),
            self.endpoint("/v3/sms/receipts", self._receipts, ["GET"]),
            self.endpoint("/v3/sms/receipts", self._add_receipt_url, ["POST"]),
            self.endpoint("/v3/sms/receipts/{message_id}", self._receipt, ["GET"]),
            *receipt_rules.routes(self),
            *templates.routes(self),
            self.endpoint("/v3/sms/cancel-all", partial(scheduling.cancel_all, self), ["PUT"]),
            self.endpoint("/v3/account", partial(account.details, self), ["GET"]),
            self.endpoint("/v3/sms/price", partial(pricing.price, self), ["POST"]),
            self.endpoint("/v3/sms/{message_id}/cancel", partial(scheduling.cancel, self), ["PUT"]),
        ]

    # ---- errors ----------------------------------------------------------------------------------

    def error(self, status: int, message: str, code: str | int | None = None) -> Response:
        if status == 404 and message == "Not Found":  # the router's words for an unknown path
            message = cw.NOT_FOUND_MSG
        response_code = code if isinstance(code, str) else cw.RESPONSE_CODES.get(status, "ERROR")
        return cw.envelope(status, response_code, message)

    def malformed(self, problem: WireProblem) -> Response:
        return self.error(413 if problem.kind == "too_large" else 400, problem.detail)

    def bad(self, message: str) -> ProviderError:
        return ProviderError(self.error(400, message), detail=message)

    def authenticate(self, request: Request) -> str:
        credentials = basic_auth(request)
        if credentials is None or not credentials.password:
            raise ProviderError(self.error(401, cw.AUTH_FAILED_MSG), outcome="unauthorized")
        return credentials.username

    # ---- send ------------------------------------------------------------------------------------

    async def _send(self, request: Request, entry: JournalEntry) -> Response:
        account = self.authenticate(request)
        valid, refused = self.read_messages(await read_json(request))
        return await self.submit(request, entry, account, None, valid, refused=refused)

    def read_messages(self, payload: dict[str, Any]) -> tuple[list[Submission], list[Refused]]:
        """The messages of a send (or price) body: those ClickSend would queue, and those it blocks."""
        raw = payload.get("messages")
        if not isinstance(raw, list) or not raw:
            raise self.bad("The messages field is required and must be a non-empty array.")
        if len(raw) > parse.MAX_MESSAGES:
            raise self.bad(f"You can send up to {parse.MAX_MESSAGES} messages per request.")
        valid: list[Submission] = []
        refused: list[Refused] = []
        for index, item in enumerate(raw):
            try:
                submission, status = parse.message(index, item, self._shared_sender)
            except parse.Invalid as exc:
                raise self.bad(str(exc)) from None
            if status is None:
                valid.append(submission)
            else:
                refused.append(Refused(index, submission, status))
        return valid, refused

    def _shared_sender(self) -> str:
        return "+6144" + self.state.ids.digits(7)

    def refused_outcome(self, outcome: dict[str, Any], refused: Sequence[Refused], decided: int) -> dict[str, Any]:
        statuses = [{"index": r.index, "status": r.reason} for r in refused]
        return {**(outcome if decided else {"kind": "invalid_request"}), "invalid": statuses}

    def render_sent(self, request: Request, send: None, results: Sequence[SendResult]) -> Response:
        # Refused messages are rendered last (their ids drawn after the others'), in the client's order.
        rendered: list[dict[str, Any] | None] = [
            None if isinstance(r, Refused) else self._render_result(r) for r in results
        ]
        for index, result in enumerate(results):
            if isinstance(result, Refused):
                rendered[index] = self._render_blocked(result.submission, result.reason)
        queued = [r for r in results if isinstance(r, SimMessage)]
        data = {
            "total_price": round(sum(float(cw.price(m.segments)) for m in queued), 4),
            "total_count": len(rendered),
            "queued_count": len(queued),
            "messages": rendered,
            "_currency": cw.CURRENCY,
            "blocked_count": len(rendered) - len(queued),
        }
        return cw.envelope(200, "SUCCESS", cw.SENT_MSG, data)

    def _render_result(self, result: SimMessage | Rejected) -> dict[str, Any]:
        if isinstance(result, Rejected):
            return self._render_blocked(result.submission, cw.REJECT_STATUS[result.reason])
        date = int(result.created_at.timestamp())
        return {
            **cw.message_fields(result),
            "schedule": result.submission.extra["schedule"] or date,
            "is_shared_system_number": result.submission.extra["shared_sender"],
            "status": "SUCCESS",
        }

    def _render_blocked(self, sub: Submission, status: str) -> dict[str, Any]:
        # The shape of a blocked message in a captured real response: no date, direction or user
        # fields, no parts, zero price. Its `schedule` there is "", which the SDK's int model
        # rejects, so it is left out.
        return {
            "to": sub.to,
            "body": sub.body,
            "from": sub.sender,
            "message_id": self.new_message_id(),
            "message_parts": 0,
            "message_price": cw.price(0),
            "custom_string": sub.client_ref or "",
            "is_shared_system_number": sub.extra["shared_sender"],
            "country": sub.extra["country"],
            "carrier": sub.extra["carrier"],
            "status": status,
        }

    def new_message_id(self) -> str:
        return self.state.ids.uuid().upper()

    def initial_status(self, send: None) -> str:
        return cw.QUEUED.status

    # ---- history and receipts --------------------------------------------------------------------

    def paging(self, request: Request) -> tuple[int, int]:
        params = request.query_params
        try:
            page, limit = int_param(params, "page", 1, 1), int_param(params, "limit", 15, 0)
        except BadParam:
            raise self.bad("page and limit must be positive integers.") from None
        return page, min(max(limit, 15), 100)  # ClickSend pages hold 15 to 100

    async def _history(self, request: Request, entry: JournalEntry) -> Response:
        account = self.authenticated(request, entry)
        page, limit = self.paging(request)
        found = self.history_messages(request, account)
        data = cw.paginate(found, request.url, page, limit)
        data["data"] = [cw.history_row(m) for m in data["data"]]  # only this page's rows are rendered
        return cw.envelope(200, "SUCCESS", "Here are your data.", data)

    def history_messages(self, request: Request, account: str) -> list[SimMessage]:
        """The account's messages that ``date_from``, ``date_to`` and ``q`` select, in ``order_by`` order."""
        params = request.query_params
        bounds = [params.get("date_from", "0"), params.get("date_to", str(2**40))]
        if not all(b.isascii() and b.isdecimal() for b in bounds):
            raise self.bad("date_from and date_to must be unix timestamps.")
        low, high = (int(b) for b in bounds)
        field, _, wanted = params.get("q", "").partition(":")
        field = field.lower()
        if field and field not in cw.HISTORY_FIELDS:
            raise self.bad(f"q searches one of {', '.join(cw.HISTORY_FIELDS)}, as field:value.")
        order, _, direction = params.get("order_by", "date:asc").lower().partition(":")
        if order not in cw.HISTORY_ORDER or direction not in ("asc", "desc", ""):
            raise self.bad(f"order_by sorts on one of {', '.join(cw.HISTORY_ORDER)}, as field:asc or field:desc.")
        if field == "to" and wanted:  # answered from the recipient index
            source = sorted(self.state.sent_to(wanted), key=lambda m: m.created_at)
            found = [m for m in source if m.provider == self.name and m.account == account]
            found = [m for m in found if low <= m.created_at.timestamp() <= high]
        elif field == "status" and wanted and (statuses := self._few_in(account, wanted)) is not None:
            found = self.state.in_status(self.name, account, statuses)  # from the status index
            found = [m for m in found if low <= m.created_at.timestamp() <= high]
        else:  # the account's timeline holds the date range
            found = list(self.state.owned(self.name, account, low, high))
        if field and wanted:
            value = cw.HISTORY_FIELDS[field]
            found = [m for m in found if str(value(m)).lower() == wanted.lower()]
        if order != "date":  # found is in date order already; the sort is stable for equal keys
            found.sort(key=cw.HISTORY_ORDER[order])
        if direction == "desc":
            found.reverse()
        return found

    def _few_in(self, account: str, status: str) -> list[str] | None:
        """The status names matching ``status`` when a quarter or less of the account's messages are
        in them: reading those from the status index (and sorting them) is then cheaper than walking
        the account's timeline. None when more are."""
        counts = self.state.statuses(self.name, account)
        names = [name for name in counts if name.lower() == status.lower()]
        return names if sum(counts[n] for n in names) * 4 <= sum(counts.values()) else None

    async def _receipts(self, request: Request, entry: JournalEntry) -> Response:
        account = self.authenticated(request, entry)
        page, limit = self.paging(request)
        receipts = sorted(
            (r for m in self.messages_of(account) for r in reading.unread_receipts(m)),
            key=lambda r: (r["timestamp"], r["message_id"]),
        )
        data = cw.paginate(receipts, request.url, page, limit)
        return cw.envelope(200, "SUCCESS", "Here are your delivery receipts.", data)

    async def _receipt(self, request: Request, entry: JournalEntry) -> Response:
        account = self.authenticated(request, entry)
        message = self.message(request.path_params["message_id"].upper())
        if message is None or message.account != account:
            return self.error(404, "Message not found.")
        if not message.reports:
            return self.error(404, "No delivery receipt for this message yet.")
        entry.message_ids = [message.id]
        return cw.envelope(200, "SUCCESS", "Here is your delivery receipt.", message.reports[-1])

    async def _add_receipt_url(self, request: Request, entry: JournalEntry) -> Response:
        """Registers the account's receipt URL ("poll" means polling only) and answers, like
        ClickSend's test endpoint, with a sample receipt."""
        account = self.authenticated(request, entry)
        url = (await read_json(request)).get("url")
        if not isinstance(url, str) or not url.strip():
            raise self.bad("The url field is required.")
        self.settings(account)["receipt_url"] = None if url.strip().lower() == "poll" else url.strip()
        now = int(self.clock.time())
        receipt = cw.receipt_json(cw.DELIVERED, self.new_message_id(), now, now, None, account)
        return cw.envelope(200, "SUCCESS", "Receipt has been added", receipt)

    def settings(self, account: str) -> dict[str, Any]:
        accounts: dict[str, dict[str, Any]] = self.state.extra(self.name)
        return accounts.setdefault(account, {"receipt_url": None, "rules": []})

    # ---- delivery --------------------------------------------------------------------------------

    def delivery_report(
        self, message: SimMessage, status: DeliveryStatus | str, error_code: str | None
    ) -> dict[str, Any]:
        line = cw.receipt_for(status, error_code)
        now = self.move(message, line.status, None if line.error_code is None else str(line.error_code))
        message.extra["receipt"] = line
        sent = int(message.created_at.timestamp())
        custom = message.submission.client_ref
        return cw.receipt_json(line, message.id, sent, int(now.timestamp()), custom, message.account)

    def callback(self, message: SimMessage, report: dict[str, Any]) -> Callback | None:
        url = self.settings(message.account)["receipt_url"]
        if url is None:
            return None
        line: cw.Receipt = message.extra.get("receipt", cw.QUEUED)
        fields = {**report, "status": line.status, "user_id": cw.account_numbers(message.account)[0]}
        body = urlencode({k: cw.form_value(v) for k, v in fields.items()}).encode()
        return Callback(url, body, {"Content-Type": "application/x-www-form-urlencoded"})
