"""Twilio Programmable Messaging on its real wire: create, fetch, list, update (cancel/redact), delete.

Handlers authenticate like Twilio (Basic ``AccountSid:AuthToken`` or ``SK...:secret``), validate the
form with Twilio's own error codes (``parse``) and hand one ``Submission`` per request to
``Provider.submit``. Rendering lives in ``render``; docs/providers/twilio.md lists every code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import partial
from itertools import islice
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.gateway.providers.names import ProviderName
from lynsms.simulator.http import JSONResponse, WireProblem, basic_auth
from lynsms.simulator.messages import DeliveryStatus, SimMessage
from lynsms.simulator.providers.base import (
    BadParam,
    Callback,
    Provider,
    ProviderError,
    Rejected,
    SendResult,
    int_param,
)
from lynsms.simulator.providers.twilio import account, media, parse
from lynsms.simulator.providers.twilio.render import (
    HANDED_OVER,
    PREFIX,
    REJECTIONS,
    Code,
    default_code,
    error_body,
    messages_uri,
    resource,
    signature,
    status_callback,
    twilio_status,
)
from lynsms.simulator.scheduling import CANCELED
from lynsms.simulator.state import JournalEntry

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000  # Twilio caps PageSize; the SDK sends list(limit=N) as PageSize=N


class Twilio(Provider[parse.Create]):
    name: ClassVar[ProviderName] = "twilio"
    prefixes: ClassVar[tuple[str, ...]] = (PREFIX,)
    rejections = REJECTIONS

    def routes(self) -> list[Route]:
        messages = f"{PREFIX}/Accounts/{{account_sid}}/Messages"
        one_media = f"{messages}/{{sid}}/Media/{{media_sid}}.json"
        return [
            self.endpoint(f"{messages}.json", self._create, ["POST"]),
            self.endpoint(f"{messages}.json", self._list, ["GET"]),
            self.endpoint(f"{messages}/{{sid}}.json", self._fetch, ["GET"]),
            self.endpoint(f"{messages}/{{sid}}.json", self._update, ["POST"]),
            self.endpoint(f"{messages}/{{sid}}.json", self._delete, ["DELETE"]),
            self.endpoint(f"{messages}/{{sid}}/Media.json", partial(media.list_media, self), ["GET"]),
            self.endpoint(one_media, partial(media.fetch_media, self), ["GET"]),
            self.endpoint(one_media, partial(media.delete_media, self), ["DELETE"]),
            self.endpoint(f"{PREFIX}/Accounts/{{account_sid}}.json", partial(account.fetch, self), ["GET"]),
            self.endpoint(f"{PREFIX}/Accounts/{{account_sid}}/Balance.json", partial(account.balance, self), ["GET"]),
        ]

    # ---- wire format -----------------------------------------------------------------------------

    def error(self, status: int, message: str, code: str | int | None = None) -> Response:
        if isinstance(code, str) and code.isdecimal():
            code = int(code)
        number = code if isinstance(code, int) else default_code(status)
        response = JSONResponse(error_body(status, message, number), status_code=status)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return response

    def malformed(self, problem: WireProblem) -> Response:
        return self.error(413 if problem.kind == "too_large" else 400, problem.detail)

    def render_sent(self, request: Request, send: parse.Create, results: Sequence[SendResult]) -> Response:
        (message,) = results  # Twilio sends one message per request
        if isinstance(message, Rejected):
            return self.reject(message.reason, message.submission) or self.error(400, message.reason)
        if not isinstance(message, SimMessage):
            raise TypeError("Twilio refuses nothing inside a success response")
        # The password signs this message's status callbacks (X-Twilio-Signature).
        message.extra["auth_token"] = send.auth_token
        return JSONResponse(resource(message), status_code=201)

    def new_message_id(self) -> str:
        return "SM" + self.state.ids.hex(32)

    def initial_status(self, send: parse.Create) -> str:
        extra = send.submission.extra
        if extra.get("schedule_type") == "fixed":
            return "scheduled"
        return "accepted" if extra.get("messaging_service_sid") else "queued"

    def lead_status(self, message: SimMessage) -> str | None:
        # With a Messaging Service a message is created `accepted` (or `scheduled`) and moves to
        # `queued` once a sender is picked: a status change after creation, so it is called back.
        if message.submission.extra.get("messaging_service_sid") and message.status != "canceled":
            return "queued"
        return None

    def delivery_report(
        self, message: SimMessage, status: DeliveryStatus | str, error_code: str | None
    ) -> dict[str, Any] | None:
        if message.status == "canceled":
            now = self.now()  # a canceled message never goes out, whatever was scripted for it
        else:
            now = self.move(message, *twilio_status(message, status, error_code))
            if message.status in HANDED_OVER:
                message.extra.setdefault("date_sent", now)
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

    def authenticate(self, request: Request) -> str:
        """The path's account sid, once the Basic credentials are acceptable for it."""
        username = parse.username(basic_auth(request))
        if username is None:
            raise ProviderError(
                self.error(401, "Authenticate"), "unauthorized", "missing or malformed Basic credentials"
            )
        account: str = request.path_params["account_sid"]
        if not parse.ACCOUNT_SID.fullmatch(account):
            raise ProviderError(self._not_found(request), "not_found", f"{account!r} is not an account sid")
        if username.startswith("AC") and username != account:
            raise ProviderError(self.error(401, "Authenticate"), "unauthorized", "credentials are for another account")
        return account

    # ---- handlers --------------------------------------------------------------------------------

    async def _create(self, request: Request, entry: JournalEntry) -> Response:
        account = self.authenticate(request)
        try:
            submission = parse.submission(await parse.form(request), self.now())
        except parse.Invalid as exc:
            raise self._invalid(exc.code, exc.message) from None
        credentials = basic_auth(request)
        create = parse.Create(submission, credentials.password if credentials else "")
        return await self.submit(request, entry, account, create, [submission])

    async def _fetch(self, request: Request, entry: JournalEntry) -> Response:
        return JSONResponse(resource(self._owned(request, entry)))

    async def _update(self, request: Request, entry: JournalEntry) -> Response:
        message = self._owned(request, entry)
        fields = await parse.form(request)
        status, body = fields.get("Status"), fields.get("Body")
        if status == "canceled" and body is None:
            if not self.core.scheduled.cancel(message.id):
                raise self._invalid(Code.NOT_CANCELABLE, "This message cannot be canceled")
            self.move(message, "canceled", None)  # stamped and seen by the console, like any status change
            # Twilio reports the cancel to the StatusCallback like any other status change.
            self.core.deliveries.schedule(self, message, CANCELED)
        elif body == "" and status is None:
            message.submission = replace(message.submission, body="")
        else:
            raise self._invalid(
                Code.UPDATE_INVALID, "Parameters are not valid: send Status=canceled or an empty Body, not both"
            )
        message.updated_at = self.now()
        return JSONResponse(resource(message))

    async def _delete(self, request: Request, entry: JournalEntry) -> Response:
        message = self._owned(request, entry)
        self.core.scheduled.cancel(message.id)
        del self.state.messages[message.id]
        return Response(status_code=204)

    async def _list(self, request: Request, entry: JournalEntry) -> Response:
        account = self.authenticated(request, entry)
        params = request.query_params
        filters = {key: params[key] for key in parse.LIST_FILTERS if key in params}
        try:
            page_size = min(int_param(params, "PageSize", DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE)
            page = int_param(params, "Page", 0, 0)
            wanted = parse.list_filter(filters)
        except BadParam as exc:
            raise self._invalid(default_code(400), f"Invalid {exc.name}: {exc.text}") from None
        except ValueError as exc:
            raise self._invalid(default_code(400), str(exc)) from None
        if "To" in filters:
            newest: Iterator[SimMessage] = reversed(self._sent_to(filters["To"], account))
        else:  # bounded by creation time, newest first
            newest = self.state.owned(self.name, account, high=parse.latest_created(filters), newest_first=True)
        matches = (m for m in newest if wanted(m))
        # Only as many matches as the page asked for (and one more, to know there is a next page).
        found: list[SimMessage] = []
        start = page * page_size
        token = params.get("PageToken")
        if token:
            if token[:2] not in ("PA", "PB") or not self._read_up_to(token[2:], matches, found):
                raise self._invalid(default_code(400), f"Invalid PageToken: {token}")
            position = len(found) - 1
            start = position + 1 if token[:2] == "PA" else max(position - page_size, 0)
        found.extend(islice(matches, max(start + page_size + 1 - len(found), 0)))
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

    def _owned(self, request: Request, entry: JournalEntry) -> SimMessage:
        """The message named in the path, visible only under the account that sent it."""
        account = self.authenticated(request, entry)
        message = self.message(request.path_params["sid"])
        if message is None or message.account != account:
            raise ProviderError(self._not_found(request), "not_found")
        entry.message_ids = [message.id]
        return message

    @staticmethod
    def _read_up_to(sid: str, matches: Iterator[SimMessage], found: list[SimMessage]) -> bool:
        """Move ``matches`` into ``found`` up to the message ``sid``; False when it is not there."""
        for message in matches:
            found.append(message)
            if message.id == sid:
                return True
        return False

    def _sent_to(self, to: str, account: str) -> list[SimMessage]:
        return [m for m in self.state.sent_to(to) if m.provider == self.name and m.account == account]

    def _not_found(self, request: Request) -> Response:
        return self.error(404, f"The requested resource {request.url.path} was not found", Code.NOT_FOUND)

    def _invalid(self, code: int, message: str) -> ProviderError:
        return ProviderError(self.error(400, message, code), "invalid_request", f"{code}: {message}")
