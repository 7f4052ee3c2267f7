"""Which transport a provider gets: the lean Http11Transport, or httpx's own where the environment
names a proxy for the provider's URL (the same variables httpx reads, NO_PROXY included)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from lynsms.gateway.providers.transport import Http11Transport, for_provider, proxy_for

SINCH = "https://us.sms.api.sinch.com"


def test_without_proxy_variables_a_provider_gets_the_lean_transport() -> None:
    assert isinstance(for_provider(SINCH, {}), Http11Transport)


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"])
def test_an_https_proxy_variable_gives_an_https_provider_httpx_transport(variable: str) -> None:
    transport = for_provider(SINCH, {variable: "http://proxy.corp:3128"})
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    assert proxy_for(SINCH, {variable: "http://proxy.corp:3128"}) == "http://proxy.corp:3128"


def test_http_proxy_applies_to_an_http_provider_url_only() -> None:
    environ = {"HTTP_PROXY": "proxy.corp:3128"}
    assert proxy_for("http://127.0.0.1:8900", environ) == "http://proxy.corp:3128"
    assert proxy_for(SINCH, environ) is None
    assert isinstance(for_provider(SINCH, environ), Http11Transport)


def test_lower_case_variables_win_over_upper_case() -> None:
    assert proxy_for(SINCH, {"https_proxy": "http://a:1", "HTTPS_PROXY": "http://b:2"}) == "http://a:1"


@pytest.mark.parametrize(
    "no_proxy",
    [
        "*",
        "sinch.com",
        ".sinch.com",
        "*.sinch.com",
        "us.sms.api.sinch.com",
        "other.test, api.sinch.com",
        "all://sinch.com",
    ],
)
def test_no_proxy_naming_the_host_or_its_domain_keeps_the_lean_transport(no_proxy: str) -> None:
    environ = {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": no_proxy}
    assert proxy_for(SINCH, environ) is None
    assert isinstance(for_provider(SINCH, environ), Http11Transport)


@pytest.mark.parametrize("no_proxy", ["notsinch.com", "sinch.co", "127.0.0.1", "http://sinch.com", "sinch.com:8443"])
def test_no_proxy_naming_something_else_keeps_the_proxy(no_proxy: str) -> None:
    environ = {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": no_proxy}
    assert proxy_for(SINCH, environ) == "http://proxy.corp:3128"


def test_no_proxy_matches_ip_addresses_and_ports_exactly() -> None:
    environ = {"HTTP_PROXY": "http://proxy.corp:3128", "NO_PROXY": "127.0.0.1:8900,localhost"}
    assert proxy_for("http://127.0.0.1:8900", environ) is None
    assert proxy_for("http://127.0.0.1:8901", environ) == "http://proxy.corp:3128"
    assert proxy_for("http://localhost:1", environ) is None


async def test_a_request_really_goes_through_the_configured_proxy() -> None:
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n")[0])
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = for_provider("http://provider.test", {"HTTP_PROXY": f"http://127.0.0.1:{port}"})
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            answer = await client.post("http://provider.test/v3/sms/send", json={})
    finally:
        server.close()
    assert answer.status_code == 201
    assert seen == [b"POST http://provider.test/v3/sms/send HTTP/1.1"]  # absolute form: a proxy request
