"""``/api`` answers with an index of the API and ``/api/docs`` renders the OpenAPI document, with
the renderer served by the gateway itself (no CDN)."""

from __future__ import annotations

import re

import httpx

from lynsms.gateway import create_app
from lynsms.gateway.config import default_config
from lynsms.simulator.harness.server import serving


def test_the_api_root_is_an_index_and_the_docs_render_offline() -> None:
    with serving(create_app(default_config(), environ={})) as url, httpx.Client(base_url=url) as client:
        index = client.get("/api")
        assert index.status_code == 200
        data = index.json()["data"]
        assert (data["docs"], data["openapi"]) == ("/api/docs", "/api/openapi.json")
        assert {"method": "POST", "path": "/api/v1/messages/send"} in [
            {"method": o["method"], "path": o["path"]} for o in data["operations"]
        ]
        page = client.get("/api/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith("/api/docs/assets/") for a in assets)
        assert "/api/openapi.json" in page.text
        for asset in assets:
            answer = client.get(asset)
            assert answer.status_code == 200 and len(answer.content) > 10_000, asset
