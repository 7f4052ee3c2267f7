"""The web inbox at /_sim/: every message the providers accepted and every request, live."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from lynsms.gateway.providers.names import PROVIDER_NAMES

# The provider filter lists the registry, so a new provider shows up without touching the page.
_PAGE = (
    resources.files("lynsms.simulator")
    .joinpath("static/inbox.html")
    .read_text(encoding="utf-8")
    .replace("<!-- provider options -->", "".join(f"<option>{name}</option>" for name in PROVIDER_NAMES))
)


async def inbox(request: Request) -> Response:
    return HTMLResponse(_PAGE)


routes = [Route("/_sim/", inbox, methods=["GET"]), Route("/_sim", inbox, methods=["GET"])]
