// Queues: management, enqueue, FIFO, pause (spec §3.2, §3.3, §3.7, §11.10).
//
// User 3 (the Python suite's queue tests, in test_batch.py, run as user 1).

import { test } from "node:test";
import { assert, eventually, fresh, rejectsWithStatus, useDepesha } from "./helpers.mjs";

const env = useDepesha({ user: 3 });

function assertQueueShape(q, name) {
  assert.deepEqual(
    Object.keys(q).filter((k) => ["name", "createdAt", "updatedAt", "parallelism", "lag", "paused"].includes(k)).sort(),
    ["createdAt", "lag", "name", "parallelism", "paused", "updatedAt"],
    `all six Queue fields present: ${JSON.stringify(q)}`,
  );
  assert.equal(q.name, name);
  assert.equal(typeof q.createdAt, "number");
  assert.equal(typeof q.updatedAt, "number");
  assert.equal(typeof q.parallelism, "number");
  assert.equal(typeof q.lag, "number");
  assert.equal(typeof q.paused, "boolean");
}

test("upsert / get / list / pause / resume / delete manage a queue with all six fields", async () => {
  const { client } = env;
  const queueName = fresh("queue");
  const queue = client.queue({ queueName });
  const before = Date.now();
  await queue.upsert({ parallelism: 2 });
  const q = await queue.get();
  assertQueueShape(q, queueName);
  assert.equal(q.parallelism, 2);
  assert.equal(q.lag, 0);
  assert.equal(q.paused, false);
  assert.ok(q.createdAt >= before - 5_000 && q.createdAt <= Date.now() + 5_000, "createdAt in unix ms");

  const listed = (await queue.list()).find((x) => x.name === queueName);
  assert.ok(listed, "list contains the queue");
  assertQueueShape(listed, queueName);

  await queue.upsert({ parallelism: 1 });
  const updated = await queue.get();
  assert.equal(updated.parallelism, 1);
  assert.equal(updated.createdAt, q.createdAt);
  assert.ok(updated.updatedAt >= q.updatedAt);

  await queue.pause();
  assert.equal((await queue.get()).paused, true);
  await queue.pause(); // idempotent
  assert.equal((await queue.get()).paused, true);
  await queue.resume();
  assert.equal((await queue.get()).paused, false);

  await queue.delete();
  await rejectsWithStatus(queue.get(), 404);
  assert.ok(!(await queue.list()).some((x) => x.name === queueName));
});

test("upsert({paused: true}) creates the queue paused", async () => {
  const queue = env.client.queue({ queueName: fresh("paused") });
  await queue.upsert({ paused: true });
  const q = await queue.get();
  assert.equal(q.paused, true);
  assert.equal(q.parallelism, 1, "default parallelism 1");
  await queue.delete();
});

test("enqueueJSON delivers like a publish; the queue is created on first use with parallelism 1", async () => {
  const { client, receiver, user } = env;
  const queueName = fresh("auto");
  const p = `/${fresh("enq")}`;
  const res = await client.queue({ queueName }).enqueueJSON({ url: receiver.url(p), body: { q: 1 } });
  assert.equal(typeof res.messageId, "string");
  const [req] = await receiver.waitFor(1, p);
  assert.equal(req.text, '{"q":1}');
  assert.equal(req.header("upstash-message-id"), res.messageId);
  await env.sdkReceiverFor(user.number).verify({ signature: req.header("upstash-signature"), body: req.text, url: receiver.url(p) });
  const q = await client.queue({ queueName }).get();
  assertQueueShape(q, queueName);
  assert.equal(q.parallelism, 1);
  await client.queue({ queueName }).delete();
});

test("FIFO with parallelism 1: five slow deliveries never overlap and arrive in enqueue order", async () => {
  const { client, receiver } = env;
  const queueName = fresh("fifo");
  const queue = client.queue({ queueName });
  await queue.upsert({ parallelism: 1 });
  const p = `/${fresh("slow")}`;
  receiver.on(p, { status: 200, delayMs: 200 });
  for (let i = 0; i < 5; i++) await queue.enqueueJSON({ url: receiver.url(p), body: { i } });
  const got = await receiver.waitFor(5, p, { timeout: 30_000 });
  await eventually(() => got.every((r) => r.endedAt !== undefined));
  assert.equal(receiver.maxActive.get(p), 1, "at most one delivery open at a time");
  assert.deepEqual(
    got.map((r) => r.json().i),
    [0, 1, 2, 3, 4],
  );
  for (let i = 1; i < got.length; i++) {
    assert.ok(got[i].startedAt >= got[i - 1].endedAt, `delivery ${i} started before ${i - 1} was answered`);
  }
  await queue.delete();
});

test("a paused queue accepts messages but delivers them only after resume", async () => {
  const { client, receiver } = env;
  const queueName = fresh("hold");
  const queue = client.queue({ queueName });
  await queue.upsert({ parallelism: 1 });
  await queue.pause();
  const p = `/${fresh("held")}`;
  await queue.enqueue({ url: receiver.url(p), body: "a" });
  await queue.enqueue({ url: receiver.url(p), body: "b" });
  await receiver.assertStays(0, p);
  const q = await queue.get();
  assert.equal(q.paused, true);
  assert.equal(q.lag, 2, "two messages waiting");
  await queue.resume();
  const got = await receiver.waitFor(2, p);
  assert.deepEqual(
    got.map((r) => r.text),
    ["a", "b"],
  );
  await eventually(async () => (await queue.get()).lag === 0, { what: "lag back to 0" });
  await queue.delete();
});

test("a batch item with queueName is enqueued on that queue", async () => {
  const { client, receiver } = env;
  const queueName = fresh("bq");
  const queue = client.queue({ queueName });
  await queue.upsert({ parallelism: 1 });
  await queue.pause();
  const p = `/${fresh("bqitem")}`;
  const direct = `/${fresh("bqdirect")}`;
  const res = await client.batchJSON([
    { url: receiver.url(p), body: { via: "queue" }, queueName },
    { url: receiver.url(direct), body: { via: "direct" } },
  ]);
  assert.equal(res.length, 2);
  await receiver.waitFor(1, direct);
  await receiver.assertStays(0, p); // held by the paused queue
  await queue.resume();
  const [req] = await receiver.waitFor(1, p);
  assert.equal(req.header("upstash-message-id"), res[0].messageId);
  await queue.delete();
});

test("a queue name with characters outside [A-Za-z0-9-_.] is rejected", async () => {
  await rejectsWithStatus(env.client.queue({ queueName: "bad name!" }).upsert({ parallelism: 1 }), 400);
});
