"""The journal as a scenario file that ``lynsms scenario run`` replays: one send step per
submission a client made, sent through the gateway to the provider it went to, and one rule per
submission that scripts what that provider did (matched on its recipient and exact body, once),
so the replay meets the same answers in the same order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml

from lynsms.simulator.console.rows import turned_down
from lynsms.simulator.decision import number
from lynsms.simulator.messages import Submission
from lynsms.simulator.state import JournalEntry

# What the gateway answers a send that its provider accepted (spec: 201 Created) or turned down
# for good (a hard error stops its fallback chain).
_ACCEPTED = 201


def export_scenario(entries: Iterable[JournalEntry], name: str, seed: int | None) -> str:
    providers: dict[str, list[dict[str, Any]]] = {}
    steps: list[dict[str, Any]] = []
    for entry in entries:
        if entry.method in ("CALLBACK", "INBOUND") or entry.provider is None:
            continue
        refused = turned_down(entry)
        for index, submission in enumerate(entry.messages):
            if not isinstance(submission, Submission):
                continue
            step_name = f"m{len(steps) + 1}"
            # E.164 with its '+' whatever the provider's wire wrote (Sinch drops it): the gateway wants it.
            send: dict[str, Any] = {"to": number(submission.to), "body": submission.body, "provider": entry.provider}
            if submission.sender:
                send["from"] = number(submission.sender)
            rule: dict[str, Any] = {
                "name": step_name,
                "match": {"to": submission.to, "body": f"/^{re.escape(submission.body)}$/"},
                "times": 1,
            }
            word = refused.get(index)
            step: dict[str, Any] = {"name": step_name, "send": send}
            if word is None:
                rule["accept"] = True
                step["expect"] = {"status": _ACCEPTED, "message": {"provider": entry.provider}}
            elif entry.outcome.get("kind") == "reject" or entry.outcome.get("reason"):
                rule["reject"] = entry.outcome.get("reason")
                step["expect"] = {"json": {"success": False}}
            else:
                # Turned down in a way the gateway may route around (HTTP errors, faults): the
                # replay scripts the same trouble and checks that the provider saw the request.
                rule.update(_trouble(entry.outcome))
                step["expect"] = {"simulator": {entry.provider: {"requests": 1}}}
            providers.setdefault(entry.provider, []).append(rule)
            steps.append(step)
    document: dict[str, Any] = {
        "name": name,
        "description": f"Exported from the QA console: {len(steps)} sends replayed through the gateway.",
    }
    if seed is not None:  # the simulator's, when it was started with one
        document["seed"] = seed
    document.update({"defaults": {"deliver": False}, "providers": providers, "steps": steps})
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)


def _trouble(outcome: dict[str, Any]) -> dict[str, Any]:
    if outcome.get("kind") == "http_error":
        return {"http_error": int(outcome.get("status") or 503)}
    if outcome.get("kind") == "fault":
        return {"fault": outcome.get("fault")}
    return {"http_error": 400}
