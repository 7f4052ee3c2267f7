"""What the proxy serves once a request is in: the simulator for a provider host, a 502 otherwise.

The request keeps its ``Host`` header, so the simulator knows which provider the client meant (see
``lynsms.simulator.hosts``). Nothing is ever forwarded anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from lynsms.simulator.hosts import all_patterns, hostname, provider_of_host

if TYPE_CHECKING:
    from lynsms.simulator.proxy.ca import Authority

CA_PATH = "/_sim/ca.pem"
PEM_TYPE = "application/x-pem-file"


def refusal(host: str) -> str:
    return (
        f"LynSMS proxy: {host or '(no host)'} is not a provider host, and this proxy never forwards a request "
        f"anywhere else. It serves only: {', '.join(all_patterns())}. Send other traffic around it (NO_PROXY).\n"
    )


def _installation_ca() -> Authority:
    # Imported on first use: cryptography takes ~0.2 s to import, and most runs never serve the CA.
    from lynsms.simulator.proxy.ca import installation_ca

    return installation_ca()


def create_proxy_app(simulator: ASGIApp, authority: Callable[[], Authority] = _installation_ca) -> ASGIApp:
    """The proxy's ASGI app: provider hosts reach ``simulator``; ``GET /_sim/ca.pem`` on the proxy's
    own address serves the CA; any other host gets a 502 naming it."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        host = ""
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = value.decode("latin-1")
                break
        if provider_of_host(host) is not None:
            await simulator(scope, receive, send)
            return
        response: Response
        if scope["type"] == "http" and scope["path"] == CA_PATH and scope["method"] in ("GET", "HEAD"):
            response = Response(authority().cert_pem, media_type=PEM_TYPE)
        else:
            response = PlainTextResponse(refusal(hostname(host)), status_code=502)
        await response(scope, receive, send)

    return app


def ca_routes(authority: Callable[[], Authority] = _installation_ca) -> list[Route]:
    """``GET /_sim/ca.pem`` on the simulator: the CA a client trusts to use the proxy."""

    async def ca_pem(request: Request) -> Response:
        return Response(authority().cert_pem, media_type=PEM_TYPE)

    return [Route(CA_PATH, ca_pem, methods=["GET"])]
