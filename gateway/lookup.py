"""Number lookup through a provider, cached: ``POST /api/v1/lookup`` and bulk ``"lookup": true``.

    twilio   GET  /v2/PhoneNumbers/{number}?Fields=line_type_intelligence,line_status   one number a request
    sinch    POST /v2/projects/{project_id}/lookups {"number", "features": ["LineType"]} one number a request
    infobip  POST /number/1/query {"to": [...]}                                           up to 1,000 a request

Each answer becomes one result per number: ``number, valid, type (mobile, landline, voip,
unknown), carrier, country, reachable, ported, provider``. Numbers that are not E.164 never
reach a provider: they get a 422 item. A provider failure (timeout, 5xx) gives a 502 item for
each of its numbers; the request itself still succeeds. Results are cached per (provider,
number) for ``two_way.lookup_ttl_seconds``. The lookup host is the provider's ``base_url`` unless
its credentials name a ``lookup_base_url`` (Twilio's lookups.twilio.com, Sinch's lookup.api.sinch.com).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import phonenumbers

from lynsms.gateway.config import GatewayConfig
from lynsms.gateway.providers import http
from lynsms.gateway.providers.adapter import HttpAdapter
from lynsms.gateway.providers.base import Failed, ProviderAdapter
from lynsms.gateway.store.inbound import TwoWayRows

MAX_NUMBERS: Final = 1000
CONCURRENCY: Final = 16  # lookups in flight to a provider that takes one number a request
LOOKUP_PROVIDERS: Final = ("infobip", "twilio", "sinch")  # infobip first: it batches
INFOBIP_BATCH: Final = 1000

Result = dict[str, Any]
# Syntax only: whether a well-formed number exists is the provider's to say (valid: false).
_E164: Final = re.compile(r"\+[1-9][0-9]{1,14}")


class LookupUnavailable(ValueError):
    """No configured provider can look numbers up (or the one asked for cannot)."""


def _errors(provider: str) -> http.ErrorFormat:
    from lynsms.gateway.providers import infobip, sinch, twilio

    formats: dict[str, http.ErrorFormat] = {"twilio": twilio.ERRORS, "sinch": sinch.ERRORS, "infobip": infobip.ERRORS}
    return formats[provider]


def _base(adapter: HttpAdapter) -> str:
    return (adapter.settings.credentials.get("lookup_base_url") or adapter.base_url).rstrip("/")


def _region(calling_code: Any) -> str | None:
    code = str(calling_code or "")
    if not (code.isascii() and code.isdecimal() and len(code) <= 3):
        return None
    region = phonenumbers.region_code_for_country_code(int(calling_code))
    return None if region == phonenumbers.UNKNOWN_REGION else region


def _item(number: str, provider: str, **facts: Any) -> Result:
    base = {"number": number, "valid": False, "type": "unknown", "carrier": None, "country": None}
    return {**base, "reachable": False, "ported": False, "provider": provider, "status": 200, **facts}


def _failed(number: str, provider: str, failure: Failed) -> Result:
    error = {"code": "lookup_failed", "message": f"{provider}: {failure.message}", "reason": failure.reason}
    return {"number": number, "provider": provider, "status": 502, "error": error}


# ---- per provider: the request and the answer ------------------------------------------------------

_TWILIO_TYPES: Final = {"mobile": "mobile", "landline": "landline", "fixedVoip": "voip", "nonFixedVoip": "voip"}
_SINCH_TYPES: Final = {"Mobile": "mobile", "Landline": "landline", "VoIP": "voip"}


async def _one_by_one(numbers: Sequence[str], one: Callable[[str], Awaitable[Result]]) -> list[Result]:
    """``one`` for each number, ``CONCURRENCY`` at a time, results in order."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def gated(number: str) -> Result:
        async with gate:
            return await one(number)

    return list(await asyncio.gather(*(gated(n) for n in numbers)))


async def _twilio(adapter: HttpAdapter, numbers: Sequence[str]) -> list[Result]:
    authorization = getattr(adapter, "authorization", "")

    async def one(number: str) -> Result:
        url = f"{_base(adapter)}/v2/PhoneNumbers/{quote(number)}?Fields=line_type_intelligence,line_status"
        reply = await http.exchange(
            adapter.wire, url, _errors("twilio"), headers={"Authorization": authorization}, method="GET"
        )
        if isinstance(reply, Failed):
            return _failed(number, "twilio", reply)
        data = reply.data if isinstance(reply.data, dict) else {}
        line = data.get("line_type_intelligence") or {}
        status = (data.get("line_status") or {}).get("status")
        valid = data.get("valid") is True
        return _item(
            number,
            "twilio",
            valid=valid,
            type=_TWILIO_TYPES.get(str(line.get("type")), "unknown"),
            carrier=line.get("carrier_name"),
            country=data.get("country_code"),
            reachable=valid and status not in ("unreachable", "inactive"),
        )

    return await _one_by_one(numbers, one)


async def _sinch(adapter: HttpAdapter, numbers: Sequence[str]) -> list[Result]:
    credentials = adapter.settings.credentials
    project = credentials.get("project_id") or credentials.get("service_plan_id", "")
    token = getattr(adapter, "token", None)

    async def one(number: str) -> Result:
        bearer = await token.bearer() if token is not None else credentials.get("api_token", "")
        if isinstance(bearer, Failed):
            return _failed(number, "sinch", bearer)
        reply = await http.exchange(
            adapter.wire,
            f"{_base(adapter)}/v2/projects/{project}/lookups",
            _errors("sinch"),
            headers={"Authorization": f"Bearer {bearer}"},
            json_body={"number": number, "features": ["LineType"]},
        )
        if isinstance(reply, Failed):
            if reply.http_status == 400:  # INVALID_ARGUMENT: not a number Sinch knows
                return _item(number, "sinch")
            return _failed(number, "sinch", reply)
        data = reply.data if isinstance(reply.data, dict) else {}
        line = data.get("line") or {}
        return _item(
            number,
            "sinch",
            valid=True,
            type=_SINCH_TYPES.get(str(line.get("type")), "unknown"),
            carrier=line.get("carrier"),
            country=data.get("countryCode"),
            reachable=not line.get("error"),
            ported=line.get("ported") is True,
        )

    return await _one_by_one(numbers, one)


async def _infobip(adapter: HttpAdapter, numbers: Sequence[str]) -> list[Result]:
    authorization = getattr(adapter, "authorization", "")

    async def batch(chunk: Sequence[str]) -> list[Result]:
        reply = await http.exchange(
            adapter.wire,
            f"{_base(adapter)}/number/1/query",
            _errors("infobip"),
            headers={"Authorization": authorization},
            json_body={"to": [n.lstrip("+") for n in chunk]},
        )
        if isinstance(reply, Failed):
            return [_failed(n, "infobip", reply) for n in chunk]
        results = reply.data.get("results") if isinstance(reply.data, dict) else None
        by_number = {str(r.get("to", "")).lstrip("+"): r for r in results or [] if isinstance(r, dict)}
        found = []
        for number in chunk:
            entry = by_number.get(number.lstrip("+"))
            if entry is None:
                found.append(_failed(number, "infobip", http.malformed("no result for this number")))
                continue
            status = (entry.get("status") or {}).get("groupName")
            error = entry.get("error") or {}
            # An HLR knows mobiles only: an unknown subscriber is an invalid number or a landline.
            known = error.get("name") != "EC_UNKNOWN_SUBSCRIBER"
            network = entry.get("portedNetwork") if entry.get("ported") else entry.get("originalNetwork")
            found.append(
                _item(
                    number,
                    "infobip",
                    valid=known,
                    type="mobile" if known else "unknown",
                    carrier=(network or {}).get("networkName"),
                    country=_region((entry.get("originalNetwork") or {}).get("countryPrefix")),
                    reachable=status == "DELIVERED",
                    ported=entry.get("ported") is True,
                )
            )
        return found

    chunks = [numbers[i : i + INFOBIP_BATCH] for i in range(0, len(numbers), INFOBIP_BATCH)]
    return [r for part in await asyncio.gather(*(batch(c) for c in chunks)) for r in part]


_CLIENTS: Final[dict[str, Callable[[HttpAdapter, Sequence[str]], Awaitable[list[Result]]]]] = {
    "twilio": _twilio,
    "sinch": _sinch,
    "infobip": _infobip,
}


class Lookups:
    def __init__(self, config: GatewayConfig, adapters: Mapping[str, ProviderAdapter], rows: TwoWayRows) -> None:
        self.config = config
        self.adapters = adapters
        self.rows = rows

    def provider(self, wanted: str | None) -> str:
        usable = [n for n in LOOKUP_PROVIDERS if isinstance(self.adapters.get(n), HttpAdapter)]
        if wanted is not None:
            if wanted not in usable:
                raise LookupUnavailable(
                    f"{wanted!r} cannot look numbers up here; use one of {', '.join(usable) or 'none configured'}"
                )
            return wanted
        chosen = self.config.two_way.lookup_provider
        if chosen is not None and chosen in usable:
            return chosen
        if not usable:
            raise LookupUnavailable("no configured provider offers number lookup (twilio, sinch or infobip)")
        return usable[0]

    async def lookup(self, numbers: Sequence[str], provider: str | None = None) -> list[Result]:
        """One result per number, in order; numbers repeated in the request are looked up once."""
        name = self.provider(provider)
        results: dict[str, Result] = {}
        for number in numbers:
            if not _E164.fullmatch(number):
                message = f"{number!r} is not an E.164 number: a leading + and digits only, e.g. +12025550143"
                results[number] = {
                    "number": number,
                    "provider": name,
                    "status": 422,
                    "error": {"code": "invalid_number", "message": message},
                }
        wanted = list(dict.fromkeys(n for n in numbers if n not in results))
        cached = self.rows.cached_lookups(name, wanted)
        results.update(cached)
        missing = [n for n in wanted if n not in cached]
        if missing:
            adapter = self.adapters[name]
            assert isinstance(adapter, HttpAdapter)
            fresh = await _CLIENTS[name](adapter, missing)
            results.update((r["number"], r) for r in fresh)
            self.rows.cache_lookups(
                name, [r for r in fresh if r["status"] == 200], self.config.two_way.lookup_ttl_seconds
            )
        return [results[n] for n in numbers]
