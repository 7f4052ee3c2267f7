"""Request bodies as JSON, strictly: UTF-8 only, no NaN/Infinity, no duplicate keys, no key that
cannot be echoed back (a lone surrogate), an object at the top. Run before a body reaches its
model (validation.py), which never sees these problems."""

from __future__ import annotations

import json
from typing import Any, Final

from lynsms.gateway.errors import InvalidJSON


def parse_json(raw: bytes) -> dict[str, Any]:
    """Strict JSON: UTF-8 only, no NaN/Infinity, no duplicate keys, an object at the top."""
    if not raw.strip():
        raise InvalidJSON("the request body is empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJSON(f"the request body is not valid UTF-8 (byte {exc.start})") from exc
    try:
        data = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidJSON(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidJSON(f"the request body must be a JSON object, got {json_type(data)}")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        if not key.isascii() and not _encodable(key):
            # A field name must be echoed in the error; one that cannot be UTF-8 cannot be.
            raise ValueError(f"the key {key!r} contains an unpaired UTF-16 surrogate")
        result[key] = value
    return result


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.loads with hooks builds a new decoder for every body.
_DECODER: Final = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def json_type(value: object) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
