"""The per-account timeline behind date-filtered lists: bisected ranges, newest first, and a store
that deletes and evicts messages under it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from lynsms.simulator.messages import SimMessage, Submission
from lynsms.simulator.state import SimState


def message(n: int, at: float, account: str = "acct", provider: str = "twilio") -> SimMessage:
    moment = datetime.fromtimestamp(at, UTC)
    return SimMessage(
        id=f"m{n}",
        provider=provider,  # type: ignore[arg-type]
        account=account,
        submission=Submission(to="+12025550143", sender="+15005550006", body=str(n)),
        segments=1,
        encoding="GSM-7",
        status="queued",
        created_at=moment,
        updated_at=moment,
    )


def ids(found: Iterable[SimMessage]) -> list[str]:
    return [m.id for m in found]


def test_a_date_range_is_both_ends_included_oldest_or_newest_first() -> None:
    state = SimState()
    state.add([message(n, 1000.0 + n) for n in range(10)])
    state.add([message(99, 1005.0, account="other")])
    assert ids(state.owned("twilio", "acct", 1003, 1005)) == ["m3", "m4", "m5"]
    assert ids(state.owned("twilio", "acct", high=1001, newest_first=True)) == ["m1", "m0"]
    assert ids(state.owned("twilio", "other")) == ["m99"]
    assert ids(state.owned("sinch", "acct")) == []


def test_a_message_created_out_of_order_is_kept_in_time_order() -> None:
    state = SimState()
    state.add([message(1, 1000.0), message(2, 1010.0), message(3, 1005.0)])  # the wall clock stepped back
    assert ids(state.owned("twilio", "acct")) == ["m1", "m3", "m2"]
    assert ids(state.owned("twilio", "acct", 1004, 1006)) == ["m3"]


def test_deleted_and_evicted_messages_are_not_listed() -> None:
    state = SimState(max_messages=1500)
    state.add([message(n, 1000.0 + n) for n in range(3000)])  # the first 1,500 are evicted
    del state.messages["m2999"]  # Twilio DELETE
    listed = ids(state.owned("twilio", "acct"))
    assert listed[0] == "m1500" and listed[-1] == "m2998" and len(listed) == 1499
    assert len(state.timelines[("twilio", "acct")]) <= 2000  # evicted entries were cut off the front
    state.reset()
    assert ids(state.owned("twilio", "acct")) == []


def test_the_status_index_follows_status_changes_and_evictions() -> None:
    state = SimState(max_messages=3)
    first, second, third = message(1, 1001.0), message(2, 1002.0), message(3, 1003.0)
    state.add([first, second, third])
    state.restatus(second, "delivered")
    second.status = "delivered"
    state.restatus(first, "delivered")
    first.status = "delivered"
    assert ids(state.in_status("twilio", "acct", ["delivered"])) == ["m1", "m2"]  # creation order
    assert state.statuses("twilio", "acct") == {"queued": 1, "delivered": 2}
    state.add([message(4, 1004.0)])  # evicts m1
    assert ids(state.in_status("twilio", "acct", ["delivered", "queued"])) == ["m2", "m3", "m4"]
    assert state.statuses("twilio", "acct") == {"queued": 2, "delivered": 1}
