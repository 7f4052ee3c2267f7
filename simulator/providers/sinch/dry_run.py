"""Sinch's ``POST /xms/v1/{id}/batches/dry_run`` (SDK ``batches.dry_run_sms``): the only Sinch call
that says how many parts a text takes. Nothing is sent or stored. The body is validated like a
send; ``per_recipient=true`` adds each recipient's body, part count and encoding (``GSM`` or
``UNICODE``; ``BINARY`` for an ``mt_binary`` batch, always one part) for the first
``number_of_recipients`` (default 100, at most 1000) recipients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator.http import JSONResponse, read_json
from lynsms.simulator.providers.base import BadParam, ProviderError, int_param
from lynsms.simulator.providers.sinch.parse import submissions
from lynsms.simulator.providers.sinch.render import encoding_name, recipient
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.sinch.handlers import Sinch

DEFAULT_SHOWN: Final = 100
MAX_SHOWN: Final = 1000


async def dry_run(sinch: Sinch, request: Request, entry: JournalEntry) -> Response:
    account = sinch.authenticated(request, entry)
    params = request.query_params
    try:
        shown = int_param(params, "number_of_recipients", DEFAULT_SHOWN, 0, MAX_SHOWN)
    except BadParam as exc:
        raise ProviderError(sinch.error(400, str(exc), "syntax_invalid_parameter_format")) from None
    per_recipient = params.get("per_recipient", "false").lower()
    if per_recipient not in ("true", "false"):
        text = "per_recipient: must be true or false"
        raise ProviderError(sinch.error(400, text, "syntax_invalid_parameter_format"), detail=text)
    batch = sinch.read_batch(account, await read_json(request))
    details: list[dict[str, Any]] = []
    total = 0
    for submission in submissions(batch):
        parts, encoding = sinch.shape(submission)
        total += parts
        if len(details) < shown:
            details.append(
                {
                    "recipient": recipient(submission.to),
                    "number_of_parts": parts,
                    "body": submission.body,
                    "encoding": encoding_name(encoding),
                }
            )
    entry.outcome = {"kind": "dry_run"}
    answer: dict[str, Any] = {"number_of_recipients": len(batch.to), "number_of_messages": total}
    if per_recipient == "true":
        answer["per_recipient"] = details
    return JSONResponse(answer)
