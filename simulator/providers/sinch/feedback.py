"""Sinch's delivery feedback (``POST /xms/v1/{id}/batches/{batch_id}/delivery_feedback``, SDK
``batches.send_delivery_feedback``): the client confirms which recipients got the message.

Sinch documents ``{"recipients": [...]}``, required even when empty (an empty list confirms the
whole batch, except for a batch sent to a group, which needs at least one number), 202 with no body,
400 ``{code, text}`` and 404. Feedback is only taken for a batch sent with
``feedback_enabled: true``; Sinch publishes no code for the other cases, so they are 400
``syntax_constraint_violation`` here (docs/providers/sinch.md). Each feedback is kept on the
batch's messages (``extra["delivery_feedback"]``) and in the journal entry's outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator.http import read_json
from lynsms.simulator.providers.base import ProviderError
from lynsms.simulator.providers.sinch.parse import Invalid, is_msisdn
from lynsms.simulator.providers.sinch.render import recipient, timestamp
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.sinch.handlers import Sinch


async def send_feedback(sinch: Sinch, request: Request, entry: JournalEntry) -> Response:
    batch = sinch._batch(request, entry)
    data = await read_json(request)
    members = sinch._members(batch)
    try:
        numbers = _recipients(data)
        if not batch.echo.get("feedback_enabled"):
            raise Invalid("syntax_constraint_violation", f"Delivery feedback is not enabled for batch {batch.id}")
        if not numbers and batch.groups:
            raise Invalid("syntax_constraint_violation", "recipients: a batch sent to a group needs at least one")
        known = {recipient(m.to): m for m in members}
        unknown = [n for n in numbers if recipient(n) not in known]
        if unknown:
            raise Invalid("syntax_constraint_violation", f"Recipient {unknown[0]} is not in batch {batch.id}")
    except Invalid as exc:
        raise ProviderError(sinch.error(400, exc.text, exc.code), detail=exc.text) from None
    confirmed = [known[recipient(n)] for n in numbers] if numbers else members
    at = timestamp(sinch.now())
    for message in confirmed:
        message.extra["delivery_feedback"] = at
    entry.outcome = {"kind": "delivery_feedback", "recipients": [recipient(m.to) for m in confirmed]}
    return Response(status_code=202)


def _recipients(data: dict[str, Any]) -> list[str]:
    numbers = data.get("recipients")
    if numbers is None:
        raise Invalid("syntax_constraint_violation", "recipients: must not be null")
    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
        raise Invalid("syntax_invalid_json", "recipients: expected an array of strings")
    for number in numbers:
        if not is_msisdn(number):
            raise Invalid("syntax_invalid_parameter_format", f"Invalid number: {number}")
    return numbers
