"""``POST /api/v1/webhooks/{provider}``: provider delivery reports in.

Providers authenticate with no Bearer key: every URL the gateway hands a provider carries a token
(``delivery.callback_auth``), and a report without it is refused with 403 ``invalid_callback_token``
before its body is read. Twilio also signs its callbacks (``X-Twilio-Signature`` over
the URL it was given, i.e. ``public_url`` + path + query, and the form): a forged or unsigned one
is refused with 403 ``invalid_signature`` before anything is read into the store. Sinch, Infobip
and ClickSend do not sign SMS reports, and their ids are not secret: the token is what keeps
anyone who knows a message id from setting its status.

The answer is 200 for every well-formed report, including one for a message the gateway does
not know (yet): providers retry non-2xx answers, and retrying cannot make an unknown id known.
Such reports are parked for a while instead (see ``delivery.status``). A body that is not the
provider's report is 400 ``invalid_report``, so a misconfigured sender learns it at once.

Which content types a provider's reports come in, how they are parsed and verified: that
provider's module (``providers/<name>.py``, its ``PROVIDER``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request

from lynsms.gateway.config import GatewayConfig
from lynsms.gateway.delivery.tracking import Tracking
from lynsms.gateway.errors import (
    InvalidReport,
    InvalidSignature,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from lynsms.gateway.providers import registry
from lynsms.gateway.providers.base import ReportVerifier
from lynsms.gateway.providers.http import FORM_TYPE
from lynsms.gateway.providers.names import PROVIDER_NAMES
from lynsms.gateway.providers.reports import Report, ReportError

MAX_REPORT_BYTES: Final = 1024 * 1024


async def receive(request: Request) -> dict[str, Any]:
    """Parse, verify and apply one provider webhook; the ``data`` of the 200 answer."""
    provider = request.path_params["provider"]
    if provider not in PROVIDER_NAMES:
        raise NotFound(f"no such provider webhook: {provider!r} (expected one of {', '.join(PROVIDER_NAMES)})")
    spec = registry.provider(provider)
    tracking: Tracking = request.app.state.tracking
    tracking.callbacks.check(request, provider)
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media not in spec.report_media_types:
        raise UnsupportedMediaType(
            f"{provider} delivery reports are {' or '.join(spec.report_media_types)}, not {media or 'untyped'}"
        )
    raw = await _read(request)
    if media == FORM_TYPE:
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidReport(f"the {provider} report is not a UTF-8 form: {exc}") from None
        if spec.verify_report is not None:
            _verify(request, tracking.config, spec.verify_report, pairs)
        data: Any = dict(pairs)
    else:
        try:
            # orjson: a lone surrogate ("\ud800") or nesting past 1,024 levels is a parse error
            # here, not a string the store cannot encode or a RecursionError.
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidReport(f"the {provider} report is not JSON: {exc}") from None
    try:
        reports: list[Report] = spec.parse_reports(data)
    except ReportError as exc:
        raise InvalidReport(str(exc)) from None
    applied = tracking.applier.apply(reports, "webhook")
    return {"object": "report_receipt", "provider": provider, **applied.to_json()}


async def _read(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():  # counted as it arrives: Content-Length can lie
        size += len(chunk)
        if size > MAX_REPORT_BYTES:
            raise PayloadTooLarge(f"a delivery report is at most {MAX_REPORT_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _verify(request: Request, config: GatewayConfig, verify: ReportVerifier, pairs: Sequence[tuple[str, str]]) -> None:
    provider = config.providers.get(request.path_params["provider"])
    credentials = provider.settings.credentials if provider else {}
    # Signed over the URL the provider was given: public_url + path + query.
    base = config.public_url or str(request.base_url).rstrip("/")
    url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    problem = verify(credentials, url, pairs, request.headers)
    if problem is not None:
        raise InvalidSignature(problem)
