"""Sinch's SMS REST API on its real wire, in both authentication modes.

- project mode: ``POST /oauth2/token`` (Basic ``key_id:key_secret``) issues a bearer token; the project
  id is the account in ``/xms/v1/{project_id}/...``. Unknown or expired tokens get a 401 whose
  ``WWW-Authenticate`` tells the SDK whether fetching a new token helps.
- service plan mode: any other non-empty bearer token is an API token; the service plan id in the
  path is the account.

A batch has one id for all its recipients; each recipient is one ``SimMessage`` sharing ``batch_id``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace as dataclass_replace
from datetime import timedelta
from functools import partial
from typing import Any, ClassVar, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.gateway.providers.names import ProviderName
from lynsms.simulator.http import JSONResponse, WireProblem, basic_auth, bearer_token, read_form, read_json
from lynsms.simulator.messages import DeliveryStatus, SimMessage, Submission
from lynsms.simulator.providers.base import (
    BadParam,
    Callback,
    Provider,
    ProviderError,
    SendResult,
    int_param,
)
from lynsms.simulator.providers.sinch import delivery_reports, dry_run, feedback, filters, groups, scheduling
from lynsms.simulator.providers.sinch.parse import BatchRequest, Invalid, parse_batch, submissions
from lynsms.simulator.providers.sinch.render import (
    BINARY,
    EXPIRED_TOKEN,
    FINAL_STATUSES,
    PARTS_EXCEEDED,
    REJECTIONS,
    STATUSES,
    Batch,
    Token,
    access_token,
    batch_json,
    batch_report,
    current,
    error_response,
    looks_like_jwt,
    oauth_error,
    over_part_limit,
    recipient,
    recipient_report,
    token_expiry,
)
from lynsms.simulator.state import JournalEntry

TOKEN_LIFETIME: Final = 3600
DEFAULT_PAGE_SIZE: Final = 30
MAX_PAGE_SIZE: Final = 100
_BATCHES: Final = "/xms/v1/{account}/batches"
_GROUPS: Final = "/xms/v1/{account}/groups"


class Sinch(Provider[BatchRequest]):
    name: ClassVar[ProviderName] = "sinch"
    prefixes: ClassVar[tuple[str, ...]] = ("/xms/", "/oauth2/")
    batches: ClassVar[bool] = True
    scheduled_status: ClassVar[str] = "Queued"
    released_status: ClassVar[str] = "Queued"
    rejections = REJECTIONS

    def routes(self) -> list[Route]:
        return [
            self.endpoint("/oauth2/token", self._token, ["POST"]),
            self.endpoint(_BATCHES, self._send, ["POST"]),
            self.endpoint(_BATCHES, self._list, ["GET"]),
            self.endpoint(_BATCHES + "/{batch_id}", self._get, ["GET"]),
            self.endpoint(_BATCHES + "/{batch_id}", self._cancel, ["DELETE"]),
            # Before the batch routes: "dry_run" would otherwise be read as a batch id.
            self.endpoint(_BATCHES + "/dry_run", partial(dry_run.dry_run, self), ["POST"]),
            self.endpoint(_BATCHES + "/{batch_id}", partial(scheduling.update, self), ["POST"]),
            self.endpoint(_BATCHES + "/{batch_id}", partial(scheduling.replace, self), ["PUT"]),
            self.endpoint(_BATCHES + "/{batch_id}/delivery_report", self._batch_report, ["GET"]),
            self.endpoint("/xms/v1/{account}/delivery_reports", partial(delivery_reports.list_reports, self), ["GET"]),
            self.endpoint(_BATCHES + "/{batch_id}/delivery_report/{msisdn}", self._recipient_report, ["GET"]),
            self.endpoint(_BATCHES + "/{batch_id}/delivery_feedback", partial(feedback.send_feedback, self), ["POST"]),
            self.endpoint(_GROUPS, partial(groups.create, self), ["POST"]),
            self.endpoint(_GROUPS, partial(groups.list_groups, self), ["GET"]),
            self.endpoint(_GROUPS + "/{group_id}", partial(groups.get, self), ["GET"]),
            self.endpoint(_GROUPS + "/{group_id}", partial(groups.update, self), ["POST"]),
            self.endpoint(_GROUPS + "/{group_id}", partial(groups.replace, self), ["PUT"]),
            self.endpoint(_GROUPS + "/{group_id}", partial(groups.delete, self), ["DELETE"]),
            self.endpoint(_GROUPS + "/{group_id}/members", partial(groups.members, self), ["GET"]),
        ]

    # ---- the wire format ------------------------------------------------------------------------

    def error(self, status: int, message: str, code: str | int | None = None) -> Response:
        return error_response(status, message, code)

    def malformed(self, problem: WireProblem) -> Response:
        if problem.kind == "too_large":
            return self.error(413, problem.detail)
        # Sinch answers every unreadable or non-conforming body with syntax_invalid_json.
        return self.error(400, problem.detail, "syntax_invalid_json")

    def render_sent(self, request: Request, send: BatchRequest, results: Sequence[SendResult]) -> Response:
        messages = [r for r in results if isinstance(r, SimMessage)]
        first = messages[0]
        batch = Batch(
            id=first.batch_id or self.new_batch_id(),
            account=first.account,
            message_ids=[m.id for m in messages],
            echo=send.echo,
            created_at=first.created_at,
            modified_at=first.created_at,
            groups=list(send.groups),
        )
        self._forget_evicted()
        self._batches()[batch.id] = batch
        self.index_reference(batch)
        return JSONResponse(batch_json(batch, messages), status_code=201)

    def _forget_evicted(self) -> None:
        """Drop the oldest batches once the message store has evicted all their messages, so the
        batch store stays as bounded as the message store over a long run. Messages go oldest
        first and a batch's newest message is last in ``message_ids``: when that one is gone, all are.
        A batch left with no recipients (an update removed them all) goes with the messages of its time."""
        batches, stored = self._batches(), self.state.messages
        index = self.by_reference()
        while batches:
            oldest = next(iter(batches.values()))
            if oldest.message_ids:
                kept = oldest.message_ids[-1] in stored
            else:
                kept = not stored or oldest.created_at >= next(iter(stored.values())).created_at
            if kept:
                return
            del batches[oldest.id]
            reference = oldest.echo.get("client_reference")
            if isinstance(reference, str):
                ids = index.get(reference, {})
                ids.pop(oldest.id, None)
                if not ids:
                    index.pop(reference, None)

    def new_message_id(self) -> str:
        return self.state.ids.ulid()

    def new_batch_id(self) -> str:
        return self.state.ids.ulid()

    def shape(self, submission: Submission) -> tuple[int, str]:
        if submission.extra.get("type") == "mt_binary":
            return 1, BINARY  # at most 140 octets with its UDH (``parse``): always one SMS
        return super().shape(submission)

    def initial_status(self, send: BatchRequest) -> str:
        return "Queued"

    def delivery_report(
        self, message: SimMessage, status: DeliveryStatus | str, error_code: str | None
    ) -> dict[str, Any]:
        if status not in STATUSES:
            raise ValueError(f"Sinch has no delivery status for {status!r}; expected one of {', '.join(STATUSES)}")
        sinch_status, code = STATUSES[status]
        if message.status == "Cancelled":
            # A cancelled recipient is never sent: a report scheduled before the cancel repeats it.
            sinch_status, code = STATUSES["cancelled"]
        elif sinch_status != "Cancelled" and over_part_limit(message):
            # Sinch: "If a message is split into more parts than max_number_of_message_parts, it won't
            # be delivered. The status code will display a 411 error", whatever the scenario planned.
            sinch_status, code = PARTS_EXCEEDED
            message.delivery = "failed"
        elif error_code is not None:
            if not error_code.lstrip("-").isdecimal():
                raise ValueError(f"Sinch delivery codes are integers, not {error_code!r}")
            code = int(error_code)  # the SDK's models reject a string code
        now = self.move(message, sinch_status, str(code))
        return recipient_report(message, sinch_status, code, now)

    def callback(self, message: SimMessage, report: dict[str, Any]) -> Callback | None:
        """Honour the batch's ``delivery_report`` mode; SMS callbacks are plain, unsigned JSON."""
        mode = message.submission.extra.get("delivery_report", "none")
        url = message.submission.callback_url
        if url is None or mode == "none":
            return None
        body: dict[str, Any] = report
        if mode == "per_recipient_final" and report.get("status") not in FINAL_STATUSES:
            return None
        if mode in ("summary", "full"):
            batch = self._batches().get(message.batch_id or "")
            if batch is None:
                return None
            members = self._members(batch)
            # Sinch sends the batch report once, when the batch is complete.
            if any(current(m)[0] not in FINAL_STATUSES for m in members):
                return None
            body = batch_report(batch, members, full=mode == "full")
        return Callback(url, json.dumps(body).encode(), {"Content-Type": "application/json"})

    # ---- handlers --------------------------------------------------------------------------------

    async def _token(self, request: Request, entry: JournalEntry) -> Response:
        credentials = basic_auth(request)
        if credentials is None:
            raise ProviderError(oauth_error(401, "invalid_client", "Client authentication failed"), "auth_failed")
        entry.account = credentials.username
        try:
            form = await read_form(request)
        except WireProblem as problem:
            raise ProviderError(oauth_error(400, "invalid_request", problem.detail), detail=problem.detail) from None
        grant = form.get("grant_type")
        if not grant:
            raise ProviderError(oauth_error(400, "invalid_request", "The request is missing grant_type"))
        if grant != "client_credentials":
            text = f"The authorization grant type {grant!r} is not supported; use client_credentials"
            raise ProviderError(oauth_error(400, "unsupported_grant_type", text))
        issued = self.now()
        expires = issued + timedelta(seconds=TOKEN_LIFETIME)
        ids = self.state.ids
        token = access_token(credentials.username, issued, expires, ids.uuid(), ids.token(43))
        tokens = self._tokens()
        # Tokens expire in the order they were issued: forget the expired ones at the front, so the
        # store stays bounded. A forgotten token still reads as expired (its ``exp`` claim).
        while tokens and next(iter(tokens.values())).expires_at <= issued:
            tokens.popitem(last=False)
        tokens[token] = Token(credentials.username, expires)
        entry.outcome = {"kind": "token"}
        body = {"access_token": token, "expires_in": TOKEN_LIFETIME - 1, "scope": "", "token_type": "bearer"}
        return JSONResponse(body)

    async def _send(self, request: Request, entry: JournalEntry) -> Response:
        account = self.authenticated(request, entry)
        batch = self.read_batch(account, await read_json(request))
        return await self.submit(request, entry, account, batch, submissions(batch))

    def regroup(self, group_id: str) -> None:
        """Waiting batches sent to a group that just changed follow it (``scheduling.regroup``;
        reached through here because ``scheduling`` already reads ``groups``)."""
        scheduling.regroup(self, group_id)

    def read_batch(self, account: str, data: dict[str, Any]) -> BatchRequest:
        """A send (or replace, or dry run) body, its group ids replaced by the groups' members."""
        to, targeted = groups.expand(self, account, data.get("to"))
        try:
            batch = parse_batch(data | {"to": to} if targeted else data, self.now())
        except Invalid as exc:
            raise ProviderError(self.error(400, exc.text, exc.code), detail=exc.text) from None
        if targeted:
            batch = dataclass_replace(batch, groups=tuple(targeted), echo=batch.echo | {"to": data["to"]})
        return batch

    async def _list(self, request: Request, entry: JournalEntry) -> Response:
        account = self.authenticated(request, entry)
        params = request.query_params
        try:
            page = int_param(params, "page", 0, 0)
            size = int_param(params, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        except BadParam as exc:
            raise ProviderError(self.error(400, str(exc), "syntax_invalid_parameter_format")) from None
        try:
            wanted = filters.batch_filter(params, self.now())
        except Invalid as exc:
            raise ProviderError(self.error(400, exc.text, exc.code), detail=exc.text) from None
        batches = self._batches()
        reference = params.get("client_reference")
        # A client_reference is answered from its index, not a walk through every batch.
        source = (
            batches.values()
            if reference is None
            else [b for i in self.by_reference().get(reference, ()) if (b := batches.get(i)) is not None]
        )
        found = [b for b in source if b.account == account and wanted(b)]
        found.sort(key=lambda b: b.created_at, reverse=True)  # newest first (timsort: linear on sorted input)
        shown = found[page * size : (page + 1) * size]
        body = {
            "count": len(found),
            "page": page,
            "page_size": len(shown),  # Sinch: the number of entries on this page
            "batches": [batch_json(b, self._members(b)) for b in shown],
        }
        return JSONResponse(body)

    async def _get(self, request: Request, entry: JournalEntry) -> Response:
        batch = self._batch(request, entry)
        return JSONResponse(batch_json(batch, self._members(batch)))

    async def _cancel(self, request: Request, entry: JournalEntry) -> Response:
        batch = self._batch(request, entry)
        now = self.now()
        batch.canceled, batch.modified_at = True, now
        # Recipients not yet final will never be sent; sent ones keep their outcome.
        for message in self._members(batch):
            self.core.scheduled.cancel(message.id)
            if current(message)[0] not in FINAL_STATUSES:
                message.reports.append(self.delivery_report(message, "cancelled", None))
        entry.message_ids = list(batch.message_ids)
        return JSONResponse(batch_json(batch, self._members(batch)))

    async def _batch_report(self, request: Request, entry: JournalEntry) -> Response:
        batch = self._batch(request, entry)
        params = request.query_params
        kind = params.get("type", "summary")
        if kind not in ("summary", "full"):
            raise ProviderError(self.error(400, f"type: unknown value {kind!r}", "syntax_invalid_parameter_format"))
        statuses = {s.strip().lower() for s in params["status"].split(",") if s.strip()} if "status" in params else None
        codes: set[int] | None = None
        if "code" in params:
            raw = [c.strip() for c in params["code"].split(",") if c.strip()]
            if not all(c.isdecimal() for c in raw):
                raise ProviderError(self.error(400, "code: expected integers", "syntax_invalid_parameter_format"))
            codes = {int(c) for c in raw}
        report = batch_report(batch, self._members(batch), kind == "full", statuses, codes)
        return JSONResponse(report)

    async def _recipient_report(self, request: Request, entry: JournalEntry) -> Response:
        batch = self._batch(request, entry)
        wanted = recipient(request.path_params["msisdn"])
        message = next((m for m in self._members(batch) if recipient(m.to) == wanted), None)
        if message is None:
            text = f"No delivery report for recipient {request.path_params['msisdn']} in batch {batch.id}"
            raise ProviderError(self.error(404, text), "not_found")
        if message.reports:
            return JSONResponse(message.reports[-1])
        status, code = current(message)
        return JSONResponse(recipient_report(message, status, code, message.created_at))

    # ---- state and credentials -------------------------------------------------------------------

    def _tokens(self) -> OrderedDict[str, Token]:
        tokens: OrderedDict[str, Token] = self.state.extra(self.name).setdefault("tokens", OrderedDict())
        return tokens

    def _batches(self) -> OrderedDict[str, Batch]:
        # Oldest first; an OrderedDict because ``_forget_evicted`` drops from the front.
        batches: OrderedDict[str, Batch] = self.state.extra(self.name).setdefault("batches", OrderedDict())
        return batches

    def by_reference(self) -> dict[str, dict[str, None]]:
        """client_reference -> ids of the batches that carry it, oldest first (the list filter's index)."""
        index: dict[str, dict[str, None]] = self.state.extra(self.name).setdefault("by_reference", {})
        return index

    def index_reference(self, batch: Batch) -> None:
        reference = batch.echo.get("client_reference")
        if reference is not None:
            self.by_reference().setdefault(reference, {})[batch.id] = None

    def _members(self, batch: Batch) -> list[SimMessage]:
        found = (self.message(i) for i in batch.message_ids)
        return [m for m in found if m is not None]

    def _batch(self, request: Request, entry: JournalEntry) -> Batch:
        """The batch in the path, visible only under the account it was sent with."""
        account = self.authenticated(request, entry)
        batch_id = request.path_params["batch_id"]
        batch = self._batches().get(batch_id)
        if batch is None or batch.account != account:
            raise ProviderError(self.error(404, f"Batch {batch_id} not found"), "not_found")
        entry.message_ids = list(batch.message_ids)
        return batch

    def authenticated(self, request: Request, entry: JournalEntry) -> str:
        # The path's account is journaled even when its credential is refused.
        entry.account = request.path_params["account"]
        return super().authenticated(request, entry)

    def authenticate(self, request: Request) -> str:
        """The account in the path, once the bearer credential is acceptable for it."""
        account: str = request.path_params["account"]
        token = bearer_token(request)
        if token is None:
            raise ProviderError(
                self.error(401, "Missing or malformed Authorization header", "unauthorized"), "auth_failed"
            )
        issued = self._tokens().get(token)
        if issued is None:
            if not looks_like_jwt(token):
                return account  # service plan mode: any API token is accepted
            # An OAuth token this simulator forgot (expired ones are, see ``_token``; all are on reset)
            # or never issued: expired by its own claim, the SDK fetches a new one; otherwise invalid.
            expiry = token_expiry(token)
            if expiry is None or expiry > self.now():
                raise ProviderError(self.error(401, "Invalid access token", "unauthorized"), "auth_failed")
        if issued is None or issued.expires_at <= self.now():
            response = self.error(401, "Access token has expired", "unauthorized")
            response.headers["WWW-Authenticate"] = EXPIRED_TOKEN
            raise ProviderError(response, "auth_failed", detail="token expired")
        if issued.project is None:
            issued.project = account
        elif issued.project != account:
            raise ProviderError(
                self.error(401, f"Token is not valid for project {account}", "unauthorized"), "auth_failed"
            )
        return account
