"""Account and balance calls through each provider's official SDK (raw HTTP where the SDK has no
call for it): balances that sends spend, scripted balances that run out and suspended accounts,
each answered with the provider's own error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from lynsms.simulator.accounts import DEFAULT_BALANCE
from lynsms.tls import client_tls
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


# ---- Infobip: GET /account/1/balance (the Python SDK has no call for it: raw HTTP) -----------------


def infobip_balance(simulator: Any, key: str = "sdk-key") -> httpx.Response:
    return httpx.get(f"{simulator.url}/account/1/balance", headers={"Authorization": f"App {key}"}, verify=client_tls())


def test_infobip_balance_is_spent_by_sdk_sends(simulator: Any) -> None:
    from tests.contract.test_infobip_sdk import request, sms_api

    assert infobip_balance(simulator).json() == {"balance": float(DEFAULT_BALANCE), "currency": "EUR"}
    sms_api(simulator.url).send_sms_messages(sms_request=request(TO.lstrip("+")))
    spent = DEFAULT_BALANCE - US_SEGMENT["infobip"]
    assert infobip_balance(simulator).json()["balance"] == float(spent)
    assert infobip_balance(simulator, "other-key").json()["balance"] == float(DEFAULT_BALANCE)


def test_infobip_balance_that_runs_out_rejects_with_not_enough_credits(simulator: Any) -> None:
    from tests.contract.test_infobip_sdk import request, sms_api

    load(simulator.control, simulator.url, accounts_scenario("infobip", balance=0))
    answer = sms_api(simulator.url).send_sms_messages(sms_request=request(TO.lstrip("+")))
    (message,) = answer.messages or []
    assert message.status is not None and message.status.name == "REJECTED_NOT_ENOUGH_CREDITS"


def test_infobip_suspended_account_and_unknown_account_paths_answer_in_infobips_format(simulator: Any) -> None:
    load(simulator.control, simulator.url, accounts_scenario("infobip", suspended=True))
    refused = infobip_balance(simulator)
    assert refused.status_code == 401
    assert refused.json()["requestError"]["serviceException"]["messageId"] == "UNAUTHORIZED"
    missing = httpx.get(f"{simulator.url}/account/1/nothing-here", headers={"Authorization": "App k"})
    assert missing.status_code == 404 and missing.json()["errorCode"] == "E404"


# ---- ClickSend: GET /v3/account (ManagementApi.view_account_details) ---------------------------------


def clicksend_account(simulator: Any, username: str = "acme-user") -> Any:
    import clicksend

    configuration = clicksend.Configuration(host=simulator.url, username=username, password="API-KEY-1")
    with clicksend.ApiClient(configuration) as client:
        return clicksend.ManagementApi(client).view_account_details()


def test_clicksend_account_details_parse_and_sends_spend(simulator: Any) -> None:
    from tests.contract.test_clicksend_sdk import message, send, sms_api

    details = clicksend_account(simulator)
    assert details.data is not None and details.data.username == "acme-user"
    assert Decimal(details.data.balance or "") == DEFAULT_BALANCE
    send(next(sms_api(simulator.url)), message(to=TO))
    after = clicksend_account(simulator).data
    assert Decimal(after.balance or "") == DEFAULT_BALANCE - US_SEGMENT["clicksend"]


def test_clicksend_balance_that_runs_out_is_insufficient_credit(simulator: Any) -> None:
    from tests.contract.test_clicksend_sdk import message, send, sent_messages, sms_api

    load(simulator.control, simulator.url, accounts_scenario("clicksend", balance=0.05))
    (sent,) = sent_messages(send(next(sms_api(simulator.url)), message(to=TO)))
    assert sent.status == "INSUFFICIENT_CREDIT"


def test_clicksend_suspended_account_is_unauthorized(simulator: Any) -> None:
    from clicksend.exceptions import UnauthorizedException

    load(simulator.control, simulator.url, accounts_scenario("clicksend", suspended=True))
    with pytest.raises(UnauthorizedException):
        clicksend_account(simulator)


# ---- Sinch: no balance call in its SMS API; the scripted balance still rejects ------------------------


def test_sinch_balance_that_runs_out_is_403_blocked_account(simulator: Any) -> None:
    from sinch.domains.sms.api.v1.exceptions import SmsException

    from tests.contract.test_sinch_sdk import plan_client

    load(simulator.control, simulator.url, accounts_scenario("sinch", balance=0))
    with pytest.raises(SmsException) as caught:
        plan_client(simulator.url).sms.batches.send_sms(to=[TO], from_="+12025550100", body="hi")
    assert (caught.value.response_status_code, caught.value.http_response.body["code"]) == (403, "blocked_account")
