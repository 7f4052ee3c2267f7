"""ClickSend on its real wire: REST v3, Basic ``username:api_key``, one envelope for every answer.

ClickSend accepts a send request as a whole and reports rejections per message inside the 200, so a
request's messages split three ways: type errors fail the whole request (400), content problems
found here (bad number, missing field, bad sender) and scripted rejections become per-message
statuses, and the rest are queued. Delivery receipts go to the account's registered receipt URL,
never to a per-message callback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.gateway.segmentation import segment
from lynsms.simulator.model import DeliveryStatus, ProviderName, RejectReason, SimMessage, Submission
from lynsms.simulator.numbers import PhoneNumber, lookup
from lynsms.simulator.providers import clicksend_wire as cw
from lynsms.simulator.providers.base import Callback, Provider, ProviderError, Rejected, SendResult
from lynsms.simulator.state import JournalEntry
from lynsms.simulator.wire import WireProblem, basic_auth, read_json

_PHONE_SENDER = re.compile(r"\+?\d{3,16}")
_ALPHA_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ._&-]{1,11}")
_TEXT_FIELDS = ("body", "from", "custom_string", "source", "country", "from_email")


@dataclass(frozen=True, slots=True)
class _Invalid:
    """A message this module refused on its content; it rides in the 200 with its own status."""

    index: int
    submission: Submission
    status: str


class ClickSend(Provider):
    name: ClassVar[ProviderName] = "clicksend"
    prefixes: ClassVar[tuple[str, ...]] = ("/v3/",)

    def routes(self) -> list[Route]:
        return [
            self.endpoint("/v3/sms/send", self._send, ["POST"]),
            self.endpoint("/v3/sms/history", self._history, ["GET"]),
            self.endpoint("/v3/sms/receipts", self._receipts, ["GET"]),
            self.endpoint("/v3/sms/receipts", self._add_receipt_url, ["POST"]),
            self.endpoint("/v3/sms/receipts/{message_id}", self._receipt, ["GET"]),
            self.endpoint("/v3/automations/sms/receipts", self._rules, ["GET"]),
            self.endpoint("/v3/automations/sms/receipts", self._add_rule, ["POST"]),
        ]

    # ---- errors ----------------------------------------------------------------------------------

    def error(self, status: int, message: str, code: str | int | None = None) -> Response:
        if status == 404 and message == "Not Found":  # the router's words for an unknown path
            message = cw.NOT_FOUND_MSG
        response_code = code if isinstance(code, str) else cw.RESPONSE_CODES.get(status, "ERROR")
        return cw.envelope(status, response_code, message)

    def malformed(self, problem: WireProblem) -> Response:
        return self.error(413 if problem.kind == "too_large" else 400, problem.detail)

    def reject(self, reason: RejectReason, submission: Submission) -> Response | None:
        # Only bad credentials fail a whole request; everything else is a per-message status.
        return self.error(401, cw.AUTH_FAILED_MSG) if reason == "auth_failed" else None

    def _bad(self, message: str) -> ProviderError:
        return ProviderError(self.error(400, message), detail=message)

    def _account(self, request: Request) -> str:
        credentials = basic_auth(request)
        if credentials is None or not credentials.password:
            raise ProviderError(self.error(401, cw.AUTH_FAILED_MSG), outcome="unauthorized")
        return credentials.username

    # ---- send ------------------------------------------------------------------------------------

    async def _send(self, request: Request, entry: JournalEntry) -> Response:
        account = self._account(request)
        payload = await read_json(request)
        raw = payload.get("messages")
        if not isinstance(raw, list) or not raw:
            raise self._bad("The messages field is required and must be a non-empty array.")
        if len(raw) > cw.MAX_MESSAGES:
            raise self._bad(f"You can send up to {cw.MAX_MESSAGES} messages per request.")
        valid: list[Submission] = []
        invalid: list[_Invalid] = []
        for index, item in enumerate(raw):
            submission, status = self._parse(index, item)
            if status is None:
                valid.append(submission)
            else:
                invalid.append(_Invalid(index, submission, status))
        request.state.clicksend_invalid = invalid
        response = await self.submit(request, entry, account, valid)
        if invalid and response.status_code == 200:
            entry.messages = [*entry.messages, *(i.submission for i in invalid)]
            statuses = [{"index": i.index, "status": i.status} for i in invalid]
            base = entry.outcome if valid else {"kind": "invalid_request"}
            entry.outcome = {**base, "invalid": statuses}
        return response

    def _parse(self, index: int, item: Any) -> tuple[Submission, str | None]:
        """One message object as a Submission, plus the per-message status when it cannot be queued."""
        if not isinstance(item, dict):
            raise self._bad(f"messages[{index}] must be an object.")
        for name in _TEXT_FIELDS:
            if item.get(name) is not None and not isinstance(item[name], str):
                raise self._bad(f"messages[{index}].{name} must be a string.")
        to, schedule = item.get("to"), item.get("schedule")
        if to is not None and not isinstance(to, str):
            raise self._bad(f"messages[{index}].to must be a string.")
        if schedule is not None and (isinstance(schedule, bool) or not isinstance(schedule, int)):
            raise self._bad(f"messages[{index}].schedule must be a unix timestamp.")
        body: str = item.get("body") or ""
        shape = segment(body)
        if shape.segments > cw.MAX_PARTS:  # ClickSend truncates rather than refuses a long body
            body = "".join(shape.parts[: cw.MAX_PARTS])
        number, country = _parse_number(to or "", item.get("country"))
        sender = item.get("from")
        extra: dict[str, Any] = {
            "country": country,
            "carrier": number.carrier if number is not None else "",
            "schedule": schedule or None,
            "shared_sender": sender is None,
            "source": item.get("source"),
            "list_id": _text_or_none(item.get("list_id")),
            "contact_id": _text_or_none(item.get("contact_id")),
            "from_email": item.get("from_email"),
        }
        if sender is None:  # ClickSend picks a number from its shared pool
            sender = "+6144" + self.sim.state.ids.digits(7)
        submission = Submission(
            to=number.e164 if number else (to or ""),
            sender=sender,
            body=body,
            client_ref=item.get("custom_string") or None,
            extra=extra,
        )
        if not to or not body:
            return submission, "MISSING_REQUIRED_FIELDS"
        if number is None:
            return submission, "INVALID_RECIPIENT"
        if not (_PHONE_SENDER.fullmatch(sender) or _ALPHA_SENDER.fullmatch(sender)):
            return submission, "INVALID_SENDER_ID"
        return submission, None

    def render_sent(self, request: Request, results: Sequence[SendResult]) -> Response:
        invalid: list[_Invalid] = getattr(request.state, "clicksend_invalid", [])
        rendered = [self._render_result(r) for r in results]
        for item in invalid:  # back into the client's order
            rendered.insert(item.index, self._render_blocked(item.submission, item.status))
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

    def _render_result(self, result: SendResult) -> dict[str, Any]:
        if isinstance(result, Rejected):
            return self._render_blocked(result.submission, cw.REJECT_STATUS[result.reason])
        date = int(result.created_at.timestamp())
        return {
            **_message_fields(result),
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
        return self.sim.state.ids.uuid().upper()

    def initial_status(self) -> str:
        return cw.QUEUED.status

    # ---- history and receipts --------------------------------------------------------------------

    def _owned(self, account: str) -> list[SimMessage]:
        return [m for m in self.sim.state.messages.values() if m.provider == self.name and m.account == account]

    def _paging(self, request: Request) -> tuple[int, int]:
        params = request.query_params
        page_text, limit_text = params.get("page", "1"), params.get("limit", "15")
        if not page_text.isdigit() or not limit_text.isdigit() or int(page_text) < 1:
            raise self._bad("page and limit must be positive integers.")
        return int(page_text), min(max(int(limit_text), 15), 100)  # ClickSend pages hold 15 to 100

    async def _history(self, request: Request, entry: JournalEntry) -> Response:
        entry.account = account = self._account(request)
        page, limit = self._paging(request)
        params = request.query_params
        bounds = [params.get("date_from", "0"), params.get("date_to", str(2**40))]
        if not all(b.isdigit() for b in bounds):
            raise self._bad("date_from and date_to must be unix timestamps.")
        low, high = (int(b) for b in bounds)
        rows = [
            _history_row(m)
            for m in sorted(self._owned(account), key=lambda m: m.created_at)
            if low <= m.created_at.timestamp() <= high
        ]
        field, _, wanted = params.get("q", "").partition(":")
        if field and wanted:
            rows = [r for r in rows if str(r.get(field.lower(), "")).lower() == wanted.lower()]
        if params.get("order_by", "").lower().endswith(":desc"):
            rows.reverse()
        return cw.envelope(200, "SUCCESS", "Here are your data.", cw.paginate(rows, request.url, page, limit))

    async def _receipts(self, request: Request, entry: JournalEntry) -> Response:
        entry.account = account = self._account(request)
        page, limit = self._paging(request)
        receipts = sorted(
            (r for m in self._owned(account) for r in m.reports), key=lambda r: (r["timestamp"], r["message_id"])
        )
        data = cw.paginate(receipts, request.url, page, limit)
        return cw.envelope(200, "SUCCESS", "Here are your delivery receipts.", data)

    async def _receipt(self, request: Request, entry: JournalEntry) -> Response:
        entry.account = account = self._account(request)
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
        entry.account = account = self._account(request)
        url = (await read_json(request)).get("url")
        if not isinstance(url, str) or not url.strip():
            raise self._bad("The url field is required.")
        self._settings(account)["receipt_url"] = None if url.strip().lower() == "poll" else url.strip()
        now = int(datetime.now(UTC).timestamp())
        receipt = _receipt_json(cw.DELIVERED, self.new_message_id(), now, now, None, account)
        return cw.envelope(200, "SUCCESS", "Receipt has been added", receipt)

    async def _rules(self, request: Request, entry: JournalEntry) -> Response:
        entry.account = account = self._account(request)
        page, limit = self._paging(request)
        data = cw.paginate(list(self._settings(account)["rules"]), request.url, page, limit)
        return cw.envelope(200, "SUCCESS", "Here are your data.", data)

    async def _add_rule(self, request: Request, entry: JournalEntry) -> Response:
        entry.account = account = self._account(request)
        body = await read_json(request)
        fields = {"rule_name": str, "match_type": int, "action": str, "action_address": str, "enabled": int}
        for name, kind in fields.items():
            value = body.get(name)
            if value is None or isinstance(value, bool) or not isinstance(value, kind):
                article = "an integer" if kind is int else "a string"
                raise self._bad(f"The {name} field is required and must be {article}.")
        settings = self._settings(account)
        rule = {"receipt_rule_id": len(settings["rules"]) + 1, **{name: body[name] for name in fields}}
        settings["rules"].append(rule)
        if rule["action"].upper() == "URL" and rule["enabled"]:
            settings["receipt_url"] = rule["action_address"]
        return cw.envelope(200, "SUCCESS", "Your new rule has been added.", rule)

    def _settings(self, account: str) -> dict[str, Any]:
        accounts: dict[str, dict[str, Any]] = self.sim.state.extra(self.name)
        return accounts.setdefault(account, {"receipt_url": None, "rules": []})

    # ---- delivery --------------------------------------------------------------------------------

    def delivery_report(
        self, message: SimMessage, status: DeliveryStatus | str, error_code: str | None
    ) -> dict[str, Any]:
        line = cw.receipt_for(status, error_code)
        now = datetime.now(UTC)
        message.status = line.status
        message.error_code = None if line.error_code is None else str(line.error_code)
        message.updated_at = now
        message.extra["receipt"] = line
        sent = int(message.created_at.timestamp())
        custom = message.submission.client_ref
        return _receipt_json(line, message.id, sent, int(now.timestamp()), custom, message.account)

    def callback(self, message: SimMessage, report: dict[str, Any]) -> Callback | None:
        url = self._settings(message.account)["receipt_url"]
        if url is None:
            return None
        line: cw.Receipt = message.extra.get("receipt", cw.QUEUED)
        fields = {**report, "status": line.status, "user_id": cw.account_numbers(message.account)[0]}
        body = urlencode({k: cw.form_value(v) for k, v in fields.items()}).encode()
        return Callback(url, body, {"Content-Type": "application/x-www-form-urlencoded"})


def _receipt_json(
    line: cw.Receipt, message_id: str, sent: int, at: int, custom: str | None, account: str
) -> dict[str, Any]:
    return {
        "timestamp_send": sent,
        "timestamp": at,
        "message_id": message_id,
        "status_code": line.status_code,
        "status_text": line.status_text,
        "error_code": line.error_code,
        "error_text": line.error_text,
        "custom_string": custom,
        "subaccount_id": cw.account_numbers(account)[1],
        "message_type": "sms",
    }


def _message_fields(message: SimMessage) -> dict[str, Any]:
    """What a send answer and a history row say alike about an accepted message."""
    sub, extra = message.submission, message.submission.extra
    user_id, subaccount_id = cw.account_numbers(message.account)
    return {
        "direction": "out",
        "date": int(message.created_at.timestamp()),
        "to": sub.to,
        "body": sub.body,
        "from": sub.sender,
        "message_id": message.id,
        "message_parts": message.segments,
        "message_price": cw.price(message.segments),
        "from_email": extra["from_email"],
        "list_id": extra["list_id"],
        "custom_string": sub.client_ref or "",
        "contact_id": extra["contact_id"],
        "user_id": user_id,
        "subaccount_id": subaccount_id,
        "country": extra["country"],
        "carrier": extra["carrier"],
    }


def _history_row(message: SimMessage) -> dict[str, Any]:
    line: cw.Receipt | None = message.extra.get("receipt")
    fields = _message_fields(message)
    return {
        **fields,
        "status": message.status,
        # History types differ from the send answer's: the schedule is a string here.
        "schedule": str(message.submission.extra["schedule"] or fields["date"]),
        "status_code": None if line is None else str(line.status_code),
        "status_text": None if line is None else line.status_text,
        "error_code": message.error_code,
        "error_text": None if line is None else line.error_text,
        "first_name": None,
        "last_name": None,
        "_api_username": message.account,
    }


def _parse_number(to: str, country: str | None) -> tuple[PhoneNumber | None, str | None]:
    """The recipient and its country; local numbers need ``country``, bare digits are read as E.164."""
    region = country.upper() if country else None
    number = lookup(to.strip(), region)
    if number is None:
        return None, region
    return number, number.region or region


def _text_or_none(value: Any) -> str | None:
    return None if value is None or isinstance(value, bool) else str(value)
