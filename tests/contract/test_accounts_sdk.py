"""Account and balance calls through each provider's official SDK (raw HTTP where the SDK has no
call for it): balances that sends spend, scripted balances that run out and suspended accounts,
each answered with the provider's own error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from lynsms.simulator.accounts import DEFAULT_BALANCE
from tests.simulator.scenario_wires import QUIET, load

TO = "+12025550143"
TWILIO_AC = "AC" + "5a" * 16
US_SEGMENT = {"twilio": Decimal("0.0079"), "infobip": Decimal("0.0070"), "clicksend": Decimal("0.0792")}


def accounts_scenario(provider: str, **script: Any) -> dict[str, Any]:
    return {**QUIET, "name": f"{provider}-account", "accounts": {provider: script}}


# ---- Twilio --------------------------------------------------------------------------------------


def twilio(simulator: Any) -> Any:
    from twilio.rest import Client

    client = Client(TWILIO_AC, "sdk-token")
    client.api.base_url = simulator.url
    return client


def test_twilio_account_and_balance_answer_and_sends_spend(simulator: Any) -> None:
    from twilio.rest.api.v2010.account import AccountInstance
    from twilio.rest.api.v2010.account.balance import BalanceInstance

    client = twilio(simulator)
    account = client.api.v2010.accounts(TWILIO_AC).fetch()
    assert isinstance(account, AccountInstance)
    assert (account.sid, account.status, account.type) == (TWILIO_AC, "active", "Full")
    before = client.api.v2010.account.balance.fetch()
    assert isinstance(before, BalanceInstance) and before.currency == "USD"
    assert Decimal(before.balance or "") == DEFAULT_BALANCE
    client.messages.create(to=TO, from_="+15005550006", body="a" * 161)  # two segments
    after = client.api.v2010.account.balance.fetch()
    assert Decimal(after.balance or "") == DEFAULT_BALANCE - 2 * US_SEGMENT["twilio"]


def test_twilio_balance_that_runs_out_answers_account_not_active(simulator: Any) -> None:
    from twilio.base.exceptions import TwilioRestException

    load(simulator.control, simulator.url, accounts_scenario("twilio", balance=0.01))
    client = twilio(simulator)
    client.messages.create(to=TO, from_="+15005550006", body="one")
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=TO, from_="+15005550006", body="two")
    assert (caught.value.status, caught.value.code) == (401, 10001)
    assert Decimal(client.api.v2010.account.balance.fetch().balance or "") == Decimal("0.0021")


def test_twilio_suspended_account_answers_authenticate(simulator: Any) -> None:
    from twilio.base.exceptions import TwilioRestException

    load(simulator.control, simulator.url, accounts_scenario("twilio", suspended=True))
    client = twilio(simulator)
    assert client.api.v2010.accounts(TWILIO_AC).fetch().status == "suspended"
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=TO, from_="+15005550006", body="hi")
    assert (caught.value.status, caught.value.code) == (401, 20003)
