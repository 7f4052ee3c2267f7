// The clicksend Node SDK beyond a send and a fetch: price, cancel (one and all), history filters,
// receipts and inbound marked read, the inbound list and the history export. The SDK rejects
// with {response, body} on non-2xx.
// Usage: node clicksend.cjs <simulator url>. Checks with node:assert, then prints one JSON line.
const assert = require("node:assert/strict");
const api = require("clicksend");

const A = "+61411111111";
const B = "+61422222222";

function collection(...messages) {
  return Object.assign(new api.SmsMessageCollection(), {
    messages: messages.map((fields) => Object.assign(new api.SmsMessage(), fields)),
  });
}

async function main(url) {
  const sms = new api.SMSApi("node-user", "any-api-key");
  sms.basePath = `${url}/v3`;

  const price = (await sms.smsPricePost(collection({ to: A, body: "a".repeat(161) }, { to: "nope", body: "x" }))).body.data;

  const later = Math.floor(Date.now() / 1000) + 3600;
  const sent = (
    await sms.smsSendPost(
      collection(
        { to: A, body: "now", customString: "n-1" },
        { to: B, body: "later one", schedule: later, customString: "l-1" },
        { to: B, body: "later two", schedule: later, customString: "l-2" },
        { to: B, body: "later three", schedule: later, customString: "l-3" }
      )
    )
  ).body.data.messages;
  const [now, one] = sent;

  await sms.smsCancelByMessageIdPut(one.message_id);
  let again;
  try {
    await sms.smsCancelByMessageIdPut(one.message_id);
  } catch (error) {
    again = { status: error.response.statusCode, code: error.body.response_code };
  }
  assert.ok(again, "a second cancel must be refused");
  const all = (await sms.smsCancelAllPut()).body.data;

  const toA = (await sms.smsHistoryGet(`to:${A}`)).body.data.data;
  const cancelled = (await sms.smsHistoryGet("status:Cancelled")).body.data.data;
  const dated = (await sms.smsHistoryGet(undefined, now.date - 60, now.date + 60)).body.data.total;
  const future = (await sms.smsHistoryGet(undefined, now.date + 86400)).body.data.total;

  await sms.smsReceiptsReadPut(Object.assign(new api.DateBefore(), { dateBefore: now.date }));
  const receipts = (await sms.smsReceiptsGet()).body.data.total;
  await sms.smsInboundReadPut(Object.assign(new api.DateBefore(), { dateBefore: now.date }));
  const inbound = (await sms.smsInboundGet()).body.data.total;
  const exported = (await sms.smsHistoryExportGet("history.csv")).body.data.url;
  const csv = await (await fetch(exported)).text();

  return {
    price: { total: price.total_price, queued: price.queued_count, blocked: price.blocked_count },
    cancel_again: again,
    cancel_all: all.count,
    history: {
      to_a: toA.map((row) => row.custom_string),
      cancelled: cancelled.map((row) => row.custom_string).sort(),
      dated,
      future,
    },
    receipts,
    inbound,
    export_lines: csv.trim().split("\r\n").length,
  };
}

require("./cli.cjs")(module, main);
