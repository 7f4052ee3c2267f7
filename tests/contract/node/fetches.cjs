// Send one message through each official Node SDK, then read it back through the same SDK.
// Usage: node fetches.cjs <provider> <simulator url>. Prints one JSON line for the test to check.

async function twilio(url) {
  const client = require("twilio")("AC" + "1".repeat(32), "any-token");
  client.api.baseUrl = url;
  const sent = await client.messages.create({ to: "+12025550143", from: "+15005550006", body: "Hello" });
  const fetched = await client.messages(sent.sid).fetch();
  const balance = await client.api.v2010.account.balance.fetch();
  return { id: sent.sid, fetched: fetched.sid, status: fetched.status, currency: balance.currency };
}

async function sinch(url) {
  const { SinchClient } = require("@sinch/sdk-core");
  const client = new SinchClient({ servicePlanId: "plan-1", apiToken: "any-token", smsHostname: url });
  const sent = await client.sms.batches.sendTextMessage({
    sendSMSRequestBody: { to: ["+12025550143"], from: "+12025550100", body: "Hello" },
  });
  const fetched = await client.sms.batches.get({ batch_id: sent.id });
  return { id: sent.id, fetched: fetched.id, status: fetched.canceled ? "canceled" : "sent" };
}

async function infobip(url) {
  const { Infobip, AuthType } = require("@infobip-api/sdk");
  const client = new Infobip({ baseUrl: url, apiKey: "any-key", authType: AuthType.ApiKey });
  const sendAt = new Date(Date.now() + 3600 * 1000).toISOString();
  const sent = await client.channels.sms.send({
    bulkId: "node-bulk",
    messages: [{ destinations: [{ to: "12025550143" }], from: "InfoSMS", text: "Hello", sendAt }],
  });
  const schedule = await client.channels.sms.scheduled.get("node-bulk");
  const status = await client.channels.sms.status.get("node-bulk");
  return { id: sent.data.bulkId, fetched: schedule.data.bulkId, status: status.data.status };
}

async function clicksend(url) {
  const api = require("clicksend");
  const sms = new api.SMSApi("any-user", "any-api-key");
  sms.basePath = `${url}/v3`;
  const message = Object.assign(new api.SmsMessage(), { to: "+12025550143", body: "Hello" });
  const sent = await sms.smsSendPost(Object.assign(new api.SmsMessageCollection(), { messages: [message] }));
  const id = sent.body.data.messages[0].message_id;
  const history = await sms.smsHistoryGet();
  const row = history.body.data.data.find((item) => item.message_id === id);
  return { id, fetched: row && row.message_id, status: row && row.status };
}

const calls = { twilio, sinch, infobip, clicksend };
require("./cli.cjs")(module, (provider, url) => calls[provider](url));
