// The twilio Node SDK beyond a send and a fetch: list filters, cancelling a scheduled message,
// an MMS's media list and the account resource.
// Usage: node twilio.cjs <simulator url>. Checks with node:assert, then prints one JSON line.
const assert = require("node:assert/strict");
const twilio = require("twilio");

const A = "+12025550143";
const B = "+12025550144";
const FROM = "+15005550006";
const SERVICE = "MG" + "6b".repeat(16);

async function main(url) {
  const client = twilio("AC" + "2".repeat(32), "any-token");
  client.api.baseUrl = url;
  await client.messages.create({ to: A, from: FROM, body: "to A" });
  await client.messages.create({ to: B, from: FROM, body: "to B" });
  const later = await client.messages.create({
    to: A,
    messagingServiceSid: SERVICE,
    body: "later",
    scheduleType: "fixed",
    sendAt: new Date(Date.now() + 3600 * 1000),
  });
  assert.equal(later.status, "scheduled");

  const yesterday = new Date(Date.now() - 86400 * 1000);
  const toA = await client.messages.list({ to: A });
  const fromF = await client.messages.list({ from: FROM });
  const toBSince = await client.messages.list({ to: B, dateSentAfter: yesterday });
  const before = await client.messages.list({ dateSentBefore: yesterday });
  assert.deepEqual(toA.map((m) => m.body), ["later", "to A"]); // newest first
  assert.deepEqual(fromF.map((m) => m.to).sort(), [A, B]);
  assert.deepEqual(toBSince.map((m) => m.body), ["to B"]);
  assert.equal(before.length, 0);

  const canceled = await client.messages(later.sid).update({ status: "canceled" });
  assert.equal(canceled.status, "canceled");
  let again;
  try {
    await client.messages(later.sid).update({ status: "canceled" });
  } catch (error) {
    again = { status: error.status, code: error.code };
  }
  assert.deepEqual(again, { status: 400, code: 30409 });
  const listed = await client.messages(later.sid).fetch();
  const mms = await client.messages.create({ to: B, from: FROM, mediaUrl: ["https://example.com/cat.png"] });
  const media = await client.messages(mms.sid).media.list();
  assert.deepEqual(media.map((m) => m.contentType), ["image/png"]);
  const account = await client.api.v2010.accounts("AC" + "2".repeat(32)).fetch();
  assert.equal(account.status, "active");
  return {
    to_a: toA.length,
    from: fromF.length,
    to_b_since: toBSince.length,
    before: before.length,
    canceled: listed.status,
    second_cancel: again,
    media: media.length,
    account: account.status,
  };
}

require("./cli.cjs")(module, main);
