"""Twilio Programmable Messaging on its real wire: create, fetch, list, update (cancel/redact), delete.

Handlers authenticate like Twilio (Basic ``AccountSid:AuthToken`` or ``SK...:secret``), validate the
form with Twilio's own error codes and hand one ``Submission`` per request to ``Provider.submit``.
Rendering lives in ``twilio_wire``; docs/providers/twilio.md lists every code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.simulator.model import DeliveryStatus, ProviderName, RejectReason, SimMessage, Submission
from lynsms.simulator.providers.base import Callback, Provider, ProviderError, Rejected, SendResult
from lynsms.simulator.providers.twilio_wire import (
    ACCOUNT_SID,
    API_KEY_SID,
    BODY_LIMIT,
    PREFIX,
    SERVICE_SID,
    Code,
    advance,
    body_length,
    default_code,
    e164,
    error_body,
    messages_uri,
    parse_when,
    plus,
    resource,
    signature,
    status_callback,
    valid_sender,
)
from lynsms.simulator.state import JournalEntry
from lynsms.simulator.wire import BasicAuth, Form, JSONResponse, WireProblem, basic_auth, read_form

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000  # Twilio caps PageSize; the SDK sends list(limit=N) as PageSize=N
SCHEDULE_WINDOW: Final = (timedelta(seconds=300), timedelta(days=35))
LIST_FILTERS: Final = ("To", "From", "DateSent", "DateSent<", "DateSent>")
# Optional create fields kept on the submission (journal, inbox) under snake_case names.
_KEPT_FIELDS: Final = (
    ("ValidityPeriod", "validity_period"),
    ("MaxPrice", "max_price"),
    ("SmartEncoded", "smart_encoded"),
    ("SendAt", "send_at"),
)

_REJECTIONS: Final[dict[RejectReason, tuple[int, int, str]]] = {
    "invalid_number": (400, Code.INVALID_TO, "Invalid 'To' Phone Number: {to}"),
    "unsubscribed": (400, Code.UNSUBSCRIBED, "Attempt to send to unsubscribed recipient"),
    "insufficient_funds": (401, Code.ACCOUNT_INACTIVE, "Account is not active"),
    "invalid_sender": (
        400,
        Code.FROM_NOT_CAPABLE,
        "The 'From' phone number provided ({sender}) is not a valid message-capable Twilio phone number "
        "for this destination/account",
    ),
    "body_too_long": (400, Code.BODY_TOO_LONG, "The concatenated message body exceeds the 1600 character limit"),
    "auth_failed": (401, Code.AUTHENTICATE, "Authenticate"),
}


class Twilio(Provider):
    name: ClassVar[ProviderName] = "twilio"
    prefixes: ClassVar[tuple[str, ...]] = (PREFIX,)

    def routes(self) -> list[Route]:
        messages = f"{PREFIX}/Accounts/{{account_sid}}/Messages"
        return [
            self.endpoint(f"{messages}.json", self._create, ["POST"]),
            self.endpoint(f"{messages}.json", self._list, ["GET"]),
            self.endpoint(f"{messages}/{{sid}}.json", self._fetch, ["GET"]),
            self.endpoint(f"{messages}/{{sid}}.json", self._update, ["POST"]),
            self.endpoint(f"{messages}/{{sid}}.json", self._delete, ["DELETE"]),
        ]

    # ---- wire format -----------------------------------------------------------------------------

    def error(self, status: int, message: str, code: str | int | None = None) -> Response:
        if isinstance(code, str) and code.isdigit():
            code = int(code)
        number = code if isinstance(code, int) else default_code(status)
        response = JSONResponse(error_body(status, message, number), status_code=status)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return response

    def malformed(self, problem: WireProblem) -> Response:
        return self.error(413 if problem.kind == "too_large" else 400, problem.detail)

    def reject(self, reason: RejectReason, submission: Submission) -> Response:
        status, code, text = _REJECTIONS[reason]
        return self.error(status, text.format(to=submission.to, sender=submission.sender), code)

    def render_sent(self, request: Request, results: Sequence[SendResult]) -> Response:
        (message,) = results  # Twilio sends one message per request
        if isinstance(message, Rejected):
            return self.reject(message.reason, message.submission)
        # The password signs this message's status callbacks (X-Twilio-Signature).
        credentials = basic_auth(request)
        message.extra["auth_token"] = credentials.password if credentials else ""
        # The first status depends on the request, which initial_status() cannot see.
        if message.submission.extra.get("schedule_type") == "fixed":
            message.status = "scheduled"
        elif message.submission.extra.get("messaging_service_sid"):
            message.status = "accepted"
        return JSONResponse(resource(message), status_code=201)

    def new_message_id(self) -> str:
        return "SM" + self.sim.state.ids.hex(32)

    def initial_status(self) -> str:
        return "queued"

    def delivery_report(
        self, message: SimMessage, status: DeliveryStatus | str, error_code: str | None
    ) -> dict[str, Any] | None:
        now = datetime.now(UTC)
        advance(message, status, error_code, now)
        # Twilio has no report list: the status callback is the only place a report appears.
        return status_callback(message, now) if message.submission.callback_url else None

    def callback(self, message: SimMessage, report: dict[str, Any]) -> Callback | None:
        url = message.submission.callback_url
        if not url:
            return None
        fields = {name: str(value) for name, value in report.items()}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "X-Twilio-Signature": signature(message.extra.get("auth_token", ""), url, fields),
        }
        return Callback(url, urlencode(fields).encode("utf-8"), headers)

    # ---- handlers --------------------------------------------------------------------------------

    async def _create(self, request: Request, entry: JournalEntry) -> Response:
        account = self._authenticate(request)
        submission = self._submission(await _form(request))
        return await self.submit(request, entry, account, [submission])

    async def _fetch(self, request: Request, entry: JournalEntry) -> Response:
        return JSONResponse(resource(self._owned(request, entry)))

    async def _update(self, request: Request, entry: JournalEntry) -> Response:
        message = self._owned(request, entry)
        form = await _form(request)
        status, body = form.get("Status"), form.get("Body")
        if status == "canceled" and body is None:
            if message.status != "scheduled":
                raise self._invalid(Code.NOT_CANCELABLE, "This message cannot be canceled")
            message.status = "canceled"
        elif body == "" and status is None:
            message.submission = replace(message.submission, body="")
        else:
            raise self._invalid(
                Code.UPDATE_INVALID, "Parameters are not valid: send Status=canceled or an empty Body, not both"
            )
        message.updated_at = datetime.now(UTC)
        return JSONResponse(resource(message))

    async def _delete(self, request: Request, entry: JournalEntry) -> Response:
        message = self._owned(request, entry)
        del self.sim.state.messages[message.id]
        return Response(status_code=204)

    async def _list(self, request: Request, entry: JournalEntry) -> Response:
        account = self._authenticate(request)
        entry.account = account
        params = request.query_params
        filters = {key: params[key] for key in LIST_FILTERS if key in params}
        try:
            page_size = min(_whole(params, "PageSize", DEFAULT_PAGE_SIZE, minimum=1), MAX_PAGE_SIZE)
            page = _whole(params, "Page", 0, minimum=0)
            wanted = _list_filter(filters)
        except ValueError as exc:
            raise self._invalid(default_code(400), str(exc)) from None
        found = [
            m
            for m in reversed(self.sim.state.messages.values())  # newest first
            if m.provider == self.name and m.account == account and wanted(m)
        ]
        start = page * page_size
        token = params.get("PageToken")
        if token:
            position = next((i for i, m in enumerate(found) if m.id == token[2:]), None)
            if position is None or token[:2] not in ("PA", "PB"):
                raise self._invalid(default_code(400), f"Invalid PageToken: {token}")
            start = position + 1 if token[:2] == "PA" else max(position - page_size, 0)
        items = found[start : start + page_size]

        def uri(number: int, page_token: str | None = None) -> str:
            query = {**filters, "PageSize": str(page_size), "Page": str(number)}
            if page_token:
                query["PageToken"] = page_token
            return f"{messages_uri(account)}?{urlencode(query)}"

        more = start + page_size < len(found)
        return JSONResponse(
            {
                "messages": [resource(m) for m in items],
                "first_page_uri": uri(0),
                "next_page_uri": uri(page + 1, "PA" + items[-1].id) if more and items else None,
                "previous_page_uri": uri(max(page - 1, 0), "PB" + items[0].id) if start and items else None,
                "page": page,
                "page_size": page_size,
                "uri": uri(page, token),
                "start": start,
                "end": start + max(len(items) - 1, 0),
            }
        )

    # ---- helpers ---------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> str:
        """The path's account sid, once the Basic credentials are acceptable for it."""
        username = _username(basic_auth(request))
        if username is None:
            raise ProviderError(
                self.error(401, "Authenticate"), "unauthorized", "missing or malformed Basic credentials"
            )
        account: str = request.path_params["account_sid"]
        if not ACCOUNT_SID.fullmatch(account):
            raise ProviderError(self._not_found(request), "not_found", f"{account!r} is not an account sid")
        if username.startswith("AC") and username != account:
            raise ProviderError(self.error(401, "Authenticate"), "unauthorized", "credentials are for another account")
        return account

    def _owned(self, request: Request, entry: JournalEntry) -> SimMessage:
        """The message named in the path, visible only under the account that sent it."""
        account = self._authenticate(request)
        entry.account = account
        message = self.message(request.path_params["sid"])
        if message is None or message.account != account:
            raise ProviderError(self._not_found(request), "not_found")
        entry.message_ids = [message.id]
        return message

    def _not_found(self, request: Request) -> Response:
        return self.error(404, f"The requested resource {request.url.path} was not found", Code.NOT_FOUND)

    def _invalid(self, code: int, message: str) -> ProviderError:
        return ProviderError(self.error(400, message, code), "invalid_request", f"{code}: {message}")

    def _submission(self, form: Form) -> Submission:
        """Validate a create form in Twilio's order and with Twilio's codes."""
        to = form.get("To")
        if not to:
            raise self._invalid(Code.TO_REQUIRED, "A 'To' phone number is required.")
        if e164(to) is None:
            raise self._invalid(Code.INVALID_TO, f"Invalid 'To' Phone Number: {to}")
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        if sender and SERVICE_SID.fullmatch(sender) and not service:
            sender, service = None, sender  # Twilio takes a Messaging Service sid in From too
        if not sender and not service:
            raise self._invalid(Code.FROM_REQUIRED, "A 'From' phone number is required.")
        for given, valid in ((sender, valid_sender), (service, SERVICE_SID.fullmatch)):
            if given and not valid(given):
                raise self._invalid(
                    Code.INVALID_FROM,
                    f"The 'From' number {given} is not a valid phone number, shortcode, or alphanumeric sender ID.",
                )
        body = form.get("Body") or ""
        media = [url for url in form.getlist("MediaUrl") if url]
        if not body and not media:
            raise self._invalid(Code.BODY_REQUIRED, "Message body is required.")
        if body_length(body) > BODY_LIMIT:
            raise self._invalid(Code.BODY_TOO_LONG, "The concatenated message body exceeds the 1600 character limit.")
        callback = form.get("StatusCallback")
        if callback and not callback.startswith(("http://", "https://")):
            raise self._invalid(Code.INVALID_CALLBACK_URL, f"The StatusCallback URL {callback} is not a valid URL.")
        extra: dict[str, Any] = {key: form.get(field) for field, key in _KEPT_FIELDS if form.get(field)}
        if media:
            extra["media_urls"] = media
        if service:
            extra["messaging_service_sid"] = service
        schedule = form.get("ScheduleType")
        if schedule is not None:
            self._check_schedule(schedule, extra.get("send_at"), service)
            extra["schedule_type"] = schedule
        return Submission(to=to, sender=sender, body=body, callback_url=callback, extra=extra)

    def _check_schedule(self, schedule: str, send_at: str | None, service: str | None) -> None:
        if schedule != "fixed":
            raise self._invalid(default_code(400), f"Invalid ScheduleType: {schedule}; the only value is 'fixed'")
        if not send_at:
            raise self._invalid(Code.SEND_AT_MISSING, "SendAt timestamp is missing")
        when = parse_when(send_at)
        ahead = when - datetime.now(UTC) if isinstance(when, datetime) else None
        if ahead is None or not SCHEDULE_WINDOW[0] <= ahead <= SCHEDULE_WINDOW[1]:
            raise self._invalid(
                Code.SEND_AT_OUT_OF_RANGE,
                "SendAt time must be between 300 seconds and 35 days (3024000 seconds) in the future, inclusive",
            )
        if not service:
            raise self._invalid(
                Code.SERVICE_REQUIRED_TO_SCHEDULE, "MessagingServiceSid is required to schedule a message"
            )


async def _form(request: Request) -> Form:
    """The request's form; a POST with no body at all is an empty form to Twilio, not a malformed one."""
    if "content-type" not in request.headers and request.headers.get("content-length", "0") == "0":
        return Form()
    return await read_form(request)


def _username(credentials: BasicAuth | None) -> str | None:
    """The Basic username when it is an account or API key sid with a password, else None."""
    if credentials is None or not credentials.password:
        return None
    name = credentials.username
    return name if ACCOUNT_SID.fullmatch(name) or API_KEY_SID.fullmatch(name) else None


def _whole(params: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < minimum:
        raise ValueError(f"Invalid {name}: {text}")
    return int(text)


def _list_filter(filters: Mapping[str, str]) -> Callable[[SimMessage], bool]:
    """A predicate for the list filters; dates compare against date_sent (date_created until sent)."""
    to = plus(filters["To"]) if "To" in filters else None
    bounds: list[tuple[str, date]] = []
    for key, op in (("DateSent", "="), ("DateSent<", "<"), ("DateSent>", ">")):
        if key in filters:
            bound = parse_when(filters[key])
            if bound is None:
                raise ValueError(f"Invalid {key}: {filters[key]}")
            bounds.append((op, bound))

    def wanted(message: SimMessage) -> bool:
        if to is not None and plus(message.to) != to:
            return False
        if "From" in filters and message.submission.sender != filters["From"]:
            return False
        moment: datetime = message.extra.get("date_sent") or message.created_at
        return all(_compare(moment, op, bound) for op, bound in bounds)

    return wanted


def _compare(moment: datetime, op: str, bound: date) -> bool:
    if isinstance(bound, datetime) and op != "=":
        left: date = moment
        right: date = bound
    else:
        left, right = moment.date(), bound.date() if isinstance(bound, datetime) else bound
    return left == right if op == "=" else left <= right if op == "<" else left >= right
