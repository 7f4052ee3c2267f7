"""Sinch groups (``/xms/v1/{id}/groups``, SDK ``sms.groups``): named sets of numbers a batch can be
sent to by putting the group id in its ``to``.

As Sinch documents them: create (201), list (``page``, ``page_size`` up to 100, newest first), get,
update (``POST``: ``add`` before ``remove``, ``add_from_group``, ``remove_from_group``, ``name``; an
explicit ``null`` name removes it), replace (``PUT``), delete, and members (a bare JSON array of
numbers without ``+``). A number is in a group once; duplicate adds and unknown removes are not
errors. Child groups' members count as the group's own. A group id that is not known answers 404 in
the path, ``403 unknown_group`` when referenced from a body or a batch's ``to``. A scheduled batch
sent to a group follows the group's changes until it goes out (``scheduling.regroup``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator.http import JSONResponse, read_json
from lynsms.simulator.providers.base import BadParam, ProviderError, int_param
from lynsms.simulator.providers.sinch.parse import Invalid, is_msisdn, is_sender
from lynsms.simulator.providers.sinch.render import recipient, timestamp
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.sinch.handlers import Sinch

MAX_NAME: Final = 20
MAX_MEMBERS: Final = 10_000
MAX_CHILDREN: Final = 10
MAX_KEYWORD: Final = 15
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 30, 100
# Sinch's ids (groups and batches alike) are ULIDs: 26 Crockford base32 characters.
_GROUP_ID: Final = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}", re.IGNORECASE)


@dataclass(slots=True)
class Group:
    id: str
    account: str
    created_at: datetime
    modified_at: datetime
    name: str | None = None
    members: dict[str, None] = field(default_factory=dict)  # numbers without '+', in order added
    child_groups: list[str] = field(default_factory=list)
    auto_update: dict[str, Any] | None = None


def looks_like_group(value: str) -> bool:
    return _GROUP_ID.fullmatch(value) is not None


def everyone(sinch: Sinch, group: Group) -> list[str]:
    """The group's numbers, its child groups' included, each once."""
    found = dict(group.members)
    for child_id in group.child_groups:
        child = _groups(sinch).get(child_id)
        if child is not None and child.account == group.account:
            found.update(child.members)
    return list(found)


def with_parents(sinch: Sinch, group_id: str) -> set[str]:
    """``group_id`` and the groups that take its members as a child group."""
    return {group_id} | {g.id for g in _groups(sinch).values() if group_id in g.child_groups}


def expand(sinch: Sinch, account: str, to: Any, missing_ok: bool = False) -> tuple[Any, list[str]]:
    """A batch's ``to`` with its group ids replaced by their members ('+'-prefixed), and those ids.
    Anything that is not a list of strings is left for ``parse_batch`` to refuse. An unknown group
    is ``403 unknown_group``, or with ``missing_ok`` (a group deleted since) empty."""
    if not isinstance(to, list) or not all(isinstance(n, str) for n in to):
        return to, []
    numbers: dict[str, None] = {}
    groups: list[str] = []
    for item in to:
        if is_msisdn(item) or not looks_like_group(item):
            numbers[item] = None
            continue
        found = _groups(sinch).get(item)
        if found is None and missing_ok:
            continue
        group = _owned(sinch, account, item, 403)
        groups.append(group.id)
        numbers.update({"+" + n: None for n in everyone(sinch, group)})
    return list(numbers), groups


async def create(sinch: Sinch, request: Request, entry: JournalEntry) -> Response:
    account = sinch.authenticated(request, entry)
    data = await read_json(request)
    now = sinch.now()
    group = Group(sinch.state.ids.ulid(), account, now, now)
    _apply_whole(sinch, group, data)
    _groups(sinch)[group.id] = group
    entry.outcome = {"kind": "group_created", "group_id": group.id}
    return JSONResponse(group_json(sinch, group), status_code=201)


async def list_groups(sinch: Sinch, request: Request, entry: JournalEntry) -> Response:
    account = sinch.authenticated(request, entry)
    params = request.query_params
    unknown = sorted(name for name in params if name not in ("page", "page_size"))
    if unknown:
        text = f"Unknown query parameter: {unknown[0]}"
        raise ProviderError(sinch.error(400, text, "syntax_invalid_parameter_format"), detail=text)
    try:
        page = int_param(params, "page", 0, 0)
        size = int_param(params, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    except BadParam as exc:
        raise ProviderError(sinch.error(400, str(exc), "syntax_invalid_parameter_format")) from None
    found = [g for g in reversed(_groups(sinch).values()) if g.account == account]  # newest first
    shown = found[page * size : (page + 1) * size]
    body = {"count": len(found), "page": page, "page_size": len(shown), "groups": [group_json(sinch, g) for g in shown]}
    return JSONResponse(body)


async def get(sinch: Sinch, request: Request, entry: JournalEntry) -> Response:
    return JSONResponse(group_json(sinch, _in_path(sinch, request, entry)))


async def members(sinch: Sinch, request: Request, entry: JournalEntry) -> Response:
    return JSONResponse(everyone(sinch, _in_path(sinch, request, entry)))


async def replace(sinch: Sinch, request: Request, entry: JournalEntry) -> Response:
    group = _in_path(sinch, request, entry)
    data = await read_json(request)
    fresh = Group(group.id, group.account, group.created_at, sinch.now())
    _apply_whole(sinch, fresh, data)  # validated in full before the group changes
    _groups(sinch)[group.id] = fresh
    sinch.regroup(group.id)
    return JSONResponse(group_json(sinch, fresh))


async def update(sinch: Sinch, request: Request, entry: JournalEntry) -> Response:
    group = _in_path(sinch, request, entry)
    data = await read_json(request)
    try:
        add = _numbers(data, "add")
        remove = _numbers(data, "remove")
        name = _name(data) if "name" in data else group.name
        auto_update = _auto_update(data.get("auto_update")) if "auto_update" in data else group.auto_update
        add_from = _optional_id(data, "add_from_group")
        remove_from = _optional_id(data, "remove_from_group")
    except Invalid as exc:
        raise ProviderError(sinch.error(400, exc.text, exc.code), detail=exc.text) from None
    copied = everyone(sinch, _owned(sinch, group.account, add_from, 403)) if add_from else []
    dropped = everyone(sinch, _owned(sinch, group.account, remove_from, 403)) if remove_from else []
    result = dict(group.members)
    result.update({recipient(n): None for n in [*add, *copied]})  # adds first, as Sinch documents
    for number in [*remove, *dropped]:
        result.pop(recipient(number), None)
    _check_size(sinch, result)
    group.members, group.name, group.auto_update = result, name, auto_update
    group.modified_at = sinch.now()
    sinch.regroup(group.id)
    return JSONResponse(group_json(sinch, group))


async def delete(sinch: Sinch, request: Request, entry: JournalEntry) -> Response:
    group = _in_path(sinch, request, entry)
    del _groups(sinch)[group.id]
    sinch.regroup(group.id)
    entry.outcome = {"kind": "group_deleted", "group_id": group.id}
    return Response(status_code=200)


def group_json(sinch: Sinch, group: Group) -> dict[str, Any]:
    """Sinch's group object (the SDK's ``GroupResponse``)."""
    data: dict[str, Any] = {"id": group.id}
    if group.name is not None:
        data["name"] = group.name
    data.update(
        size=len(everyone(sinch, group)),
        created_at=timestamp(group.created_at),
        modified_at=timestamp(group.modified_at),
        child_groups=list(group.child_groups),
    )
    if group.auto_update is not None:
        data["auto_update"] = group.auto_update
    return data


def _apply_whole(sinch: Sinch, group: Group, data: dict[str, Any]) -> None:
    """Fill a new (or replacing) group from a create/replace body."""
    try:
        group.name = _name(data)
        numbers = _numbers(data, "members")
        children = data.get("child_groups")
        if children is not None and (not isinstance(children, list) or not all(isinstance(c, str) for c in children)):
            raise Invalid("syntax_invalid_json", "child_groups: expected an array of strings")
        if children is not None and len(children) > MAX_CHILDREN:
            raise Invalid("syntax_constraint_violation", f"child_groups: size must be at most {MAX_CHILDREN}")
        group.auto_update = _auto_update(data.get("auto_update"))
    except Invalid as exc:
        raise ProviderError(sinch.error(400, exc.text, exc.code), detail=exc.text) from None
    group.members = {recipient(n): None for n in numbers}
    _check_size(sinch, group.members)
    group.child_groups = [_owned(sinch, group.account, c, 403).id for c in children or []]


def _check_size(sinch: Sinch, numbers: dict[str, None]) -> None:
    if len(numbers) > MAX_MEMBERS:
        text = f"members: size must be at most {MAX_MEMBERS}"
        raise ProviderError(sinch.error(400, text, "syntax_constraint_violation"), detail=text)


def _name(data: dict[str, Any]) -> str | None:
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise Invalid("syntax_invalid_json", "name: expected a string")
    if name is not None and len(name) > MAX_NAME:
        raise Invalid("syntax_constraint_violation", f"name: size must be at most {MAX_NAME}")
    return name


def _numbers(data: dict[str, Any], key: str) -> list[str]:
    numbers = data.get(key)
    if numbers is None:
        return []
    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
        raise Invalid("syntax_invalid_json", f"{key}: expected an array of strings")
    if len(numbers) > MAX_MEMBERS:
        raise Invalid("syntax_constraint_violation", f"{key}: size must be at most {MAX_MEMBERS}")
    for number in numbers:
        if not is_msisdn(number):
            raise Invalid("syntax_invalid_parameter_format", f"Invalid number: {number}")
    return numbers


def _optional_id(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise Invalid("syntax_invalid_json", f"{key}: expected a string")
    return value


def _auto_update(value: Any) -> dict[str, Any] | None:
    """``{"to", "add": {"first_word", "second_word"}, "remove": {...}}``, keywords one word of at most 15."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("to"), str):
        raise Invalid("syntax_invalid_json", "auto_update: expected an object with a string 'to'")
    if not is_sender(value["to"]) or not value["to"].lstrip("+").isdecimal():
        raise Invalid("syntax_invalid_parameter_format", f"auto_update.to: invalid number {value['to']}")
    result: dict[str, Any] = {"to": value["to"]}
    for part in ("add", "remove"):
        words = value.get(part)
        if words is None:
            continue
        if not isinstance(words, dict) or not isinstance(words.get("first_word"), str):
            raise Invalid("syntax_invalid_json", f"auto_update.{part}: expected an object with 'first_word'")
        kept = {k: words[k] for k in ("first_word", "second_word") if words.get(k) is not None}
        for key, word in kept.items():
            if not isinstance(word, str) or not 1 <= len(word) <= MAX_KEYWORD or " " in word:
                raise Invalid("syntax_constraint_violation", f"auto_update.{part}.{key}: one word of at most 15")
        result[part] = kept
    return result


def _groups(sinch: Sinch) -> dict[str, Group]:
    groups: dict[str, Group] = sinch.state.extra(sinch.name).setdefault("groups", {})
    return groups


def _in_path(sinch: Sinch, request: Request, entry: JournalEntry) -> Group:
    account = sinch.authenticated(request, entry)
    return _owned(sinch, account, request.path_params["group_id"], 404)


def _owned(sinch: Sinch, account: str, group_id: str, status: int) -> Group:
    """The account's group ``group_id``: unknown is a 404 in the path, ``403 unknown_group`` in a body."""
    group = _groups(sinch).get(group_id)
    if group is None or group.account != account:
        if status == 404:
            raise ProviderError(sinch.error(404, f"Group {group_id} not found"), "not_found")
        text = f"Group {group_id} is unknown"
        raise ProviderError(sinch.error(403, text, "unknown_group"), detail=text)
    return group
