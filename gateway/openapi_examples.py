"""Example answers shown in the OpenAPI document, as the API renders them (a test validates each
against its schema): what a reader of /api/openapi.json copies first."""

from __future__ import annotations

from typing import Any, Final

MESSAGE: Final[dict[str, Any]] = {
    "id": "msg_1b2C3d4VyB2pNkX0wnA9aTrLq",
    "object": "message",
    "to": "+12025550143",
    "from": "LynSMS",
    "body": "Your verification code is 482194",
    "status": "sent",
    "cost": 0.0079,
    "currency": "USD",
    "provider": "twilio",
    "provider_message_id": "SM3f2c9a0b1d2e3f4a5b6c7d8e9f0a1b2c",
    "attempts": 1,
    "reference": "signup-9214",
    "segments": 1,
    "encoding": "GSM-7",
    "route_id": None,
    "error": None,
    "created_at": "2026-05-12T11:34:21+00:00",
    "sent_at": "2026-05-12T11:34:21+00:00",
    "updated_at": "2026-05-12T11:34:21+00:00",
    "attempt_log": [
        {
            "provider": "twilio",
            "outcome": "accepted",
            "reason": None,
            "message": None,
            "provider_code": None,
            "http_status": 201,
            "provider_message_id": "SM3f2c9a0b1d2e3f4a5b6c7d8e9f0a1b2c",
            "duration_ms": 41,
            "at": "2026-05-12T11:34:21+00:00",
        }
    ],
}
BULK_RESULT: Final[dict[str, Any]] = {
    "object": "bulk_result",
    "total": 2,
    "sent": 1,
    "failed": 1,
    "messages": [
        {"id": "msg_1b2C3d4aTrLqDh1Z3FcVyB2pN", "to": "+12025550143", "status": "sent", "cost": 0.0079, "error": None},
        {
            "id": "msg_1b2C3d4X0wnA9aTrLqDh1Z3Fc",
            "to": "+1202",
            "status": "failed",
            "cost": 0.0,
            "error": {"code": "invalid_recipient", "message": "'+1202' has an unknown country calling code"},
        },
    ],
}
