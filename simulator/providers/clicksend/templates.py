"""ClickSend's SMS templates (SDK ``SmsApi.create_sms_template``, ``view_sms_templates``,
``view_a_specific_sms_template``, ``update_sms_template``, ``delete_sms_template``):
``/v3/sms/templates`` (POST, GET a page) and ``/v3/sms/templates/{template_id}`` (GET, PUT, DELETE).

A template is ``{template_id, template_name, body}``, kept per account; a send never expands one
(the SDK's send has no template field either). A delete answers ``data: []`` (``DeleteSmsTemplate``).
Texts are the SDK models' examples ("New template has been saved." ...).
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

PATH: Final = "/v3/sms/templates"


def routes(clicksend: ClickSend) -> list[Route]:
    templates = _Templates(clicksend)
    return [
        clicksend.endpoint(PATH, templates.page, ["GET"]),
        clicksend.endpoint(PATH, templates.create, ["POST"]),
        clicksend.endpoint(PATH + "/{template_id}", templates.one, ["GET"]),
        clicksend.endpoint(PATH + "/{template_id}", templates.update, ["PUT"]),
        clicksend.endpoint(PATH + "/{template_id}", templates.delete, ["DELETE"]),
    ]


class _Templates:
    def __init__(self, clicksend: ClickSend) -> None:
        self.clicksend = clicksend

    async def page(self, request: Request, entry: JournalEntry) -> Response:
        account = self.clicksend.authenticated(request, entry)
        page, limit = self.clicksend.paging(request)
        data = cw.paginate(list(self._of(account).values()), request.url, page, limit)
        return cw.envelope(200, "SUCCESS", "Here are your templates.", data)

    async def create(self, request: Request, entry: JournalEntry) -> Response:
        account = self.clicksend.authenticated(request, entry)
        fields = self._checked(await read_json(request), required=True)
        templates = self._of(account)
        template_id = max(templates, default=0) + 1
        templates[template_id] = {"template_id": template_id, **fields}
        return cw.envelope(200, "SUCCESS", "New template has been saved.", templates[template_id])

    async def one(self, request: Request, entry: JournalEntry) -> Response:
        return cw.envelope(200, "SUCCESS", "Here is your template.", self._owned(request, entry)[1])

    async def update(self, request: Request, entry: JournalEntry) -> Response:
        _, template = self._owned(request, entry)
        template.update(self._checked(await read_json(request), required=False))
        return cw.envelope(200, "SUCCESS", "Your template has been updated.", template)

    async def delete(self, request: Request, entry: JournalEntry) -> Response:
        account, template = self._owned(request, entry)
        del self._of(account)[template["template_id"]]
        return cw.envelope(200, "SUCCESS", "Your template has been deleted.", [])

    def _of(self, account: str) -> dict[int, dict[str, Any]]:
        templates: dict[int, dict[str, Any]] = self.clicksend.settings(account).setdefault("templates", {})
        return templates

    def _owned(self, request: Request, entry: JournalEntry) -> tuple[str, dict[str, Any]]:
        account = self.clicksend.authenticated(request, entry)
        wanted = request.path_params["template_id"]
        found = self._of(account).get(int(wanted)) if wanted.isascii() and wanted.isdecimal() else None
        if found is None:
            raise ProviderError(self.clicksend.error(404, "Resource not found."), "not_found")
        return account, found

    def _checked(self, body: dict[str, Any], *, required: bool) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in ("template_name", "body"):
            value = body.get(name)
            if value is None and not required:
                continue
            if not isinstance(value, str) or not value.strip():
                raise self.clicksend.bad(f"The {name} field is required and must be a non-empty string.")
            found[name] = value
        return found
