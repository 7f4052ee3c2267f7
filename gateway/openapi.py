"""The OpenAPI 3.1 document of the gateway API.

Requests are not described here: their schemas are the pydantic models that validate them
(``validation.REQUEST_MODELS``, ``validation.ListQuery``), rendered by ``model_json_schema``, so
the document and the checks cannot disagree. Responses are written as data; a test checks that
every route of the app appears here and that every error code is listed. ``document(context)``
narrows ``provider`` and ``route_id`` to what this gateway has configured.

A new endpoint: its request model in validation.py (added to ``REQUEST_MODELS``), its path here.
"""

from __future__ import annotations

from typing import Any

from lynsms.gateway import twoway_api
from lynsms.gateway.errors import ERROR_STATUS
from lynsms.gateway.models import STATUSES
from lynsms.gateway.openapi_examples import BULK_RESULT, MESSAGE
from lynsms.gateway.providers import registry
from lynsms.gateway.providers.names import PROVIDER_NAMES
from lynsms.gateway.validation import IDEMPOTENCY_KEY_PATTERN, REQUEST_MODELS, Context, ListQuery

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "data", "meta"],
        "properties": {"success": {"const": True}, "data": data, "meta": _ref("Meta")},
    }


def _json(
    schema: dict[str, Any],
    description: str,
    example: Any = None,
    headers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    response: dict[str, Any] = {"description": description, "content": {"application/json": media}}
    if headers:
        response["headers"] = headers
    return response


def _ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data, "meta": {"request_id": "req_dXp9kQ2mTn8vLc4ZbR7a"}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


_EVENT_TYPES = ["message.sent", "message.delivered", "message.undelivered", "message.failed"]

SCHEMAS: dict[str, Any] = {
    "Meta": {
        "type": "object",
        "required": ["request_id"],
        "properties": {"request_id": {"type": "string", "pattern": "^req_"}},
    },
    "Error": {
        "type": "object",
        "required": ["success", "error", "meta"],
        "properties": {
            "success": {"const": False},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"enum": sorted(ERROR_STATUS)},
                    "message": {"type": "string"},
                    "field": {"type": "string", "description": "validation_error: the offending body field"},
                    "param": {"type": "string", "description": "invalid_parameter: the offending query parameter"},
                    "message_id": {
                        "type": "string",
                        "description": "provider_rejected, routing_exhausted: the stored message",
                    },
                    "attempts": {"type": "array", "items": _ref("Attempt")},
                },
            },
            "meta": _ref("Meta"),
        },
    },
    "MessageError": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {
                "enum": [
                    "invalid_recipient",
                    "duplicate_recipient",
                    "provider_rejected",
                    "routing_exhausted",
                    "interrupted",
                    "undelivered",
                    "delivery_failed",
                ]
            },
            "message": {"type": "string"},
            "provider": {"type": "string"},
            "reason": {"type": "string"},
            "provider_code": {"type": "string"},
        },
    },
    "Attempt": {
        "type": "object",
        "required": ["provider", "outcome", "duration_ms", "at"],
        "properties": {
            "provider": {"enum": list(PROVIDER_NAMES)},
            "outcome": {"enum": ["accepted", "retryable", "hard"]},
            "reason": _nullable({"type": "string"}),
            "message": _nullable({"type": "string"}),
            "provider_code": _nullable({"type": "string"}),
            "http_status": _nullable({"type": "integer"}),
            "provider_message_id": _nullable({"type": "string"}),
            "duration_ms": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
        },
    },
    "Message": {
        "type": "object",
        "required": [
            "id",
            "object",
            "to",
            "from",
            "body",
            "status",
            "cost",
            "currency",
            "attempts",
            "segments",
            "encoding",
            "created_at",
        ],
        "properties": {
            "id": {"type": "string", "pattern": "^msg_[0-9A-Za-z]{25}$"},
            "object": {"const": "message"},
            "to": {"type": "string"},
            "from": {"type": "string"},
            "body": {"type": "string"},
            "status": {"enum": list(STATUSES)},
            "cost": {"type": "number"},
            "currency": {"const": "USD"},
            "provider": _nullable({"enum": list(PROVIDER_NAMES)}),
            "provider_message_id": _nullable({"type": "string"}),
            "attempts": {"type": "integer", "description": "How many provider attempts were made."},
            "reference": _nullable({"type": "string"}),
            "segments": {"type": "integer", "minimum": 1},
            "encoding": {"enum": ["GSM-7", "UCS-2"]},
            "route_id": _nullable({"type": "integer"}),
            "error": _nullable(_ref("MessageError")),
            "created_at": {"type": "string", "format": "date-time"},
            "sent_at": _nullable({"type": "string", "format": "date-time"}),
            "updated_at": {"type": "string", "format": "date-time"},
            "attempt_log": {"type": "array", "items": _ref("Attempt")},
        },
    },
    "BulkResult": {
        "type": "object",
        "required": ["object", "total", "sent", "failed", "messages"],
        "properties": {
            "object": {"const": "bulk_result"},
            "total": {"type": "integer"},
            "sent": {"type": "integer"},
            "failed": {"type": "integer"},
            "unconfirmed": {"type": "integer", "description": "Items whose provider has not confirmed them yet"},
            "messages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "to", "status", "cost", "error"],
                    "properties": {
                        "id": {"type": "string"},
                        "to": {"type": "string"},
                        "status": {"enum": list(STATUSES)},
                        "cost": {"type": "number"},
                        "error": _nullable(_ref("MessageError")),
                    },
                },
            },
        },
    },
    "Quote": {
        "type": "object",
        "required": ["object", "characters", "encoding", "segments", "units", "currency", "providers"],
        "properties": {
            "object": {"const": "quote"},
            "to": _nullable({"type": "string"}),
            "country": _nullable({"type": "string"}),
            "characters": {"type": "integer"},
            "encoding": {"enum": ["GSM-7", "UCS-2"]},
            "segments": {"type": "integer"},
            "units": {"type": "integer"},
            "parts": {"type": "array", "items": {"type": "string"}},
            "currency": {"const": "USD"},
            "providers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["provider", "price_per_segment", "cost"],
                    "properties": {
                        "provider": {"enum": list(PROVIDER_NAMES)},
                        "price_per_segment": {"type": "number"},
                        "cost": {"type": "number"},
                    },
                },
            },
        },
    },
    "MessageList": {
        "type": "object",
        "required": ["object", "messages", "has_more", "next_cursor"],
        "properties": {
            "object": {"const": "list"},
            "messages": {"type": "array", "items": _ref("Message")},
            "has_more": {"type": "boolean"},
            "next_cursor": _nullable({"type": "string"}),
        },
    },
    "EventList": {
        "type": "object",
        "required": ["object", "message_id", "events"],
        "properties": {
            "object": {"const": "list"},
            "message_id": {"type": "string"},
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "at"],
                    "description": "queued, attempt, sent, failed, delivery_report (every provider report, applied or "
                    "not) and webhook (one per customer event, with its delivery state)",
                    "properties": {
                        "type": {
                            "enum": [
                                "queued",
                                "attempt",
                                "sent",
                                "failed",
                                "unconfirmed",
                                "reconciled",
                                "provider_id_reused",
                                "delivery_report",
                                "webhook",
                            ]
                        },
                        "at": {"type": "string", "format": "date-time"},
                        "status": _nullable({"type": "string"}),
                        "source": {"enum": ["webhook", "poll"]},
                        "applied": {"type": "boolean"},
                        "report_status": _nullable({"enum": ["sent", "delivered", "undelivered", "failed"]}),
                        "provider_status": {"type": "string"},
                        "error_code": _nullable({"type": "string"}),
                        "error_text": _nullable({"type": "string"}),
                        "note": {"type": "string"},
                        "event_id": {"type": "string"},
                        "event_type": {"enum": _EVENT_TYPES},
                        "delivery": {"enum": ["pending", "delivered", "failed"]},
                        "attempts": {"type": "integer"},
                        "last_http_status": _nullable({"type": "integer"}),
                        "last_error": _nullable({"type": "string"}),
                        "next_attempt_at": _nullable({"type": "string"}),
                        "delivered_at": _nullable({"type": "string"}),
                    },
                },
            },
        },
    },
    "ReportReceipt": {
        "type": "object",
        "required": ["object", "provider", "reports", "changed", "recorded", "parked"],
        "properties": {
            "object": {"const": "report_receipt"},
            "provider": {"enum": list(PROVIDER_NAMES)},
            "reports": {"type": "integer"},
            "changed": {"type": "integer", "description": "moved a message's status"},
            "recorded": {"type": "integer", "description": "stored as events only: duplicate, late or informational"},
            "parked": {"type": "integer", "description": "for messages not known (yet); applied when they appear"},
        },
    },
    "ProviderReport": {
        "type": "object",
        "additionalProperties": True,
        "description": "The provider's own format: a Twilio status callback form, a Sinch recipient or batch "
        'report, Infobip {"results": [...]}, a ClickSend receipt (form or JSON).',
    },
    "WebhookEvent": {
        "type": "object",
        "required": ["id", "object", "type", "created_at", "sequence", "message_id", "reference", "data"],
        "properties": {
            "id": {"type": "string", "pattern": "^evt_"},
            "object": {"const": "event"},
            "type": {"enum": _EVENT_TYPES},
            "created_at": {"type": "string", "format": "date-time"},
            "sequence": {"type": "integer", "description": "1, 2, ... per message, in the order delivered"},
            "message_id": {"type": "string"},
            "reference": _nullable({"type": "string"}),
            "data": _ref("Message"),
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "providers"],
        "properties": {
            "status": {"const": "ok"},
            "providers": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "circuit": {"enum": ["closed", "open", "half_open"]},
                        "consecutive_failures": {"type": "integer"},
                        "retry_in_seconds": _nullable({"type": "number"}),
                    },
                },
            },
        },
    },
}

_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN, "examples": ["order-1234-sms"]},
    "description": "A repeat with the same key and body returns the first result and sends nothing.",
}
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "true when this is the stored answer to an earlier request with the same Idempotency-Key",
        "schema": {"const": "true"},
    }
}
_MESSAGE_ID = {"name": "message_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _query_parameters() -> list[dict[str, Any]]:
    schema = ListQuery.model_json_schema()
    return [
        {"name": name, "in": "query", "required": False, "schema": _not_null(_strip_titles(field))}
        for name, field in schema["properties"].items()
    ]


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or text, never null: "X | None = None" is just "optional"."""
    options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **options[0]}
    return {k: v for k, v in schema.items() if not (k == "default" and v is None)}


def _strip_titles(schema: Any) -> Any:
    """pydantic titles every field after its Python name ("Sender" for ``from``): noise here."""
    if isinstance(schema, dict):
        return {key: _strip_titles(value) for key, value in schema.items() if key != "title"}
    if isinstance(schema, list):
        return [_strip_titles(value) for value in schema]
    return schema


def request_schemas(context: Context | None = None) -> dict[str, Any]:
    """The request models' JSON Schemas, ``provider``/``route_id`` narrowed to ``context``."""
    schemas = {
        name: _strip_titles(model.model_json_schema(by_alias=True, mode="validation"))
        for name, model in REQUEST_MODELS.items()
    }
    if context is not None:
        for schema in schemas.values():
            properties = schema["properties"]
            if "provider" in properties:
                properties["provider"] = _nullable({"enum": list(context.providers)})
            if "route_id" in properties:
                routes = sorted(context.routes)
                properties["route_id"] = _nullable({"enum": routes}) if routes else {"type": "null"}
    return schemas


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


def _report_webhook(provider: str) -> dict[str, Any]:
    media_types = registry.provider(provider).report_media_types
    return {
        "post": {
            "operationId": f"receive{provider.capitalize()}DeliveryReport",
            "security": [],
            "summary": f"Delivery reports from {provider}, in its own format (no Bearer key"
            + ("; signed)" if registry.provider(provider).verify_report else ")"),
            "parameters": [
                {
                    "name": "token",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "The token in the callback URL the gateway gave the provider; wrong or missing: 403",
                }
            ],
            "requestBody": {
                "required": True,
                "content": {media: {"schema": _ref("ProviderReport")} for media in media_types},
            },
            "responses": {
                "200": _json(_envelope(_ref("ReportReceipt")), "Accepted, including reports for unknown messages"),
                **_errors(400, 403, 413, 415, 500),
            },
        }
    }


def _paths() -> dict[str, Any]:
    write_errors = _errors(400, 401, 409, 413, 415, 422, 500, 503)
    return {
        "/api/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness and circuit breaker states",
                "security": [],
                "responses": {"200": _json(_envelope(_ref("Health")), "The gateway is up")},
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
            }
        },
        "/api/v1/messages/send": {
            "post": {
                "operationId": "sendMessage",
                "summary": "Send one message",
                "parameters": [_IDEMPOTENCY],
                "requestBody": _body("SendRequest"),
                "responses": {
                    "201": _json(_envelope(_ref("Message")), "Accepted by a provider", _ok(MESSAGE), _REPLAYED),
                    "202": _json(
                        _envelope(_ref("Message")),
                        "Replay of a request a restart cut short: the message is still unconfirmed",
                        headers=_REPLAYED,
                    ),
                    **write_errors,
                    **_errors(502),
                },
            }
        },
        "/api/v1/messages/bulk": {
            "post": {
                "operationId": "sendBulk",
                "summary": "Send one body to up to 1,000 recipients",
                "parameters": [_IDEMPOTENCY],
                "requestBody": _body("BulkRequest"),
                "responses": {
                    "201": _json(
                        _envelope(_ref("BulkResult")),
                        "Every recipient became a message; inspect each item",
                        _ok(BULK_RESULT),
                        _REPLAYED,
                    ),
                    **write_errors,
                },
            }
        },
        "/api/v1/messages/quote": {
            "post": {
                "operationId": "quoteMessage",
                "summary": "Segments, encoding and cost per provider; sends nothing",
                "requestBody": _body("QuoteRequest"),
                "responses": {"200": _json(_envelope(_ref("Quote")), "The quote"), **_errors(400, 401, 413, 415, 422)},
            }
        },
        "/api/v1/messages": {
            "get": {
                "operationId": "listMessages",
                "summary": "Messages, newest first",
                "parameters": _query_parameters(),
                "responses": {"200": _json(_envelope(_ref("MessageList")), "One page"), **_errors(400, 401)},
            }
        },
        "/api/v1/messages/{message_id}": {
            "get": {
                "operationId": "getMessage",
                "summary": "One message",
                "parameters": [_MESSAGE_ID],
                "responses": {"200": _json(_envelope(_ref("Message")), "The message"), **_errors(401, 404)},
            }
        },
        # One path per provider: each takes its reports in its own content types (providers/<name>.py).
        **{f"/api/v1/webhooks/{name}": _report_webhook(name) for name in PROVIDER_NAMES},
        "/api/v1/messages/{message_id}/events": {
            "get": {
                "operationId": "listMessageEvents",
                "summary": "A message's status history",
                "parameters": [_MESSAGE_ID],
                "responses": {
                    "200": _json(_envelope(_ref("EventList")), "Its events, oldest first"),
                    **_errors(401, 404),
                },
            }
        },
    }


def document(context: Context | None = None) -> dict[str, Any]:
    statuses = sorted({*ERROR_STATUS.values(), 409, 502})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LynSMS sending API",
            "version": "1.0.0",
            "description": "The LynSMS Local reference gateway. Error codes: docs/gateway.md.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": {**_paths(), **twoway_api.openapi_paths()},
        # What the gateway POSTs to the customer's webhook URL (signed: LynSMS-Signature).
        "webhooks": {
            "messageEvent": {
                "post": {
                    "operationId": "messageEvent",
                    "summary": "A message changed status",
                    "security": [],
                    "parameters": [
                        {
                            "name": "LynSMS-Signature",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + '.' + body)>",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("WebhookEvent")}},
                    },
                    "responses": {"200": {"description": "Any 2xx acknowledges the event; anything else is retried"}},
                }
            }
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key"}},
            "schemas": {**SCHEMAS, **twoway_api.openapi_schemas(), **request_schemas(context)},
            "responses": {
                f"Error{status}": _json(
                    _ref("Error"), ", ".join(c for c, s in ERROR_STATUS.items() if s == status) or "error"
                )
                for status in statuses
            },
        },
    }
