"""Pass 2 of scenario checking: the JSON Schema shipped beside this module, with its errors
reworded for people.

The file names no provider: ``"x-each-provider": SCHEMA`` stands for one property per provider
and ``$defs/provider`` gets the names as its enum, both from the one registry of providers, so a
new provider needs no edit here. jsonschema's own messages ("... is not valid under any of the given schemas")
name no key and suggest nothing; here each error names its key path, unknown keys get a "did you
mean", and an ``anyOf`` failure is explained through the branch the value was evidently meant for
(or the schema's ``x-message`` when none fits).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any, cast

import jsonschema

from lynsms.gateway.providers.names import PROVIDER_NAMES
from lynsms.simulator.scenario.paths import KeyPath


def _with_providers(node: Any) -> Any:
    if isinstance(node, list):
        return [_with_providers(item) for item in node]
    if not isinstance(node, dict):
        return node
    built = {key: _with_providers(value) for key, value in node.items() if key != "x-each-provider"}
    if "x-each-provider" in node:
        each = _with_providers(node["x-each-provider"])
        built["properties"] = {**dict.fromkeys(PROVIDER_NAMES, each), **built.get("properties", {})}
    return built


def _schema() -> dict[str, Any]:
    text = resources.files("lynsms.simulator.scenario").joinpath("scenario.schema.json").read_text("utf-8")
    schema: dict[str, Any] = _with_providers(json.loads(text))
    schema["$defs"]["provider"]["enum"] = list(PROVIDER_NAMES)
    return schema


SCHEMA: dict[str, Any] = _schema()
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

_KINDS = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    dict: "a mapping",
    list: "a list",
    type(None): "null",
}
_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def schema_problems(data: Any) -> Iterator[tuple[KeyPath, str]]:
    for error in _VALIDATOR.iter_errors(data):
        yield from _explain(error)


def _explain(error: jsonschema.ValidationError) -> Iterator[tuple[KeyPath, str]]:
    path: KeyPath = tuple(error.absolute_path)
    schema, value = cast(dict[str, Any], error.schema), cast(Any, error.instance)
    if error.validator == "additionalProperties":
        known = list(schema.get("properties", {}))
        for key in sorted(set(value) - set(known)):
            if path == ("providers",):
                yield path + (key,), f"unknown provider {key!r}; expected one of {', '.join(PROVIDER_NAMES)}"
            else:
                yield path + (key,), f"unknown key {key!r}{_hint(key, known)}"
    elif error.validator == "type":
        expected = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        yield path, f"expected {' or '.join(_TYPES[t] for t in expected)}, got {_kind(value)}"
    elif error.validator == "enum":
        what = "unknown reject reason" if path[-1:] == ("reject",) else "unknown value"
        yield path, f"{what} {value!r}; expected one of {', '.join(map(str, schema['enum']))}"
    elif error.validator == "required":
        missing = [k for k in schema["required"] if k not in value]
        yield path, f"missing required key {missing[0]!r}"
    elif error.validator == "const":
        yield path, f"must be {json.dumps(schema['const'])}"
    elif error.validator == "anyOf":
        branch = _branch(schema["anyOf"], value)
        if branch is not None and error.context:
            inner = [e for e in error.context if e.relative_schema_path[0] == branch]
            for sub in inner:
                yield from _explain(sub)
            return
        message = (
            f"{schema.get('x-message', 'has an unexpected shape')}, got {_kind(value)} {json.dumps(value, default=str)}"
        )
        if path[-1:] in (("to",), ("from",)) and isinstance(value, int):
            message += f" (quote phone numbers: '+{value}')"
        yield path, message
    else:
        yield path, error.message


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return _resolve(SCHEMA["$defs"][ref.rsplit("/", 1)[-1]]) if isinstance(ref, str) else schema


def _branch(branches: list[dict[str, Any]], value: Any) -> int | None:
    """The one anyOf branch a mapping or list was evidently meant for, to explain its errors in depth."""
    want = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else None
    if want is None:
        return None
    fits = [i for i, b in enumerate(branches) if _resolve(b).get("type") == want]
    if want == "object" and len(fits) > 1:
        fits = [i for i in fits if set(_resolve(branches[i]).get("required", ())) <= set(value)]
    return fits[0] if len(fits) == 1 else None


def _hint(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f"; expected one of {', '.join(known)}"
