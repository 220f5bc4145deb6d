// Retries and the dead letter queue (spec §3.5, §7, §11.3, §11.9).
//
// User 3 (the Python suite's DLQ tests run as user 2). Every listing filters by
// a fresh label or url so other tests' entries never matter.

import { test } from "node:test";
import { assert, eventually, fresh, rejectsWithStatus, useDepesha } from "./helpers.mjs";

const env = useDepesha({ user: 3 });

/** Publish `n` messages to a 500-ing path with retries: 1; wait until all are in the DLQ. */
async function deadLetters(n, { label = fresh("lbl"), status = 500, body = "boom" } = {}) {
  const { client, receiver } = env;
  const p = `/${fresh("fail")}`;
  receiver.on(p, { status, body, headers: { "X-Why": "testing" } });
  const ids = [];
  for (let i = 0; i < n; i++) {
    const res = await client.publishJSON({
      url: receiver.url(p),
      body: { i },
      retries: 1,
      retryDelay: "50",
      label,
    });
    ids.push(res.messageId);
  }
  const entries = await eventually(
    async () => {
      const { messages } = await client.dlq.listMessages({ filter: { label } });
      return messages.length === n && messages;
    },
    { what: `${n} DLQ entries labelled ${label}` },
  );
  return { p, ids, label, entries };
}

test("a 500-ing endpoint with retries: 1 is tried twice, then lands in the DLQ with its last response", async () => {
  const { client, receiver } = env;
  const { p, ids, label, entries } = await deadLetters(1, { body: "the last words" });
  const attempts = receiver.got(p);
  assert.deepEqual(
    attempts.map((r) => r.header("upstash-retried")),
    ["0", "1"],
    "1 + retries attempts, Upstash-Retried counting up",
  );
  const [e] = entries;
  assert.equal(e.messageId, ids[0]);
  assert.equal(typeof e.dlqId, "string");
  assert.ok(e.dlqId.length > 0);
  assert.equal(e.responseStatus, 500);
  assert.equal(e.responseBody, "the last words");
  assert.deepEqual(e.responseHeader?.["X-Why"], ["testing"]);
  assert.equal(e.url, receiver.url(p));
  assert.equal(e.method, "POST");
  assert.equal(e.maxRetries, 1);
  assert.equal(e.body, '{"i":0}');
  assert.deepEqual(e.labels, [label]);
  assert.equal(typeof e.createdAt, "number");
  assert.equal(typeof e.notBefore, "number");
  // the only page: cursor absent (spec §2.3)
  const page = await client.dlq.listMessages({ filter: { label } });
  assert.equal(page.cursor, undefined);
  assert.ok(!("cursor" in page) || page.cursor === undefined);
});

test("dlq.listMessages pages with count; the cursor is undefined on the last page", async () => {
  const { client } = env;
  const { label, entries } = await deadLetters(3);
  const seen = [];
  let cursor;
  let pages = 0;
  do {
    const page = await client.dlq.listMessages({ count: 2, cursor, filter: { label } });
    seen.push(...page.messages.map((m) => m.dlqId));
    cursor = page.cursor;
    pages++;
    assert.ok(pages <= 3, "paging does not end");
  } while (cursor !== undefined);
  assert.equal(pages, 2);
  assert.deepEqual([...seen].sort(), entries.map((e) => e.dlqId).sort());
});

test("dlq.listMessages({dlqIds}) returns exactly those entries", async () => {
  const { client } = env;
  const { entries } = await deadLetters(2);
  const { messages, cursor } = await client.dlq.listMessages({ dlqIds: [entries[1].dlqId] });
  assert.deepEqual(
    messages.map((m) => m.dlqId),
    [entries[1].dlqId],
  );
  assert.equal(cursor, undefined);
});

test("dlq.delete(id) removes the entry; deleting it again is a 404", async () => {
  const { client } = env;
  const { label, entries } = await deadLetters(1);
  const res = await client.dlq.delete(entries[0].dlqId);
  assert.deepEqual(res, { deleted: 1 });
  const { messages } = await client.dlq.listMessages({ filter: { label } });
  assert.deepEqual(messages, []);
  await rejectsWithStatus(client.dlq.delete(entries[0].dlqId), 404);
});

test("dlq.deleteMany / delete([ids]) bulk-delete by query dlqIds and report the count without a cursor", async () => {
  const { client } = env;
  const { label, entries } = await deadLetters(3);
  const ids = entries.map((e) => e.dlqId);
  const res = await client.dlq.deleteMany({ dlqIds: ids.slice(0, 2) });
  assert.equal(res.deleted, 2);
  assert.equal(res.cursor, undefined);
  const again = await client.dlq.delete([ids[2]]);
  assert.equal(again.deleted, 1);
  assert.equal(again.cursor, undefined);
  const { messages } = await client.dlq.listMessages({ filter: { label } });
  assert.deepEqual(messages, []);
});

test("dlq.delete({filter}) with no match deletes nothing and has no cursor", async () => {
  const res = await env.client.dlq.delete({ filter: { label: fresh("nomatch") } });
  assert.equal(res.deleted, 0);
  assert.equal(res.cursor, undefined);
});

test("dlq.retry([ids]) republishes the entries as new messages and removes them from the DLQ", async () => {
  const { client, receiver } = env;
  const { p, label, entries, ids } = await deadLetters(2);
  receiver.on(p, { status: 200, body: "fine now" });
  const res = await client.dlq.retry(entries.map((e) => e.dlqId));
  assert.equal(res.cursor, undefined);
  assert.equal(res.responses.length, 2);
  for (const r of res.responses) {
    assert.equal(typeof r.messageId, "string");
    assert.ok(!ids.includes(r.messageId), "a retry is a new message");
  }
  // both are delivered again (2 failed attempts each before, +1 now)
  const got = await receiver.waitFor(6, p);
  const delivered = got.slice(4).map((r) => r.header("upstash-message-id"));
  assert.deepEqual(delivered.sort(), res.responses.map((r) => r.messageId).sort());
  const { messages } = await client.dlq.listMessages({ filter: { label } });
  assert.deepEqual(messages, []);
  await rejectsWithStatus(client.dlq.delete(entries[0].dlqId), 404);
});

test("dlq.retry({filter}) retries the matching entries only", async () => {
  const { client, receiver } = env;
  const keep = await deadLetters(1);
  const { p, label } = await deadLetters(1);
  receiver.on(p, { status: 200 });
  const res = await client.dlq.retry({ filter: { label } });
  assert.equal(res.responses.length, 1);
  assert.equal(res.cursor, undefined);
  await receiver.waitFor(3, p);
  const left = await client.dlq.listMessages({ filter: { label: keep.label } });
  assert.equal(left.messages.length, 1);
});

test("a DLQ entry is invisible to another user", async () => {
  const { entries } = await deadLetters(1);
  const other = env.clientFor(2);
  const { messages } = await other.dlq.listMessages({ dlqIds: [entries[0].dlqId] });
  assert.deepEqual(messages, []);
  await rejectsWithStatus(other.dlq.delete(entries[0].dlqId), 404);
});
