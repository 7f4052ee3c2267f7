// The @infobip-api/sdk Node SDK beyond a send and a fetch: preview, rescheduling and pausing /
// cancelling a scheduled bulk, outbound log filters, delivery reports and the inbox. The SDK
// returns (does not throw) errors.
// Usage: node infobip.cjs <simulator url>. Checks with node:assert, then prints one JSON line.
const assert = require("node:assert/strict");
const { Infobip, AuthType } = require("@infobip-api/sdk");

function ok(answer) {
  assert.ok(!(answer instanceof Error), answer && answer.response ? JSON.stringify(answer.response.data) : String(answer));
  return answer.data;
}

async function main(url) {
  const sms = new Infobip({ baseUrl: url, apiKey: "any-key", authType: AuthType.ApiKey }).channels.sms;

  const preview = ok(await sms.preview({ text: "a".repeat(161) }));
  const [parts] = preview.previews;

  const sendAt = new Date(Date.now() + 3600 * 1000);
  ok(
    await sms.send({
      bulkId: "node-later",
      messages: [{ destinations: [{ to: "447700900001" }], from: "InfoSMS", text: "later", sendAt: sendAt.toISOString() }],
    })
  );
  const moved = new Date(sendAt.getTime() + 3600 * 1000).toISOString();
  const rescheduled = ok(await sms.scheduled.reschedule("node-later", moved));
  const schedule = ok(await sms.scheduled.get("node-later"));
  assert.equal(new Date(schedule.sendAt).getTime(), new Date(moved).getTime());
  const paused = ok(await sms.status.update("node-later", "PAUSED"));
  const pausedRead = ok(await sms.status.get("node-later"));
  const canceled = ok(await sms.status.update("node-later", "CANCELED"));

  ok(
    await sms.send({
      bulkId: "node-now",
      messages: [
        { destinations: [{ to: "447700900002" }, { to: "447700900003" }], from: "InfoSMS", text: "now" },
      ],
    })
  );
  const byDestination = ok(await sms.logs.get({ destination: "447700900002" })).results;
  const byBulk = ok(await sms.logs.get({ bulkId: "node-now" })).results;
  const since = new Date(Date.now() - 60 * 1000).toISOString();
  const sinceNow = ok(await sms.logs.get({ sentSince: since, bulkId: "node-now" })).results;
  const pending = ok(await sms.logs.get({ generalStatus: "PENDING", bulkId: "node-now" })).results;
  const reports = ok(await sms.reports.get({ bulkId: "node-now" })).results;
  const inbox = ok(await sms.get(5)).results;
  const unknown = await sms.logs.get({ color: "blue" });
  assert.ok(unknown instanceof Error, "an unknown log filter must be refused");
  const refused = unknown.response;

  return {
    preview: { count: parts.messageCount, remaining: parts.charactersRemaining },
    rescheduled: rescheduled.sendAt !== undefined,
    paused: [paused.status, pausedRead.status],
    canceled: canceled.status,
    logs: {
      destination: byDestination.map((r) => r.to),
      bulk: byBulk.length,
      since: sinceNow.length,
      pending: pending.map((r) => r.to).sort(),
    },
    reports: reports.length,
    inbox: inbox.length,
    refused: { status: refused.status, error: refused.data.requestError.serviceException.messageId },
  };
}

require("./cli.cjs")(module, main);
