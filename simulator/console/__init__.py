"""The QA console at /_sim/: a live page over the messages, the journal and the controls.

The page (``static/console/``: plain HTML, CSS and JS, no build step) loads a snapshot of every row
from ``GET /_sim/console/rows`` and then follows ``GET /_sim/events`` (``feed``); everything it
shows or does goes through the JSON endpoints here and the control API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from lynsms.gateway.providers.names import PROVIDER_NAMES
from lynsms.simulator.console import controls
from lynsms.simulator.console.export import export_scenario
from lynsms.simulator.console.feed import Feed
from lynsms.simulator.console.gateway import GatewayLink
from lynsms.simulator.console.rows import (
    JOURNAL_FIELDS,
    ROW_FIELDS,
    STATUSES,
    as_dict,
    entry_rows,
    journal_summary,
    message_row,
    segment_map,
    snapshot,
)
from lynsms.simulator.decision import DeliveryPlan
from lynsms.simulator.messages import REJECT_REASONS
from lynsms.simulator.scenario import ScenarioError
from lynsms.simulator.scenario import load as load_scenario_file
from lynsms.simulator.scenario import parse as parse_scenario

if TYPE_CHECKING:
    from lynsms.simulator.app import Simulator
    from lynsms.simulator.state import JournalEntry

_STATIC = resources.files("lynsms.simulator").joinpath("static/console")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
MARKABLE = ("delivered", "undelivered", "failed")


class Console:
    """The console's server side for one simulator: its feed, switches and gateway link."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.feed = Feed(sim.state)
        self.switches: dict[str, controls.Switch] = {}
        # Set by ``lynsms up``: where the gateway that sends to this simulator listens.
        self.gateway: GatewayLink | None = None

    def reset(self) -> None:
        self.switches = {}

    def detail(self, row_id: str) -> dict[str, Any] | None:
        """Everything known about one row: the request and answer, the decision and its rule, the
        reports and callbacks, the segment map, and the journal entries that name it."""
        state = self.sim.state
        message = state.messages.get(row_id)
        entries = [e for e in state.journal if row_id in e.message_ids]
        origin: JournalEntry | None = next((e for e in entries if e.method not in ("CALLBACK", "INBOUND")), None)
        if message is not None:
            row = as_dict(message_row(message, origin.seq if origin else None))
            detail: dict[str, Any] = {"row": row, "message": message.to_json(), "reports": message.reports}
        else:
            origin = self._origin_of(row_id)
            if origin is None:
                inbound = next((e for e in entries if e.method == "INBOUND"), None)
                if inbound is None:
                    return None
                row = as_dict(next(iter(entry_rows(inbound))))
                return {
                    "row": row,
                    "segment_map": segment_map(row["body"] or ""),
                    "pushes": [_entry(e) for e in entries],
                }
            found = next((r for r in entry_rows(origin) if r[0] == row_id), None)
            if found is None:
                return None
            row = as_dict(found)
            detail = {"row": row, "message": None, "reports": []}
        detail["segment_map"] = segment_map(row["body"] or "")
        detail["request"] = _entry(origin) if origin is not None else None
        detail["callbacks"] = [_entry(e) for e in entries if e.method == "CALLBACK"]
        detail["rule"] = self._rule(origin.outcome.get("rule") if origin else None, row["provider"])
        return detail

    def _origin_of(self, row_id: str) -> JournalEntry | None:
        if not row_id.startswith("r") or "-" not in row_id:
            return None
        seq = row_id[1:].split("-", 1)[0]
        return next((e for e in self.sim.state.journal if str(e.seq) == seq), None)

    def _rule(self, name: str | None, provider: str | None) -> dict[str, Any] | None:
        if name is None:
            return None
        for loaded in self.sim.engine.loaded():
            for rule in loaded.scenario.rules.get(provider or "", ()):
                if rule.name == name:
                    data = rule.to_json(loaded.hits[rule.provider][rule.index])
                    return {"scenario": loaded.scenario.name, "source": loaded.scenario.source, **data}
        return {"name": name, "scenario": None}


def _entry(entry: JournalEntry) -> dict[str, Any]:
    data = entry.to_json()
    if entry.exchange is not None:
        body, status, answer = entry.exchange
        data["raw"] = {
            "request": body.decode("utf-8", "replace"),
            "status": status,
            "answer": answer.decode("utf-8", "replace"),
        }
    return data


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _bad(message: str, status: int = 400) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def routes(sim: Simulator, console: Console) -> list[Route]:
    state = sim.state
    page = (
        _STATIC.joinpath("index.html")
        .read_text(encoding="utf-8")
        .replace("__PROVIDERS__", orjson.dumps(list(PROVIDER_NAMES)).decode())
        .replace("__STATUSES__", orjson.dumps(list(STATUSES)).decode())
        .replace("__REASONS__", orjson.dumps(list(REJECT_REASONS)).decode())
    )
    assets = {
        name: (_STATIC.joinpath(name).read_bytes(), _TYPES[name[name.rindex(".") :]])
        for name in ("console.js", "console.css")
    }

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    async def asset(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None:
            return _bad("no such file", 404)
        return Response(found[0], media_type=found[1], headers={"Cache-Control": "no-cache"})

    async def events(request: Request) -> Response:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        journal = request.query_params.get("journal") in ("1", "true")
        return StreamingResponse(console.feed.stream(journal), media_type="text/event-stream", headers=headers)

    async def events_options(request: Request) -> Response:
        # What one open stream carries: the page asks for journal entries only while it shows them.
        number = request.path_params["stream"]
        data = await _read_json(request)
        journal = data.get("journal") if isinstance(data, Mapping) else None
        if not isinstance(journal, bool):
            return _bad('send {"journal": true} or {"journal": false}')
        if not number.isdecimal() or len(number) > 12 or not console.feed.want_journal(int(number), journal):
            return _bad("no open event stream with this number", 404)
        return _json({"stream": int(number), "journal": journal})

    async def rows(request: Request) -> Response:
        newest = state.journal.seq
        last = request.query_params.get("last")
        if last is not None and not (last.isdecimal() and len(last) <= 6):
            return _bad("last must be a number of rows (at most 999999)")
        return _json(
            {
                "fields": ROW_FIELDS,
                "rows": snapshot(state, int(last) if last is not None else None),
                "seq": newest,
                "max_messages": state.max_messages,
                "dropped": state.dropped_messages,
                "gateway": console.gateway.url if console.gateway else None,
            }
        )

    async def detail(request: Request) -> Response:
        found = console.detail(request.path_params["row_id"])
        if found is None:
            return _bad("no message with this id (reset, or dropped as the oldest)", 404)
        return _json(found)

    async def journal_entry(request: Request) -> Response:
        seq = request.path_params["seq"]
        found = next((e for e in state.journal if str(e.seq) == seq), None)
        if found is None:
            return _bad("no journal entry with this number (reset, or dropped as the oldest)", 404)
        return _json(_entry(found))

    async def journal_list(request: Request) -> Response:
        entries = [journal_summary(e) for e in state.journal]
        return _json({"fields": JOURNAL_FIELDS, "entries": entries, "seq": state.journal.seq})

    async def gateway_side(request: Request) -> Response:
        message = state.messages.get(request.path_params["row_id"])
        if console.gateway is None:
            return _json({"error": "no gateway: run `lynsms up` to see the gateway's side"}, 404)
        if message is None:
            return _bad("no accepted message with this id", 404)
        return _json(await console.gateway.side_of(message.id, message.to))

    async def mark(request: Request) -> Response:
        message = state.messages.get(request.path_params["row_id"])
        if message is None:
            return _bad("no accepted message with this id", 404)
        data = await _read_json(request)
        status = data.get("status") if isinstance(data, Mapping) else None
        if status not in MARKABLE:
            return _bad(f"status must be one of {', '.join(MARKABLE)}")
        error_code = data.get("error_code") if isinstance(data, Mapping) else None
        if error_code is not None and not isinstance(error_code, str):
            return _bad("error_code must be a string")
        provider = sim.providers[message.provider]
        plan = DeliveryPlan(status=status, after=0.0, error_code=error_code, intermediate=False)
        sim.deliveries.schedule(provider, message, plan)
        return _json({"status": "scheduled", "id": message.id, "report": status})

    async def switches_get(request: Request) -> Response:
        return _json(_switches_json(console))

    async def switches_put(request: Request) -> Response:
        try:
            switches = controls.parse_switches(await _read_json(request))
        except controls.SwitchProblem as exc:
            return _bad(str(exc))
        text = controls.switches_yaml(switches)
        if text is None:
            if _switches_loaded(sim):
                sim.engine.unload(None)
        else:
            sim.load_scenario(parse_scenario(text, "<console switches>"))
        console.switches = {p: s for p, s in switches.items() if s.on}
        return _json(_switches_json(console))

    async def library_list(request: Request) -> Response:
        found = controls.library()
        return _json(
            {
                "folders": [str(f) for f in controls.library_folders()],
                "scenarios": [
                    {"name": n, "path": str(p), "description": controls.describe(p)} for n, p in found.items()
                ],
            }
        )

    async def library_load(request: Request) -> Response:
        path = controls.library().get(request.path_params["name"])
        if path is None:
            return _bad("no library scenario with this name", 404)
        try:
            loaded = sim.load_scenario(load_scenario_file(path))
        except ScenarioError as exc:
            problems = [f"{p.line}: {p.message}" if p.line else p.message for p in exc.problems]
            return JSONResponse({"error": "invalid scenario", "problems": problems}, status_code=400)
        console.switches = {}
        return _json({"status": "loaded", "scenario": loaded.to_json()})

    async def export_yaml(request: Request) -> Response:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        name = f"console-export-{stamp}"
        text = export_scenario(list(state.journal), name, state.seed)
        disposition = f'attachment; filename="{name}.scenario.yaml"'
        return Response(text, media_type="application/yaml", headers={"Content-Disposition": disposition})

    async def export_json(request: Request) -> Response:
        data = {
            "messages": [m.to_json() for m in state.messages.values()],
            "rows": [as_dict(row) for row in snapshot(state)],
            "requests": [_entry(e) for e in state.journal],
        }
        return Response(
            orjson.dumps(data, option=orjson.OPT_INDENT_2),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="journal.json"'},
        )

    return [
        Route("/_sim/", index, methods=["GET"]),
        Route("/_sim", index, methods=["GET"]),
        Route("/_sim/static/{name}", asset, methods=["GET"]),
        Route("/_sim/events", events, methods=["GET"]),
        Route("/_sim/events/{stream}", events_options, methods=["POST"]),
        Route("/_sim/console/rows", rows, methods=["GET"]),
        Route("/_sim/console/messages/{row_id}", detail, methods=["GET"]),
        Route("/_sim/console/journal", journal_list, methods=["GET"]),
        Route("/_sim/console/journal/{seq}", journal_entry, methods=["GET"]),
        Route("/_sim/console/messages/{row_id}/gateway", gateway_side, methods=["GET"]),
        Route("/_sim/console/messages/{row_id}/mark", mark, methods=["POST"]),
        Route("/_sim/console/switches", switches_get, methods=["GET"]),
        Route("/_sim/console/switches", switches_put, methods=["PUT"]),
        Route("/_sim/console/library", library_list, methods=["GET"]),
        Route("/_sim/console/library/{name}", library_load, methods=["POST"]),
        Route("/_sim/console/export.scenario.yaml", export_yaml, methods=["GET"]),
        Route("/_sim/console/export.json", export_json, methods=["GET"]),
    ]


def _switches_loaded(sim: Simulator) -> bool:
    return any(
        loaded.scenario.name == controls.SWITCHES_NAME and loaded.scope is None for loaded in sim.engine.loaded()
    )


def _switches_json(console: Console) -> dict[str, Any]:
    switches = {p: console.switches.get(p, controls.Switch()).to_json() for p in PROVIDER_NAMES}
    return {"switches": switches, "yaml": controls.switches_yaml(console.switches), "reasons": list(REJECT_REASONS)}


async def _read_json(request: Request) -> Any:
    try:
        return orjson.loads(await request.body() or b"null")
    except orjson.JSONDecodeError:
        return None
