// Deduplication and batch publishing (spec §3.3, §4.2, §11.6–7).
// URL-group and queue items of a batch are covered in url_groups / queues.

import { test } from "node:test";
import { assert, fresh, useDepesha } from "./helpers.mjs";

const env = useDepesha({ user: 2 });

test("a repeated deduplicationId returns the first messageId with deduplicated: true and delivers once", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("dedup")}`;
  const deduplicationId = fresh("dd");
  const first = await client.publishJSON({ url: receiver.url(p), body: { n: 1 }, deduplicationId });
  const second = await client.publishJSON({ url: receiver.url(p), body: { n: 2 }, deduplicationId });
  assert.notEqual(first.deduplicated, true);
  assert.equal(second.messageId, first.messageId);
  assert.equal(second.deduplicated, true);
  const [req] = await receiver.waitFor(1, p);
  assert.equal(req.text, '{"n":1}');
  await receiver.assertStays(1, p);
});

test("contentBasedDeduplication drops the identical second publish", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("cbd")}`;
  const body = { same: fresh("body") };
  const first = await client.publishJSON({ url: receiver.url(p), body, contentBasedDeduplication: true });
  const second = await client.publishJSON({ url: receiver.url(p), body, contentBasedDeduplication: true });
  assert.equal(second.messageId, first.messageId);
  assert.equal(second.deduplicated, true);
  // a different body is a different message
  const third = await client.publishJSON({ url: receiver.url(p), body: { other: 1 }, contentBasedDeduplication: true });
  assert.notEqual(third.messageId, first.messageId);
  assert.notEqual(third.deduplicated, true);
  await receiver.waitFor(2, p);
  await receiver.assertStays(2, p);
});

test("batchJSON with several items (lower-case header keys) answers in request order and delivers each", async () => {
  const { client, receiver } = env;
  const base = fresh("batch");
  const items = [0, 1, 2].map((i) => ({
    url: receiver.url(`/${base}/${i}`),
    body: { item: i },
    headers: { "X-Item": String(i) },
    method: i === 2 ? "PUT" : "POST",
  }));
  const res = await client.batchJSON(items);
  assert.ok(Array.isArray(res));
  assert.equal(res.length, 3);
  for (const [i, r] of res.entries()) {
    assert.ok(!Array.isArray(r), `item ${i} targets a URL: one object, got ${JSON.stringify(r)}`);
    assert.equal(typeof r.messageId, "string");
    const [req] = await receiver.waitFor(1, `/${base}/${i}`);
    assert.equal(req.header("upstash-message-id"), r.messageId, `item ${i} delivered under its own id`);
    assert.deepEqual(req.json(), { item: i });
    assert.equal(req.header("x-item"), String(i));
    assert.equal(req.header("content-type"), "application/json");
    assert.equal(req.method, i === 2 ? "PUT" : "POST");
  }
});

test("a single-item batch still answers an array; items carry their own delay", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("single")}`;
  const res = await client.batch([{ url: receiver.url(p), body: "one", delay: 60 }]);
  assert.ok(Array.isArray(res));
  assert.equal(res.length, 1);
  const msg = await client.messages.get(res[0].messageId);
  assert.ok(msg.notBefore >= msg.createdAt + 59_000, JSON.stringify(msg));
  assert.deepEqual(await client.messages.cancel(res[0].messageId), { cancelled: 1 });
});

test("batch items deduplicate like publishes", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("bdedup")}`;
  const deduplicationId = fresh("dd");
  const [a] = await client.batchJSON([{ url: receiver.url(p), body: { n: 1 }, deduplicationId }]);
  const [b] = await client.batchJSON([{ url: receiver.url(p), body: { n: 1 }, deduplicationId }]);
  assert.equal(b.messageId, a.messageId);
  assert.equal(b.deduplicated, true);
  await receiver.waitFor(1, p);
  await receiver.assertStays(1, p);
});
