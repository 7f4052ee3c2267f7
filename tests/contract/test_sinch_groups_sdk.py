"""Sinch groups through the official SDK (``sms.groups``), and batches sent to a group id."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.test_sinch_more_sdk import sms_error
from tests.contract.test_sinch_sdk import account_of, plan_client

A, B, C = "+12025550143", "+12025550144", "+12025550145"


def test_group_lifecycle_through_the_sdk(simulator: Any) -> None:
    from sinch.domains.sms.models.v1.response.group_response import GroupResponse

    client = plan_client(simulator.url)
    groups = client.sms.groups
    child = groups.create(name="Child", members=[C])
    group = groups.create(name="Customers", members=[A, B, A], child_groups=[child.id])
    assert type(group) is GroupResponse and (group.name, group.size, group.child_groups) == ("Customers", 3, [child.id])
    assert group.created_at is not None and group.id is not None and len(group.id) == 26
    assert sorted(groups.list_members(group.id).content()) == sorted(n.lstrip("+") for n in (A, B, C))
    assert [g.id for g in groups.list(page_size=1).iterator()] == [group.id, child.id]  # newest first
    assert groups.get(group.id).name == "Customers"
    updated = groups.update(group_id=group.id, add=[C], remove=[B], name="Renamed")
    assert (updated.name, updated.size) == ("Renamed", 2)
    replaced = groups.replace(group_id=group.id, name="Fresh", members=[B])
    assert (replaced.name, replaced.size, replaced.child_groups, replaced.created_at) == (
        "Fresh",
        1,
        [],
        group.created_at,
    )
    assert groups.delete(group.id) is None
    assert sms_error(lambda: groups.get(group.id)) == (404, "not_found")
    assert [g.id for g in groups.list().iterator()] == [child.id]


def test_a_batch_sent_to_a_group_goes_to_its_members(simulator: Any) -> None:
    client = plan_client(simulator.url)
    group = client.sms.groups.create(name="Team", members=[A, B])
    batch = client.sms.batches.send_sms(to=[group.id, C], from_="+12025550100", body="hi", feedback_enabled=True)
    assert batch.to == [group.id, C]  # Sinch repeats the to it was given
    assert sorted(m["to"] for m in simulator.messages(provider="sinch")) == [A, B, C]
    # Feedback for a batch sent to a group needs at least one recipient.
    feedback = client.sms.batches.send_delivery_feedback
    assert sms_error(lambda: feedback(batch_id=batch.id, recipients=[])) == (400, "syntax_constraint_violation")
    feedback(batch_id=batch.id, recipients=[A])
    unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    assert sms_error(lambda: client.sms.batches.send_sms(to=[unknown], from_="+12025550100", body="hi")) == (
        403,
        "unknown_group",
    )


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status", "code"),
    [
        ("POST", "", {"name": "x" * 21}, 400, "syntax_constraint_violation"),
        ("POST", "", {"name": 5}, 400, "syntax_invalid_json"),
        ("POST", "", {"members": ["12"]}, 400, "syntax_invalid_parameter_format"),
        ("POST", "", {"members": "+12025550143"}, 400, "syntax_invalid_json"),
        ("POST", "", {"child_groups": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]}, 403, "unknown_group"),
        ("POST", "", {"auto_update": {"to": "x"}}, 400, "syntax_invalid_parameter_format"),
        ("POST", "", {"auto_update": {"to": "12345", "add": {"first_word": "two words"}}}, 400, None),
        ("POST", "", [1], 400, "syntax_invalid_json"),
        ("GET", "?page_size=101", None, 400, "syntax_invalid_parameter_format"),
        ("GET", "?name=x", None, 400, "syntax_invalid_parameter_format"),
        ("GET", "/01ARZ3NDEKTSV4RRFFQ69G5FAV", None, 404, "not_found"),
        ("GET", "/01ARZ3NDEKTSV4RRFFQ69G5FAV/members", None, 404, "not_found"),
        ("DELETE", "/01ARZ3NDEKTSV4RRFFQ69G5FAV", None, 404, "not_found"),
    ],
)
def test_bad_group_requests_answer_in_sinchs_format(
    simulator: Any, method: str, suffix: str, body: Any, status: int, code: str | None
) -> None:
    path = f"/xms/v1/{account_of(plan_client(simulator.url))}/groups{suffix}"
    response = simulator.control.request(method, path, json=body, headers={"Authorization": "Bearer token"})
    assert response.status_code == status
    assert set(response.json()) == {"code", "text"}
    assert code is None or response.json()["code"] == code


def test_bad_group_update_leaves_the_group_unchanged(simulator: Any) -> None:
    client = plan_client(simulator.url)
    group = client.sms.groups.create(name="Keep", members=[A])
    path = f"/xms/v1/{account_of(client)}/groups/{group.id}"
    for body in ({"add": [B], "remove": ["nope"]}, {"add": [B], "add_from_group": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}):
        response = simulator.control.post(path, json=body, headers={"Authorization": "Bearer token"})
        assert response.status_code in (400, 403) and "code" in response.json()
    assert client.sms.groups.list_members(group.id).content() == [A.lstrip("+")]


def test_a_scheduled_batch_follows_its_groups_until_it_goes_out(clocked_simulator: Any) -> None:
    from datetime import UTC, datetime, timedelta

    sim = clocked_simulator
    client = plan_client(sim.url)
    groups = client.sms.groups
    child = groups.create(name="Child", members=[])
    kept = groups.create(name="Kept", members=[A, B], child_groups=[child.id])
    dropped = groups.create(name="Dropped", members=[C])
    due = datetime.fromtimestamp(sim.clock.time(), UTC) + timedelta(minutes=10)
    batch = client.sms.batches.send_sms(to=[kept.id, dropped.id], from_="+12025550100", body="hi", send_at=due)
    groups.update(group_id=kept.id, add=["+12025550146"], remove=[A])
    groups.delete(dropped.id)  # "considered empty" when the batch goes out
    groups.update(group_id=child.id, add=["+12025550147"])  # reaches the batch through its parent
    sim.clock.advance(599)
    sim.advance_until(lambda: all(m.status == "Delivered" for m in sim.sim.state.messages.values()))
    assert sorted(m.to for m in sim.sim.state.messages.values()) == [B, "+12025550146", "+12025550147"]
    assert client.sms.batches.get(batch.id).to == [kept.id, dropped.id]


def test_update_adds_and_removes_a_group_of_a_scheduled_batch(clocked_simulator: Any) -> None:
    from datetime import UTC, datetime, timedelta

    sim = clocked_simulator
    client = plan_client(sim.url)
    team = client.sms.groups.create(name="Team", members=[B, C])
    due = datetime.fromtimestamp(sim.clock.time(), UTC) + timedelta(minutes=10)
    batch = client.sms.batches.send_sms(to=[A], from_="+12025550100", body="hi", send_at=due)
    added = client.sms.batches.update_sms(batch_id=batch.id, to_add=[team.id])
    assert added.to == [A, team.id]
    assert sorted(m.to for m in sim.sim.state.messages.values()) == [A, B, C]
    client.sms.groups.update(group_id=team.id, remove=[C])  # the batch follows the group
    assert sorted(m.to for m in sim.sim.state.messages.values()) == [A, B]
    removed = client.sms.batches.update_sms(batch_id=batch.id, to_remove=[team.id])
    assert removed.to == [A]
    assert [m.to for m in sim.sim.state.messages.values()] == [A]
