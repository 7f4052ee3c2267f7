"""Signatures: the ones the gateway puts on customer webhooks, and Twilio's on its callbacks.

Customer webhooks carry ``LynSMS-Signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is
HMAC-SHA256(secret, f"{t}.{raw body}") (Stripe's scheme: the timestamp inside the MAC lets a
receiver refuse replays older than a tolerance, and ``v1`` leaves room for a new scheme later).
Each attempt is signed afresh, so a retry hours later still passes a five-minute tolerance.

With no secret configured, the secret of the API key that sent the message is derived from the
key itself, so it is stable across restarts and computable by whoever holds the key:
``"whsec_" + HMAC-SHA256(key=api_key, msg="lynsms-webhook-secret").hexdigest()``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Sequence
from typing import Final

HEADER: Final = "LynSMS-Signature"
SCHEME: Final = "v1"
DEFAULT_TOLERANCE: Final = 300  # seconds a receiver should accept between signing and receipt
_DERIVATION: Final = b"lynsms-webhook-secret"


def derive_secret(api_key: str) -> str:
    return "whsec_" + hmac.new(api_key.encode(), _DERIVATION, hashlib.sha256).hexdigest()


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``LynSMS-Signature`` header value for ``body``."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},{SCHEME}={_mac(secret, t, body)}"


def verify(
    secret: str, body: bytes, header: str, tolerance: float = DEFAULT_TOLERANCE, now: float | None = None
) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of ``now``
    (the receiver's side, used by the tests and shown in the docs)."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        t = int(fields.get("t", [""])[0])
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = _mac(secret, t, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get(SCHEME, []))


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL, then every POST parameter sorted by
    name, as name + value."""
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def twilio_valid(tokens: Sequence[str], url: str, params: Sequence[tuple[str, str]], signature: str | None) -> bool:
    if not signature:
        return False
    presented = signature.encode()
    valid = False
    for token in tokens:  # every candidate, no early exit: timing says nothing about which matched
        if hmac.compare_digest(twilio_signature(token, url, params).encode(), presented):
            valid = True
    return valid
