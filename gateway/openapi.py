"""The OpenAPI 3.1 document of the gateway API, written as data.

Hand-written rather than generated from the handlers: the contract is the spec, and a test
checks that every route of the app appears here and that every error code is listed.
"""

from __future__ import annotations

from typing import Any

from lynsms.gateway import twoway_api
from lynsms.gateway.errors import ERROR_STATUS
from lynsms.gateway.models import STATUSES
from lynsms.gateway.providers.names import PROVIDER_NAMES
from lynsms.gateway.validation import MAX_BODY_CHARS, MAX_LIMIT, MAX_RECIPIENTS, MAX_REFERENCE_CHARS

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


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


_SEND_FIELDS: dict[str, Any] = {
    "from": {
        "type": "string",
        "description": "Up to 11 alphanumeric characters, or a numeric long/short code.",
        "examples": ["LynSMS"],
    },
    "body": {"type": "string", "minLength": 1, "maxLength": MAX_BODY_CHARS},
    "route_id": _nullable({"type": "integer", "description": "A configured route id."}),
    "provider": _nullable({"enum": list(PROVIDER_NAMES)}),
    "reference": _nullable({"type": "string", "maxLength": MAX_REFERENCE_CHARS}),
}
_EVENT_TYPES = ["message.sent", "message.delivered", "message.undelivered", "message.failed"]
_E164 = {"type": "string", "pattern": r"^\+[1-9][0-9]{1,14}$", "examples": ["+12025550143"]}

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
    "SendRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["to", "from", "body"],
        "properties": {"to": _E164, **_SEND_FIELDS},
    },
    "BulkRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["recipients", "from", "body"],
        "properties": {
            "recipients": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": MAX_RECIPIENTS},
            **_SEND_FIELDS,
        },
    },
    "QuoteRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["body"],
        "properties": {"body": _SEND_FIELDS["body"], "to": _nullable(_E164)},
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
    "schema": {"type": "string", "maxLength": 255},
    "description": "A repeat with the same key and body returns the first result and sends nothing.",
}
_MESSAGE_ID = {"name": "message_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


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
                    "201": _json(_envelope(_ref("Message")), "Accepted by a provider"),
                    "202": _json(
                        _envelope(_ref("Message")),
                        "Replay of a request a restart cut short: the message is still unconfirmed",
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
                    "201": _json(_envelope(_ref("BulkResult")), "Every recipient became a message; inspect each item"),
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
                "parameters": [
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 20}),
                    _query("cursor", {"type": "string"}),
                    _query("status", {"enum": list(STATUSES)}),
                    _query("provider", {"enum": list(PROVIDER_NAMES)}),
                    _query("reference", {"type": "string"}),
                    _query("to", _E164),
                ],
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
        "/api/v1/webhooks/{provider}": {
            "post": {
                "operationId": "receiveDeliveryReport",
                "security": [],
                "summary": "Delivery reports from a provider, in its own format (no Bearer key; Twilio's is signed)",
                "parameters": [
                    {"name": "provider", "in": "path", "required": True, "schema": {"enum": list(PROVIDER_NAMES)}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": _ref("ProviderReport")},
                        "application/json": {"schema": _ref("ProviderReport")},
                    },
                },
                "responses": {
                    "200": _json(_envelope(_ref("ReportReceipt")), "Accepted, including reports for unknown messages"),
                    **_errors(400, 403, 404, 413, 415, 500),
                },
            }
        },
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


def document() -> dict[str, Any]:
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
            "schemas": {**SCHEMAS, **twoway_api.openapi_schemas()},
            "responses": {
                f"Error{status}": _json(
                    _ref("Error"), ", ".join(c for c, s in ERROR_STATUS.items() if s == status) or "error"
                )
                for status in statuses
            },
        },
    }
