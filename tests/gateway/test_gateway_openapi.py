"""The OpenAPI document describes every route, schema and error code of the running app."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Route

from lynsms.gateway import api
from lynsms.gateway.errors import ERROR_STATUS
from lynsms.gateway.providers import registry
from lynsms.gateway.providers.names import PROVIDER_NAMES
from lynsms.gateway.validation import REQUEST_MODELS, ListQuery
from tests.gateway.helpers import SEND, Client, FakeAdapter, make_client, make_config


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
    # Imported here, by its only user: ~0.1 s of CPU every xdist worker would pay while collecting.
    import openapi_spec_validator

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


def documented_paths(route: Route) -> list[str]:
    """The document's paths for ``route``: itself, or one per provider for the delivery-report
    route, whose request content types differ by provider."""
    if route.path == "/api/v1/webhooks/{provider}":
        return [route.path.replace("{provider}", name) for name in PROVIDER_NAMES]
    return [route.path]


def test_every_route_of_the_app_is_documented_with_its_methods(doc: dict[str, Any]) -> None:
    expected: list[str] = []
    for route in api.routes:
        assert isinstance(route, Route)
        for path in documented_paths(route):
            assert path in doc["paths"], path
            documented = {method.upper() for method in doc["paths"][path]}
            assert (route.methods or set()) - {"HEAD"} == documented, path
            expected.append(path)
    assert sorted(doc["paths"]) == sorted(expected)


def test_each_report_webhook_lists_exactly_its_providers_content_types(doc: dict[str, Any]) -> None:
    for name in PROVIDER_NAMES:
        content = doc["paths"][f"/api/v1/webhooks/{name}"]["post"]["requestBody"]["content"]
        assert list(content) == list(registry.provider(name).report_media_types)
    assert list(doc["paths"]["/api/v1/webhooks/sinch"]["post"]["requestBody"]["content"]) == ["application/json"]


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


def test_request_schemas_are_the_validating_models(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for name, model in REQUEST_MODELS.items():
        schema = schemas[name]
        assert schema["additionalProperties"] is False
        assert list(schema["properties"]) == [info.alias or key for key, info in model.model_fields.items()]
        assert set(schema["required"]) == {
            info.alias or key for key, info in model.model_fields.items() if info.is_required()
        }
    listed = next(iter(doc["paths"]["/api/v1/messages"].values()))["parameters"]
    assert [p["name"] for p in listed] == list(ListQuery.model_fields)
    limit = listed[0]["schema"]
    assert (limit["type"], limit["minimum"], limit["maximum"]) == ("integer", 1, 100)
    assert all("null" not in str(p["schema"]) for p in listed)  # a query value is absent or text


def test_every_example_is_valid_against_its_schema(doc: dict[str, Any]) -> None:
    registry = Registry().with_resource("doc", Resource.from_contents(doc, default_specification=DRAFT202012))

    def check(schema: dict[str, Any], example: Any, where: str) -> None:
        validator = Draft202012Validator(schema, registry=registry)
        assert not list(validator.iter_errors(example)), where

    found = 0
    for name, schema in doc["components"]["schemas"].items():
        for example in schema.get("examples", []):
            check({"$ref": f"doc#/components/schemas/{name}"}, example, name)
            found += 1
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                media = response.get("content", {}).get("application/json", {})
                if "example" in media:
                    check(_rebase(media["schema"]), media["example"], f"{path} {status}")
                    found += 1
    assert found >= 5


def _rebase(node: Any) -> Any:
    """Local $refs ("#/components/...") pointed at the registered document."""
    if isinstance(node, dict):
        return {k: ("doc" + v if k == "$ref" else _rebase(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


def test_sends_declare_the_idempotent_replayed_header(doc: dict[str, Any]) -> None:
    for path in ("/api/v1/messages/send", "/api/v1/messages/bulk"):
        created = doc["paths"][path]["post"]["responses"]["201"]
        assert created["headers"]["Idempotent-Replayed"]["schema"] == {"const": "true"}
        (key,) = [p for p in doc["paths"][path]["post"]["parameters"] if p["name"] == "Idempotency-Key"]
        assert re.fullmatch(key["schema"]["pattern"], "order-1") and not re.fullmatch(key["schema"]["pattern"], "a\tb")


def test_provider_and_route_id_are_narrowed_to_the_configuration(fakes: dict[str, FakeAdapter]) -> None:
    config = make_config(routes={}, providers={"twilio": {"price": 0.05}, "sinch": {"price": 0.04}})
    with make_client(config, {k: v for k, v in fakes.items() if k in ("twilio", "sinch")}) as client:
        send = client.get("/api/openapi.json").json()["components"]["schemas"]["SendRequest"]["properties"]
    assert send["route_id"] == {"type": "null"}  # no routes: only "not given" is valid
    assert send["provider"] == {"oneOf": [{"enum": ["twilio", "sinch"]}, {"type": "null"}]}
