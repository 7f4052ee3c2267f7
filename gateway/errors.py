"""Every error the gateway's HTTP API can answer with, and the one table that maps code to status.

    GatewayError                      code, HTTP status, message, extra fields for the envelope
     ├── RequestError                 the request itself is wrong; nothing was stored or sent
     │    ├── InvalidJSON             400 invalid_json
     │    ├── InvalidParameter        400 invalid_parameter          (query string; names ``param``)
     │    ├── InvalidIdempotencyKey   400 invalid_idempotency_key
     │    ├── InvalidReport           400 invalid_report             (a provider webhook that is not its report)
     │    ├── InvalidInbound          400 invalid_inbound            (not the provider's inbound format)
     │    ├── Unauthorized            401 unauthorized               (no or malformed Authorization)
     │    ├── InvalidApiKey           401 invalid_api_key
     │    ├── InvalidSignature        403 invalid_signature          (a forged or unsigned provider webhook)
     │    ├── InvalidCallbackToken    403 invalid_callback_token     (a provider webhook without its URL's token)
     │    ├── NotFound                404 not_found                  (no such route)
     │    ├── MessageNotFound         404 message_not_found
     │    ├── OptOutNotFound          404 opt_out_not_found
     │    ├── PayloadTooLarge         413 payload_too_large
     │    ├── HeadersTooLarge         431 request_header_fields_too_large
     │    ├── UnsupportedMediaType    415 unsupported_media_type
     │    └── ValidationFailed        422 validation_error           (names ``field``)
     ├── IdempotencyConflict          the Idempotency-Key cannot be honoured; nothing was sent
     │    ├── IdempotencyKeyReused    409 idempotency_key_reused
     │    └── IdempotencyInProgress   409 idempotency_key_in_progress
     ├── DeliveryError                a message was stored and routed, and no provider took it
     │    ├── ProviderRejected        422 provider_rejected          (a hard failure stopped the chain)
     │    ├── RecipientOptedOut       422 recipient_opted_out        (the recipient replied STOP; nothing was sent)
     │    └── RoutingExhausted        502 routing_exhausted          (every provider failed retryably)
     ├── InternalError                500 internal_error             (a bug; never a traceback)
     └── Interrupted                  503 interrupted                (a shutdown cut the request short; its
                                                                      messages were parked, see ``messages``)

Delivery errors carry ``message_id`` and ``attempts`` so the customer sees exactly what happened
to the message, which is still stored and fetchable. Per-recipient bulk item codes
(``invalid_recipient``, ``duplicate_recipient``, ``unreachable_recipient``) are never HTTP answers: they appear in a
message's ``error`` object, as do ``provider_rejected``, ``routing_exhausted`` and ``interrupted``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

# code -> HTTP status. docs/gateway.md renders the same table; tests check they agree.
ERROR_STATUS: Final[dict[str, int]] = {
    "invalid_json": 400,
    "invalid_parameter": 400,
    "invalid_idempotency_key": 400,
    "invalid_report": 400,
    "invalid_inbound": 400,
    "unauthorized": 401,
    "invalid_api_key": 401,
    "invalid_signature": 403,
    "invalid_callback_token": 403,
    "not_found": 404,
    "message_not_found": 404,
    "opt_out_not_found": 404,
    "method_not_allowed": 405,
    "idempotency_key_reused": 409,
    "idempotency_key_in_progress": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "request_header_fields_too_large": 431,
    "validation_error": 422,
    "provider_rejected": 422,
    "recipient_opted_out": 422,
    "internal_error": 500,
    "interrupted": 503,
    "routing_exhausted": 502,
}


class GatewayError(Exception):
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    @property
    def status(self) -> int:
        return ERROR_STATUS[self.code]

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


class RequestError(GatewayError):
    pass


class InvalidJSON(RequestError):
    code = "invalid_json"


class InvalidParameter(RequestError):
    code = "invalid_parameter"

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message, param=param)


class InvalidIdempotencyKey(RequestError):
    code = "invalid_idempotency_key"


class Unauthorized(RequestError):
    code = "unauthorized"


class InvalidApiKey(RequestError):
    code = "invalid_api_key"


class InvalidReport(RequestError):
    code = "invalid_report"


class InvalidInbound(RequestError):
    code = "invalid_inbound"


class InvalidSignature(RequestError):
    code = "invalid_signature"


class InvalidCallbackToken(RequestError):
    code = "invalid_callback_token"


class NotFound(RequestError):
    code = "not_found"


class MessageNotFound(RequestError):
    code = "message_not_found"


class OptOutNotFound(RequestError):
    code = "opt_out_not_found"


class PayloadTooLarge(RequestError):
    code = "payload_too_large"


class HeadersTooLarge(RequestError):
    code = "request_header_fields_too_large"


class UnsupportedMediaType(RequestError):
    code = "unsupported_media_type"


class ValidationFailed(RequestError):
    code = "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)
        self.field = field


class IdempotencyConflict(GatewayError):
    pass


class IdempotencyKeyReused(IdempotencyConflict):
    code = "idempotency_key_reused"


class IdempotencyInProgress(IdempotencyConflict):
    code = "idempotency_key_in_progress"


class DeliveryError(GatewayError):
    pass


class ProviderRejected(DeliveryError):
    code = "provider_rejected"


class RecipientOptedOut(DeliveryError):
    code = "recipient_opted_out"


class RoutingExhausted(DeliveryError):
    code = "routing_exhausted"


class InternalError(GatewayError):
    code = "internal_error"


class Interrupted(GatewayError):
    code = "interrupted"


# Starlette raises HTTPException for routing misses; these are the codes they become.
CODE_FOR_HTTP_STATUS: Final[dict[int, str]] = {
    400: "invalid_json",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    431: "request_header_fields_too_large",
}
