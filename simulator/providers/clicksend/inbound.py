"""ClickSend inbound SMS: inbound automation rules, the inbound push and ``GET /v3/sms/inbound``.

Rules (``clicksend`` SDK ``create_sms_inbound_automation`` / ``SmsInboundRule``):
``POST /v3/automations/sms/inbound`` ``{"dedicated_number", "rule_name", "message_search_type",
"message_search_term", "action", "action_address", "enabled", "webhook_type"?}``, list with GET,
one with ``GET``/``PUT``/``DELETE /v3/automations/sms/inbound/{inbound_rule_id}``. An enabled rule
with ``action: "URL"`` pushes matching inbound messages to ``action_address``
(``dedicated_number: "*"`` matches every number): a form POST, or JSON when ``webhook_type`` is
``json``, with the ``InboundSms`` fields ``timestamp``, ``from``, ``body``, ``original_body``,
``original_message_id``, ``to``, ``custom_string``, ``message_id``, ``_keyword`` plus
``user_id``/``subaccount_id``. Pull: ``GET /v3/sms/inbound`` (the Laravel paginator under
``data``), without the messages marked read (``reading``).
ClickSend documents no retry schedule; the simulator retries 5xx/429/unreachable 4 times, 30 s apart doubling.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.simulator.http import read_json
from lynsms.simulator.inbound import Inbound, InboundMessage, Registration, Retry
from lynsms.simulator.providers.base import BadParam, Callback, Provider, ProviderError, int_param
from lynsms.simulator.providers.clicksend import reading
from lynsms.simulator.providers.clicksend import render as cw
from lynsms.simulator.state import JournalEntry

_RULES: Final = "/v3/automations/sms/inbound"
_FIELDS: Final = {
    "dedicated_number": str,
    "rule_name": str,
    "message_search_type": int,
    "message_search_term": str,
    "action": str,
    "action_address": str,
    "enabled": int,
}


def inbound_sms(message: InboundMessage) -> dict[str, Any]:
    user, sub = cw.account_numbers(message.account)
    return {
        "timestamp": int(message.received_at.timestamp()),
        "from": message.sender,
        "body": message.body,
        "original_body": "",
        "original_message_id": "",
        "to": message.to,
        "custom_string": "",
        "user_id": user,
        "subaccount_id": sub,
        "message_id": message.id,
        "_keyword": message.body.split()[0].lower() if message.body.split() else "",
    }


class ClickSendInbound:
    retry = Retry(attempts=5, backoff=30.0)

    def message_id(self, sim: Inbound) -> str:
        return sim.state.ids.uuid().upper()

    def push(self, message: InboundMessage, registration: Registration) -> Callback:
        fields = inbound_sms(message)
        if registration.webhook_type == "json":
            return Callback(registration.url, json.dumps(fields).encode(), {"Content-Type": "application/json"})
        form = {key: cw.form_value(value) for key, value in fields.items()}
        return Callback(
            registration.url, urlencode(form).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )

    def routes(self, provider: Provider[Any], sim: Inbound) -> list[Route]:
        handlers = _Handlers(provider, sim)
        return [
            provider.endpoint("/v3/sms/inbound", handlers.inbox, ["GET"]),
            provider.endpoint("/v3/sms/inbound-read", partial(reading.inbound_read, provider, sim), ["PUT"]),
            provider.endpoint(
                "/v3/sms/inbound-read/{message_id}", partial(reading.one_inbound_read, provider, sim), ["PUT"]
            ),
            provider.endpoint(_RULES, handlers.rules, ["GET"]),
            provider.endpoint(_RULES, handlers.create, ["POST"]),
            provider.endpoint(_RULES + "/{rule_id}", handlers.one, ["GET"]),
            provider.endpoint(_RULES + "/{rule_id}", handlers.update, ["PUT"]),
            provider.endpoint(_RULES + "/{rule_id}", handlers.delete, ["DELETE"]),
        ]


class _Handlers:
    def __init__(self, provider: Provider[Any], sim: Inbound) -> None:
        self.provider = provider
        self.sim = sim

    def _rules(self) -> dict[str, dict[str, Any]]:
        return self.sim.resources.setdefault("clicksend:inbound-rules", {})

    def _paging(self, request: Request) -> tuple[int, int]:
        try:
            page, limit = int_param(request.query_params, "page", 1, 1), int_param(request.query_params, "limit", 15, 0)
        except BadParam:
            raise self._bad("page and limit must be positive integers.") from None
        return page, min(max(limit, 15), 100)

    async def inbox(self, request: Request, entry: JournalEntry) -> Response:
        account = self.provider.authenticated(request, entry)
        page, limit = self._paging(request)
        found = [inbound_sms(m) for m in reversed(list(self.sim.of("clicksend", account))) if not m.pulled]
        return cw.envelope(200, "SUCCESS", "Here are your data.", cw.paginate(found, request.url, page, limit))

    async def rules(self, request: Request, entry: JournalEntry) -> Response:
        account = self.provider.authenticated(request, entry)
        page, limit = self._paging(request)
        mine = [self._public(r) for r in self._rules().values() if r["account"] == account]
        return cw.envelope(200, "SUCCESS", "Here are your data.", cw.paginate(mine, request.url, page, limit))

    async def create(self, request: Request, entry: JournalEntry) -> Response:
        account = self.provider.authenticated(request, entry)
        body = await read_json(request)
        rule = {
            "inbound_rule_id": max(map(int, self._rules()), default=0) + 1,
            "account": account,
            **self._checked(body, required=True),
        }
        rule.setdefault(
            "webhook_type", body.get("webhook_type") if isinstance(body.get("webhook_type"), str) else "post"
        )
        self._rules()[str(rule["inbound_rule_id"])] = rule
        self._sync(rule)
        return cw.envelope(200, "SUCCESS", "Your new rule has been added.", self._public(rule))

    async def one(self, request: Request, entry: JournalEntry) -> Response:
        return cw.envelope(200, "SUCCESS", "Here is your data.", self._public(self._owned(request, entry)))

    async def update(self, request: Request, entry: JournalEntry) -> Response:
        rule = self._owned(request, entry)
        rule.update(self._checked(await read_json(request), required=False))
        self._sync(rule)
        return cw.envelope(200, "SUCCESS", "Your rule has been updated.", self._public(rule))

    async def delete(self, request: Request, entry: JournalEntry) -> Response:
        rule = self._owned(request, entry)
        del self._rules()[str(rule["inbound_rule_id"])]
        self.sim.unregister(_registration_id(rule))
        return cw.envelope(200, "SUCCESS", "Your rule has been deleted.", [])  # the SDK's List[str]

    def _checked(self, body: dict[str, Any], *, required: bool) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, kind in _FIELDS.items():
            value = body.get(name)
            if value is None and not required:
                continue
            if value is None or isinstance(value, bool) or not isinstance(value, kind):
                article = "an integer" if kind is int else "a string"
                raise self._bad(f"The {name} field is required and must be {article}.")
            found[name] = value
        if isinstance(body.get("webhook_type"), str):
            found["webhook_type"] = body["webhook_type"]
        return found

    def _sync(self, rule: dict[str, Any]) -> None:
        """An enabled URL rule is where inbound messages for its number go."""
        if rule["action"].upper() == "URL" and rule["enabled"]:
            number = rule["dedicated_number"]
            self.sim.register(
                "clicksend",
                rule["action_address"],
                account=rule["account"],
                number=None if number in ("*", "") else number,
                webhook_type=rule.get("webhook_type", "post"),
                source="clicksend:automations",
                registration_id=_registration_id(rule),
            )
        else:
            self.sim.unregister(_registration_id(rule))

    def _owned(self, request: Request, entry: JournalEntry) -> dict[str, Any]:
        account = self.provider.authenticated(request, entry)
        rule = self._rules().get(request.path_params["rule_id"])
        if rule is None or rule["account"] != account:
            raise ProviderError(self.provider.error(404, "Resource not found."), "not_found")
        return rule

    @staticmethod
    def _public(rule: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in rule.items() if key != "account"}

    def _bad(self, message: str) -> ProviderError:
        return ProviderError(self.provider.error(400, message), detail=message)


def _registration_id(rule: dict[str, Any]) -> str:
    return f"clicksend-rule-{rule['account']}-{rule['inbound_rule_id']}"


WIRE: Final = ClickSendInbound()
