"""ClickSend's SMS delivery-receipt rules (SDK ``SmsApi.create_sms_delivery_receipt_rule``,
``view_sms_delivery_receipt_rules``, ``view_sms_delivery_receipt_rule``,
``update_sms_delivery_receipt_rule``, ``delete_sms_delivery_receipt_rule``):
``/v3/automations/sms/receipts`` (POST, GET a page) and ``/{receipt_rule_id}`` (GET, PUT, DELETE).

A rule is ``{receipt_rule_id, rule_name, match_type, action, action_address, enabled}``. An
enabled ``URL`` rule makes ``action_address`` the account's receipt URL; disabling, retargeting or
deleting it stops pushes there. A delete answers ``data: []`` (the SDK's ``List[str]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.simulator.http import read_json
from lynsms.simulator.providers.base import ProviderError
from lynsms.simulator.providers.clicksend import render as cw
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.clicksend.handlers import ClickSend

PATH: Final = "/v3/automations/sms/receipts"
FIELDS: Final = {"rule_name": str, "match_type": int, "action": str, "action_address": str, "enabled": int}


def routes(clicksend: ClickSend) -> list[Route]:
    rules = _Rules(clicksend)
    return [
        clicksend.endpoint(PATH, rules.page, ["GET"]),
        clicksend.endpoint(PATH, rules.create, ["POST"]),
        clicksend.endpoint(PATH + "/{rule_id}", rules.one, ["GET"]),
        clicksend.endpoint(PATH + "/{rule_id}", rules.update, ["PUT"]),
        clicksend.endpoint(PATH + "/{rule_id}", rules.delete, ["DELETE"]),
    ]


class _Rules:
    def __init__(self, clicksend: ClickSend) -> None:
        self.clicksend = clicksend

    async def page(self, request: Request, entry: JournalEntry) -> Response:
        account = self.clicksend.authenticated(request, entry)
        page, limit = self.clicksend.paging(request)
        data = cw.paginate(list(self._of(account)), request.url, page, limit)
        return cw.envelope(200, "SUCCESS", "Here are your data.", data)

    async def create(self, request: Request, entry: JournalEntry) -> Response:
        account = self.clicksend.authenticated(request, entry)
        fields = self._checked(await read_json(request), required=True)
        rules = self._of(account)
        rule = {"receipt_rule_id": max((r["receipt_rule_id"] for r in rules), default=0) + 1, **fields}
        rules.append(rule)
        self._sync(account, rule, removed=False)
        return cw.envelope(200, "SUCCESS", "Your new rule has been added.", rule)

    async def one(self, request: Request, entry: JournalEntry) -> Response:
        rule = self._owned(request, entry)[1]
        return cw.envelope(200, "SUCCESS", "Here is your data.", rule)

    async def update(self, request: Request, entry: JournalEntry) -> Response:
        account, rule = self._owned(request, entry)
        before = dict(rule)
        rule.update(self._checked(await read_json(request), required=False))
        self._sync(account, before, removed=True)
        self._sync(account, rule, removed=False)
        return cw.envelope(200, "SUCCESS", "Your rule has been updated.", rule)

    async def delete(self, request: Request, entry: JournalEntry) -> Response:
        account, rule = self._owned(request, entry)
        self._of(account).remove(rule)
        self._sync(account, rule, removed=True)
        return cw.envelope(200, "SUCCESS", "Your rule has been deleted.", [])

    def _of(self, account: str) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = self.clicksend.settings(account)["rules"]
        return rules

    def _owned(self, request: Request, entry: JournalEntry) -> tuple[str, dict[str, Any]]:
        account = self.clicksend.authenticated(request, entry)
        wanted = request.path_params["rule_id"]
        rule = next((r for r in self._of(account) if str(r["receipt_rule_id"]) == wanted), None)
        if rule is None:
            raise ProviderError(self.clicksend.error(404, "Resource not found."), "not_found")
        return account, rule

    def _checked(self, body: dict[str, Any], *, required: bool) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, kind in FIELDS.items():
            value = body.get(name)
            if value is None and not required:
                continue
            if value is None or isinstance(value, bool) or not isinstance(value, kind):
                article = "an integer" if kind is int else "a string"
                raise self.clicksend.bad(f"The {name} field is required and must be {article}.")
            found[name] = value
        return found

    def _sync(self, account: str, rule: dict[str, Any], *, removed: bool) -> None:
        """An enabled URL rule sets the account's receipt URL; removing it unsets that URL."""
        settings = self.clicksend.settings(account)
        pushes = rule["action"].upper() == "URL" and rule["enabled"]
        if pushes and not removed:
            settings["receipt_url"] = rule["action_address"]
        elif pushes and settings["receipt_url"] == rule["action_address"]:
            settings["receipt_url"] = None
