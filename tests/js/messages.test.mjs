// Delay, notBefore, reading and cancelling messages (spec §3.4, §11.5).
//
// User 4: this file cancels "all" messages; the Python suite's cancel_all runs
// as user 3, its user-4 tests (keys, bad input) leave nothing pending.

import { test } from "node:test";
import { assert, eventually, fresh, rejectsWithStatus, useDepesha } from "./helpers.mjs";

const USER = 4;
const OTHER_USER = 2;
const env = useDepesha({ user: USER });

test("delay is reflected in messages.get().notBefore and the message is not delivered early", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("delayed")}`;
  const before = Date.now();
  const { messageId } = await client.publishJSON({ url: receiver.url(p), body: { d: 1 }, delay: 60 });
  const msg = await client.messages.get(messageId);
  assert.equal(msg.messageId, messageId);
  assert.equal(msg.url, receiver.url(p));
  assert.equal(msg.method, "POST");
  assert.equal(msg.body, '{"d":1}');
  assert.equal(typeof msg.createdAt, "number");
  assert.equal(typeof msg.notBefore, "number");
  // unix milliseconds, about 60 s after publishing
  assert.ok(msg.notBefore >= before + 59_000, `notBefore ${msg.notBefore} < publish time + 59 s (${before})`);
  assert.ok(msg.notBefore <= Date.now() + 61_000, `notBefore ${msg.notBefore} too late`);
  assert.ok(msg.notBefore >= msg.createdAt + 59_000);
  await receiver.assertStays(0, p);
  assert.deepEqual(await client.messages.cancel(messageId), { cancelled: 1 });
});

test("notBefore (unix seconds) is read back as milliseconds and wins over delay", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("notbefore")}`;
  const notBefore = Math.floor(Date.now() / 1000) + 120;
  const { messageId } = await client.publish({ url: receiver.url(p), body: "nb", notBefore, delay: 5 });
  const msg = await client.messages.get(messageId);
  assert.equal(msg.notBefore, notBefore * 1000);
  await client.messages.cancel(messageId);
});

test("messages.get reads back the forwarded headers in canonical form, retries, label and callbacks", async () => {
  const { client, receiver } = env;
  const label = fresh("lbl");
  const { messageId } = await client.publishJSON({
    url: receiver.url(`/${fresh("detail")}`),
    body: { x: 1 },
    headers: { "test-header": "test-value" },
    retries: 2,
    callback: receiver.url("/cb"),
    failureCallback: receiver.url("/fcb"),
    label,
    delay: "1h",
  });
  const msg = await client.messages.get(messageId);
  assert.equal(msg.maxRetries, 2);
  assert.deepEqual(msg.header?.["Test-Header"], ["test-value"]);
  assert.deepEqual(msg.header?.["Content-Type"], ["application/json"]);
  assert.ok(
    !Object.keys(msg.header ?? {}).some((k) => /^upstash-/i.test(k) || /^authorization$/i.test(k)),
    `stored headers hold only what is forwarded: ${JSON.stringify(msg.header)}`,
  );
  assert.equal(msg.callback, receiver.url("/cb"));
  assert.equal(msg.failureCallback, receiver.url("/fcb"));
  assert.deepEqual(msg.labels, [label]);
  assert.equal(msg.label, label);
  await client.messages.cancel(messageId);
});

test("messages.cancel(id) answers {cancelled: 1}; the message is never delivered; logs show CANCEL_REQUESTED then CANCELED", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("cancel")}`;
  const { messageId } = await client.publish({ url: receiver.url(p), body: "c", delay: 2 });
  const res = await client.messages.cancel(messageId);
  assert.deepEqual(res, { cancelled: 1 });
  await receiver.assertStays(0, p, 3_000);
  // CANCEL_REQUESTED at once, CANCELED (single L) by the time it would have been due
  const states = await eventually(
    async () => {
      const { logs } = await client.logs({ messageIds: [messageId] });
      const s = logs.map((l) => l.state);
      return s.includes("CANCEL_REQUESTED") && s.includes("CANCELED") && s;
    },
    { what: "CANCEL_REQUESTED and CANCELED in the logs" },
  );
  assert.ok(!states.includes("DELIVERED"), `states: ${states}`);
  assert.ok(!states.includes("CANCELLED"), `states: ${states}`);
});

test("messages.cancel of an unknown id is a 404", async () => {
  await rejectsWithStatus(env.client.messages.cancel("msg_doesnotexist"), 404);
  await rejectsWithStatus(env.client.messages.get("msg_doesnotexist"), 404);
});

test("messages.cancel([ids]) cancels those by query messageIds; deprecated deleteMany returns the count", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("many")}`;
  const ids = [];
  for (let i = 0; i < 4; i++) {
    ids.push((await client.publish({ url: receiver.url(p), body: `m${i}`, delay: 30 })).messageId);
  }
  assert.deepEqual(await client.messages.cancel(ids.slice(0, 2)), { cancelled: 2 });
  assert.equal(await client.messages.deleteMany(ids.slice(2)), 2);
  await receiver.assertStays(0, p);
});

test("messages.cancel({filter: {label}}) cancels only the matching messages", async () => {
  const { client, receiver } = env;
  const label = fresh("lbl");
  const p = `/${fresh("bylabel")}`;
  const keep = await client.publish({ url: receiver.url(p), body: "keep", delay: 30, label: fresh("other") });
  await client.publish({ url: receiver.url(p), body: "drop1", delay: 30, label });
  await client.publish({ url: receiver.url(p), body: "drop2", delay: 30, label });
  const res = await client.messages.cancel({ filter: { label } });
  assert.equal(res.cancelled, 2);
  // the other one is still pending
  const kept = await client.messages.get(keep.messageId);
  assert.equal(kept.messageId, keep.messageId);
  await client.messages.cancel(keep.messageId);
});

test("messages.cancel({all: true}) cancels all own messages and none of another user's", async () => {
  const { client, receiver } = env;
  const other = env.clientFor(OTHER_USER);
  const p = `/${fresh("all")}`;
  const theirs = await other.publish({ url: receiver.url(p), body: "theirs", delay: 3 });
  for (let i = 0; i < 3; i++) await client.publish({ url: receiver.url(p), body: `mine${i}`, delay: 3 });
  const res = await client.messages.cancel({ all: true });
  assert.ok(res.cancelled >= 3, `cancelled ${res.cancelled}`);
  // the other tenant's message is untouched and gets delivered
  const [req] = await receiver.waitFor(1, p);
  assert.equal(req.text, "theirs");
  assert.equal(req.header("upstash-message-id"), theirs.messageId);
  await receiver.assertStays(1, p);
  // deprecated deleteAll: nothing left
  assert.equal(await client.messages.deleteAll(), 0);
});
