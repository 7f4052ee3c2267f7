"""Four programs that send one SMS each with an official SDK, as an application would: the providers'
real hosts, no base-URL setting. They run in-process under ``lynsms.intercept()`` and, through
``python -m tests.intercept.programs NAME...``, in a subprocess that only has the proxy's environment
(one line ``NAME MESSAGE_ID`` per program run).

Twilio's and Sinch's SDKs (on ``requests``) follow ``HTTPS_PROXY`` by themselves; Infobip's and
ClickSend's (on bare urllib3) ignore proxy variables, so they take the proxy from the environment
through their own ``Configuration.proxy`` option, the one way those SDKs reach any proxy.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

TO = "+12025550143"
SENDER = "+12025550100"
TWILIO_SID = "AC" + "5a" * 16


def twilio() -> str:
    from twilio.rest import Client

    message = Client(TWILIO_SID, "token").messages.create(to=TO, from_=SENDER, body="Hello from Twilio's SDK")
    return str(message.sid)


def sinch() -> str:
    from sinch import SinchClient

    client = SinchClient(project_id="project-1", key_id="key-id", key_secret="key-secret", sms_region="us")
    batch = client.sms.batches.send_sms(to=[TO], from_=SENDER, body="Hello from Sinch's SDK")
    return str(batch.id)


def infobip() -> str:
    from infobip_api_client import ApiClient, Configuration, SmsApi
    from infobip_api_client.models import SmsDestination, SmsMessage, SmsMessageContent, SmsRequest, SmsTextContent

    configuration = Configuration(host="https://3g9kqx.api.infobip.com", api_key="app-key")
    configuration.proxy = os.environ.get("HTTPS_PROXY")
    content = SmsMessageContent(SmsTextContent(text="Hello from Infobip's SDK"))
    message = SmsMessage(sender="InfoSMS", destinations=[SmsDestination(to="12025550143")], content=content)
    response = SmsApi(ApiClient(configuration)).send_sms_messages(SmsRequest(messages=[message]))
    assert response.messages, response
    return str(response.messages[0].message_id)


def clicksend() -> str:
    import clicksend
    from clicksend.models.send_sms_request import SendSmsRequest
    from clicksend.models.send_sms_request_messages_inner import SendSmsRequestMessagesInner

    configuration = clicksend.Configuration(username="acme-user", password="API-KEY-1")
    configuration.proxy = os.environ.get("HTTPS_PROXY")
    with clicksend.ApiClient(configuration) as client:
        request = SendSmsRequest(messages=[SendSmsRequestMessagesInner(to=TO, body="Hello from ClickSend's SDK")])
        answer = clicksend.SmsApi(client).send_sms(send_sms_request=request)
    assert answer.data and answer.data.messages, answer
    return str(answer.data.messages[0].message_id)


PROGRAMS: dict[str, Callable[[], str]] = {
    "twilio": twilio,
    "sinch": sinch,
    "infobip": infobip,
    "clicksend": clicksend,
}

if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(name, PROGRAMS[name]())
