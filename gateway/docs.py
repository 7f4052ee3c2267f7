"""What a person finds at the API's root: ``GET /api`` (an index of the API, in the envelope) and
``GET /api/docs`` (the OpenAPI document rendered by Swagger UI, shipped in the package under
``static/swagger-ui``: nothing is fetched from a CDN, so the docs work offline).

The index is read off the OpenAPI document, so it lists exactly the operations it describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lynsms import __version__
from lynsms.gateway.api import ok, render
from lynsms.gateway.openapi import document

ASSETS: Final = Path(__file__).parent / "static" / "swagger-ui"
METHODS: Final = ("get", "post", "put", "patch", "delete")

PAGE: Final = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>LynSMS sending API</title>
  <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#docs", deepLinking: true});
  </script>
</body>
</html>
"""


def index_data() -> dict[str, Any]:
    spec = document()
    operations = [
        {"method": method.upper(), "path": path, "summary": operation.get("summary", "")}
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]
    return {
        "object": "api_index",
        "name": spec["info"]["title"],
        "version": __version__,
        "docs": "/api/docs",
        "openapi": "/api/openapi.json",
        "health": "/api/health",
        "auth": "Authorization: Bearer <API key> on /api/v1/* (provider webhooks excepted)",
        "operations": operations,
    }


async def index(request: Request) -> Response:
    return render(request, 200, ok(index_data()))


async def docs_page(request: Request) -> Response:
    return HTMLResponse(PAGE)


# Pages for people, beside the API's routes (api.routes, which the OpenAPI document describes).
routes = [
    Route("/api", index, methods=["GET"]),
    Route("/api/docs", docs_page, methods=["GET"]),
    Mount("/api/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets"),
]
