"""A provider's delivery report, read into one normalised ``Report``, and the helpers every
provider module's report parser shares (pure: no I/O, no store).

A report names the message the way its provider knows it (the ids the adapters record as
``provider_message_id``) and says where the message got to, in the gateway's words:

    provider word ──> status
     in flight (Twilio sent, Sinch Dispatched, Infobip PENDING, ClickSend 200)   sent
     reached the handset                                                           delivered
     reached the network, not the handset (absent, expired, unknown error)         undelivered
     refused: never left the provider, or the network turned it away for good      failed
     queued / accepted / anything we cannot place                                  None: recorded, changes nothing

Each provider module parses its own wire (``parse_reports``); what polling fetches goes through
the same parsers, so a polled status and a pushed one are one thing. A body that is not the
provider's report shape raises ``ReportError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

Outcome = Literal["sent", "delivered", "undelivered", "failed"]
FINAL: Final[frozenset[str]] = frozenset({"delivered", "undelivered", "failed"})


class ReportError(ValueError):
    """The body is not a delivery report of that provider."""


@dataclass(frozen=True)
class Report:
    provider: str
    # How the provider names the message; None only for a Sinch batch report without recipients.
    provider_message_id: str | None
    status: Outcome | None  # None: informational, the message's status stays as it is
    provider_status: str  # the provider's own word, kept for the record
    error_code: str | None = None
    error_text: str | None = None
    at: str | None = None  # when the provider says the status was reached, ISO 8601 UTC
    batch_id: str | None = None  # Sinch: the batch, when the report covers it without recipients
    # The recipient, E.164, where the report says: it names a message whose provider id the
    # gateway never learnt (it stopped while the provider was answering; see Store.unconfirmed_named).
    to: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "provider_message_id": self.provider_message_id,
            "report_status": self.status,
            "provider_status": self.provider_status,
            "error_code": self.error_code,
            "error_text": self.error_text,
            "provider_at": self.at,
        }


# ---- shared reading --------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def iso_text(text: object) -> str | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return iso(datetime.fromisoformat(text))
    except (ValueError, OverflowError):  # "0001-01-01T00:00:00+05:00" is before year 1 in UTC
        return None


def unix_text(text: str | None) -> str | None:
    """Unix seconds as ISO 8601, or None for anything else, including a time no datetime holds."""
    if not text or not (text.isascii() and text.isdecimal()):
        return None
    try:
        return iso(datetime.fromtimestamp(int(text), UTC))
    except (ValueError, OverflowError, OSError):
        return None


def text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, (dict, list, bool)) or value == "":
        return None
    return str(value)


def required(data: Mapping[str, Any], key: str, provider: str) -> str:
    value = text(data, key)
    if value is None:
        raise ReportError(f"a {provider} delivery report needs {key!r}")
    return value


def mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ReportError(f"{what} must be an object, not {type(data).__name__}")
    return data


def failure_only(status: Outcome | None, code: str | None, text: str | None) -> tuple[str | None, str | None]:
    # Only a message that did not get through has an error; "code 0" on a delivery is not one.
    return (code, text) if status in ("undelivered", "failed") else (None, None)
