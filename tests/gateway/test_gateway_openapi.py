"""The OpenAPI document describes every route, schema and error code of the running app."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openapi_spec_validator
import pytest
from starlette.routing import Route

from lynsms.gateway import api
from lynsms.gateway.errors import ERROR_STATUS
from tests.gateway.helpers import SEND, Client


def resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


@pytest.fixture
def doc(client: Client) -> dict[str, Any]:
    response = client.get("/api/openapi.json", headers={"Authorization": ""})
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    openapi_spec_validator.validate(doc)


def test_document_is_structurally_sound(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key",
    }
    for ref in refs(doc):
        assert resolve(doc, ref) is not None, ref
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"], (method, path)
            assert operation["operationId"]
            for parameter in operation.get("parameters", []):
                assert parameter["in"] != "path" or f"{{{parameter['name']}}}" in path


def test_every_route_of_the_app_is_documented_with_its_methods(doc: dict[str, Any]) -> None:
    for route in api.routes:
        assert isinstance(route, Route)
        assert route.path in doc["paths"], route.path
        documented = {method.upper() for method in doc["paths"][route.path]}
        assert (route.methods or set()) - {"HEAD"} == documented, route.path
    assert len(doc["paths"]) == len(api.routes)


def test_public_routes_need_no_auth_and_v1_routes_use_bearer(doc: dict[str, Any]) -> None:
    assert doc["security"] == [{"bearerAuth": []}]
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            if path.startswith("/api/v1/webhooks/"):  # providers call these without a key
                assert operation["security"] == [] and "401" not in operation["responses"]
            elif path.startswith("/api/v1/"):
                assert "security" not in operation and "401" in operation["responses"]
            else:
                assert operation["security"] == []


def test_every_error_code_is_in_the_error_schema(doc: dict[str, Any]) -> None:
    codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    assert set(codes) == set(ERROR_STATUS)


def test_message_schema_lists_every_field_the_api_returns(client: Client, doc: dict[str, Any]) -> None:
    message = client.post("/api/v1/messages/send", json=SEND).json()["data"]
    schema = doc["components"]["schemas"]["Message"]
    assert set(message) == set(schema["properties"])
    assert set(schema["required"]) <= set(message)


def test_docs_error_table_matches_the_code() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "gateway.md").read_text(encoding="utf-8")
    documented = {code: int(status) for code, status in re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", text, flags=re.M)}
    assert documented == ERROR_STATUS
