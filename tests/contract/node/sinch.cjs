// The calls around a Sinch send, through the official Node SDK (@sinch/sdk-core), in one process:
// dry run, filtered batch list, cancel, scheduled batch update and replace, delivery reports,
// binary batch, delivery feedback, groups, inbounds.
// Usage: node sinch.cjs <simulator url> [inbound id]. Prints one JSON line for the test to check.
const { SinchClient } = require("@sinch/sdk-core");

const A = "+12025550143";
const B = "+12025550144";

async function all(list) {
  const found = [];
  for await (const item of list) found.push(item);
  return found;
}

async function run(url, inboundId) {
  const sms = new SinchClient({ servicePlanId: "plan-node", apiToken: "any-token", smsHostname: url }).sms;
  const text = (body) => ({ sendSMSRequestBody: { to: [A, B], from: "+12025550100", ...body } });
  const dry = await sms.batches.dryRun({
    per_recipient: true,
    dryRunRequestBody: { to: [A], from: "+12025550100", body: "ж".repeat(71) },
  });
  const first = await sms.batches.sendTextMessage(text({ body: "one", client_reference: "node-ref" }));
  const second = await sms.batches.sendTextMessage({
    sendSMSRequestBody: { to: [A], from: "+12025550199", body: "two", feedback_enabled: true },
  });
  const byReference = await all(sms.batches.list({ client_reference: "node-ref" }));
  const bySender = await all(sms.batches.list({ from: "+12025550199", page_size: 1 }));
  const canceled = await sms.batches.cancel({ batch_id: first.id });
  const report = await sms.deliveryReports.get({ batch_id: first.id, type: "full" });
  const one = await sms.deliveryReports.getForNumber({ batch_id: first.id, phone_number: A });
  const reports = await all(sms.deliveryReports.list({ status: ["Cancelled"] }));
  const binary = await sms.batches.sendBinaryMessage({
    sendSMSRequestBody: { to: [A], from: "+12025550100", body: "AAE=", udh: "050003cc0201", type: "mt_binary" },
  });
  const fetchedBinary = await sms.batches.get({ batch_id: binary.id });
  await sms.batches.sendDeliveryFeedback({ batch_id: second.id, deliveryFeedbackRequestBody: { recipients: [A] } });
  const group = await sms.groups.create({ createGroupRequestBody: { name: "Node group", members: [A, B] } });
  const members = await sms.groups.listMembers({ group_id: group.id });
  const groups = await all(sms.groups.list({}));
  const fetchedGroup = await sms.groups.get({ group_id: group.id });
  const updatedGroup = await sms.groups.update({
    group_id: group.id,
    updateGroupRequestBody: { add: ["+12025550145"], remove: [A], name: "Renamed" },
  });
  const replacedGroup = await sms.groups.replace({
    group_id: group.id,
    replaceGroupRequestBody: { name: "Replaced", members: [B] },
  });
  await sms.groups.delete({ group_id: group.id });
  const later = new Date(Date.now() + 3600 * 1000);
  const scheduled = await sms.batches.sendTextMessage({
    sendSMSRequestBody: { to: [A], from: "+12025550100", body: "later", send_at: later },
  });
  const updated = await sms.batches.update({
    batch_id: scheduled.id,
    updateBatchMessageRequestBody: { type: "mt_text", body: "sooner", to_add: [B] },
  });
  const replaced = await sms.batches.replace({
    batch_id: scheduled.id,
    replaceBatchMessageRequestBody: { to: [B], from: "+12025550100", body: "replaced", send_at: later },
  });
  const inbounds = await all(sms.inbounds.list({}));
  const inbound = inboundId ? await sms.inbounds.get({ inbound_id: inboundId }) : null;
  let missing = null;
  try {
    await sms.batches.get({ batch_id: "01ARZ3NDEKTSV4RRFFQ69G5FAV" });
  } catch (error) {
    missing = String(error && error.message ? error.message : error);
  }
  return {
    dry: [dry.number_of_recipients, dry.number_of_messages, dry.per_recipient[0].encoding],
    byReference: byReference.map((b) => b.id),
    bySender: bySender.map((b) => b.id),
    first: first.id,
    second: second.id,
    canceled: canceled.canceled,
    report: report.statuses.map((s) => [s.status, s.count]),
    one: [one.recipient, one.status, one.code],
    reports: reports.map((r) => r.recipient).sort(),
    binary: [fetchedBinary.type, fetchedBinary.udh],
    group: [group.size, members.sort(), groups.map((g) => g.id).includes(group.id)],
    groupCalls: [fetchedGroup.name, updatedGroup.name, updatedGroup.size, replacedGroup.name, replacedGroup.size],
    scheduled: [updated.body, updated.to.sort(), replaced.id === scheduled.id, replaced.body, replaced.to],
    inbounds: inbounds.map((m) => m.id),
    inbound: inbound && inbound.body,
    missing,
  };
}

require("./cli.cjs")(module, run);
