// Flow control: limits enforced at the destination, and the management API
// (spec §3.10, §4.2 Upstash-Flow-Control-*, §11.10).
//
// User 3. Timing: the suite measures at the receiver and only asserts bounds
// that a correct server cannot miss (never "it was fast").

import { test } from "node:test";
import { assert, eventually, fresh, rejectsWithStatus, sleep, useDepesha } from "./helpers.mjs";

const env = useDepesha({ user: 3 });

// Receiver-side timestamps lag the server's activation by a variable amount
// (scheduling, connection set-up); allow that much slack on time bounds.
const SLACK_MS = 250;

async function settledInfo(key, pred, what) {
  return eventually(
    async () => {
      const info = await env.client.flowControl.get(key);
      return pred(info) && info;
    },
    { what },
  );
}

test("parallelism 1: four slow deliveries with one key never overlap at the receiver", async () => {
  const { client, receiver } = env;
  const key = fresh("par");
  const p = `/${fresh("slowpar")}`;
  receiver.on(p, { status: 200, delayMs: 300 });
  for (let i = 0; i < 4; i++) {
    await client.publishJSON({ url: receiver.url(p), body: { i }, flowControl: { key, parallelism: 1 } });
  }
  const got = await receiver.waitFor(4, p, { timeout: 30_000 });
  await eventually(() => got.every((r) => r.endedAt !== undefined));
  assert.equal(receiver.maxActive.get(p), 1, "observed concurrency exceeded parallelism 1");
  const sorted = [...got].sort((a, b) => a.startedAt - b.startedAt);
  for (let i = 1; i < sorted.length; i++) {
    assert.ok(sorted[i].startedAt >= sorted[i - 1].endedAt, `delivery ${i} overlapped the one before`);
  }
});

test("parallelism 2 allows two at once but never three", async () => {
  const { client, receiver } = env;
  const key = fresh("par2");
  const p = `/${fresh("slowpar2")}`;
  receiver.on(p, { status: 200, delayMs: 400 });
  await client.batchJSON(
    [0, 1, 2, 3, 4, 5].map((i) => ({ url: receiver.url(p), body: { i }, flowControl: { key, parallelism: 2 } })),
  );
  await receiver.waitFor(6, p, { timeout: 30_000 });
  assert.ok(receiver.maxActive.get(p) <= 2, `max ${receiver.maxActive.get(p)} open at once`);
});

test("rate 2 per 2s: no window of one period holds more than two periods' worth of starts", async () => {
  // A server may count the rate in fixed periods (QStash's ratePeriodStart /
  // rateCount suggest so), where 2 starts at the end of one period and 2 at
  // the start of the next are legal. What every correct implementation obeys:
  //   * any sliding window of length `period` holds at most 2 * rate starts;
  //   * n starts need at least ceil(n / rate) periods, so start[i + 2*rate]
  //     comes at least one full period after start[i].
  // The second check fails for a server that ignores the rate.
  const { client, receiver } = env;
  const key = fresh("rate");
  const p = `/${fresh("rated")}`;
  const RATE = 2;
  const PERIOD_MS = 2_000;
  const N = 7;
  await client.batchJSON(
    Array.from({ length: N }, (_, i) => ({
      url: receiver.url(p),
      body: { i },
      flowControl: { key, rate: RATE, period: "2s" },
    })),
  );
  const got = await receiver.waitFor(N, p, { timeout: 30_000 });
  const starts = got.map((r) => r.startedAt).sort((a, b) => a - b);
  for (let i = 0; i + 2 * RATE < starts.length; i++) {
    const gap = starts[i + 2 * RATE] - starts[i];
    assert.ok(
      gap >= PERIOD_MS - SLACK_MS,
      `${2 * RATE + 1} starts within ${gap} ms (< one ${PERIOD_MS} ms period): ${starts.map((s) => s - starts[0])}`,
    );
  }
  const span = starts.at(-1) - starts[0];
  const minPeriods = Math.ceil(N / RATE) - 2; // first and last period may be partial
  assert.ok(span >= minPeriods * PERIOD_MS - SLACK_MS, `all ${N} started within ${span} ms`);

  const info = await client.flowControl.get(key);
  assert.equal(info.rateMax, RATE);
  assert.equal(info.ratePeriod, 2);
});

test("flowControl.get(key) reports the key's configuration and counters", async () => {
  const { client, receiver } = env;
  const key = fresh("info");
  const p = `/${fresh("info")}`;
  const before = Math.floor(Date.now() / 1000);
  await client.publish({ url: receiver.url(p), body: "i", flowControl: { key, parallelism: 3, rate: 10, period: 60 } });
  await receiver.waitFor(1, p);
  const info = await settledInfo(key, (i) => i.parallelismCount === 0 && i.waitListSize === 0, "the delivery settled");
  assert.equal(info.flowControlKey, key);
  assert.equal(info.parallelismMax, 3);
  assert.equal(info.parallelismCount, 0);
  assert.equal(info.rateMax, 10);
  assert.equal(info.rateCount, 1, "one start in the current 60 s period");
  assert.equal(info.ratePeriod, 60, "period in seconds");
  assert.equal(typeof info.ratePeriodStart, "number");
  assert.ok(
    info.ratePeriodStart >= before - 1 && info.ratePeriodStart <= Date.now() / 1000 + 1,
    `ratePeriodStart is unix seconds: ${info.ratePeriodStart}`,
  );
  assert.equal(info.waitListSize, 0);
  assert.equal(info.isPaused, false);
  assert.equal(info.isPinnedParallelism, false);
  assert.equal(info.isPinnedRate, false);
});

test("flowControl.get of an unknown key is a 404 (a known one answers)", async () => {
  const { client, receiver } = env;
  const key = fresh("known");
  await client.publish({ url: receiver.url(`/${key}`), body: "k", flowControl: { key, parallelism: 1 } });
  assert.equal((await client.flowControl.get(key)).flowControlKey, key);
  await rejectsWithStatus(client.flowControl.get(fresh("nokey")), 404);
});

test("pause holds new messages in the wait list; resume delivers them", async () => {
  const { client, receiver } = env;
  const key = fresh("pause");
  const p = `/${fresh("paused")}`;
  await client.publish({ url: receiver.url(p), body: "first", flowControl: { key, parallelism: 5 } });
  await receiver.waitFor(1, p);
  await client.flowControl.pause(key);
  assert.equal((await client.flowControl.get(key)).isPaused, true);
  await client.publish({ url: receiver.url(p), body: "held", flowControl: { key, parallelism: 5 } });
  await receiver.assertStays(1, p);
  assert.equal((await client.flowControl.get(key)).waitListSize, 1);
  await client.flowControl.resume(key);
  assert.equal((await client.flowControl.get(key)).isPaused, false);
  const got = await receiver.waitFor(2, p);
  assert.equal(got[1].text, "held");
  await settledInfo(key, (i) => i.waitListSize === 0, "wait list drained");
});

test("pin overrides the messages' limits; unpin releases parallelism and rate independently", async () => {
  const { client, receiver } = env;
  const key = fresh("pin");
  const p = `/${fresh("pinned")}`;
  const fc = { key, parallelism: 1, rate: 1, period: 1 };
  await client.publish({ url: receiver.url(p), body: "a", flowControl: fc });
  await receiver.waitFor(1, p);

  await client.flowControl.pin(key, { parallelism: 3, rate: 20, period: 120 });
  let info = await client.flowControl.get(key);
  assert.equal(info.parallelismMax, 3);
  assert.equal(info.rateMax, 20);
  assert.equal(info.ratePeriod, 120);
  assert.equal(info.isPinnedParallelism, true);
  assert.equal(info.isPinnedRate, true);

  // a new message's own limits are ignored while pinned
  await client.publish({ url: receiver.url(p), body: "b", flowControl: fc });
  await receiver.waitFor(2, p);
  info = await client.flowControl.get(key);
  assert.equal(info.parallelismMax, 3);
  assert.equal(info.rateMax, 20);

  await client.flowControl.unpin(key, { parallelism: true, rate: false });
  info = await client.flowControl.get(key);
  assert.equal(info.isPinnedParallelism, false);
  assert.equal(info.isPinnedRate, true);
  assert.equal(info.parallelismMax, 3, "the pinned value stays until a message brings a new one");

  await client.flowControl.unpin(key, { parallelism: false, rate: true });
  info = await client.flowControl.get(key);
  assert.equal(info.isPinnedParallelism, false);
  assert.equal(info.isPinnedRate, false);

  // unpinned: the next message's limits apply again
  await client.publish({ url: receiver.url(p), body: "c", flowControl: { key, parallelism: 2, rate: 7, period: 30 } });
  await receiver.waitFor(3, p);
  info = await settledInfo(key, (i) => i.parallelismMax === 2, "the message's parallelism applied");
  assert.equal(info.rateMax, 7);
  assert.equal(info.ratePeriod, 30);
});

test("resetRate zeroes the rate count and starts a new period now", async () => {
  const { client, receiver } = env;
  const key = fresh("reset");
  const p = `/${fresh("reset")}`;
  for (let i = 0; i < 3; i++) {
    await client.publish({ url: receiver.url(p), body: `r${i}`, flowControl: { key, rate: 100, period: "1h" } });
  }
  await receiver.waitFor(3, p);
  const counted = await settledInfo(key, (i) => i.rateCount === 3, "rateCount 3");
  await sleep(1_100); // so that "a new period starts now" is observable in unix seconds
  const before = Math.floor(Date.now() / 1000);
  await client.flowControl.resetRate(key);
  const info = await client.flowControl.get(key);
  assert.equal(info.rateCount, 0);
  assert.ok(info.ratePeriodStart >= before, `ratePeriodStart ${info.ratePeriodStart} < reset time ${before}`);
  assert.ok(info.ratePeriodStart > counted.ratePeriodStart);
});

test("flowControl.getGlobalParallelism answers parallelismMax and parallelismCount", async () => {
  const g = await env.client.flowControl.getGlobalParallelism();
  assert.equal(typeof g.parallelismMax, "number");
  assert.equal(typeof g.parallelismCount, "number");
  assert.ok(g.parallelismCount >= 0);
});

test("a flow-controlled message reads back flowControlKey, parallelism, rate and period in seconds", async () => {
  const { client, receiver } = env;
  const key = fresh("msgfc");
  const { messageId } = await client.publish({
    url: receiver.url(`/${fresh("fcmsg")}`),
    body: "later",
    delay: "1h",
    flowControl: { key, parallelism: 2, rate: 5, period: "1d" },
  });
  const msg = await client.messages.get(messageId);
  assert.equal(msg.flowControlKey, key);
  assert.equal(msg.parallelism, 2);
  assert.equal(msg.rate, 5);
  assert.equal(msg.period, 86_400);
  await client.messages.cancel(messageId);
});

test("another user's flow-control key is invisible", async () => {
  const { client, receiver } = env;
  const key = fresh("mine");
  await client.publish({ url: receiver.url(`/${key}`), body: "k", flowControl: { key, parallelism: 1 } });
  await client.flowControl.get(key);
  await rejectsWithStatus(env.clientFor(2).flowControl.get(key), 404);
});
