"""``CallbackAuth``: the token in every callback URL the gateway hands a provider, checked on the
way back in, as real gateways do for providers that do not sign their callbacks.

Sinch, Infobip and ClickSend send SMS delivery reports (and inbound messages) unsigned, and the
ids in them are not secret (the API and the customer webhooks show them). So each URL the gateway
gives a provider, per message or registered for the account, carries ``?token=``: an HMAC of the
provider's name under the installation's report secret (configured as ``report_secret``, else
generated once per installation and kept with the database). Whoever can post a report has been
handed the URL; anyone else gets 403 ``invalid_callback_token`` before the body is read. One
token per provider (per account), not per message: a Sinch or Infobip batch carries one URL.

Every provider-facing route (``/api/v1/webhooks/{provider}`` and whatever else a provider calls,
e.g. inbound messages) checks it the same way: ``callback_auth.check(request, provider)``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final
from urllib.parse import quote

from starlette.requests import Request

from lynsms.gateway.errors import InvalidCallbackToken

PARAM: Final = "token"
REPORT_PATH: Final = "/api/v1/webhooks/{provider}"


class CallbackAuth:
    def __init__(self, secret: str, public_url: str | None) -> None:
        self._secret = secret.encode()
        self.public_url = public_url

    def token(self, provider: str) -> str:
        return hmac.new(self._secret, f"callback:{provider}".encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, provider: str, path: str = REPORT_PATH) -> str | None:
        """The URL to hand ``provider`` for ``path`` (None without a public URL: nowhere to call)."""
        if self.public_url is None:
            return None
        return f"{self.public_url}{path.format(provider=quote(provider))}?{PARAM}={self.token(provider)}"

    def report_urls(self, providers: list[str]) -> dict[str, str]:
        """Each provider's delivery-report URL (empty without a public URL)."""
        return {name: url for name in providers if (url := self.url(name)) is not None}

    def check(self, request: Request, provider: str) -> None:
        """Raise 403 unless ``request`` carries ``provider``'s token."""
        given = request.query_params.get(PARAM, "")
        if not hmac.compare_digest(given.encode(), self.token(provider).encode()):
            what = "is missing" if not given else "is wrong"
            raise InvalidCallbackToken(
                f"the {PARAM} query parameter {what}: {provider} callbacks are accepted only at the URL "
                "the gateway gave the provider"
            )
