// Logs (GET /v2/events through client.logs) (spec §1 states, §3.11, §11.9).

import { test } from "node:test";
import { assert, eventually, fresh, useDepesha } from "./helpers.mjs";

const env = useDepesha({ user: 2 });

const STATES = new Set(["CREATED", "ACTIVE", "RETRY", "ERROR", "DELIVERED", "FAILED", "CANCEL_REQUESTED", "CANCELED"]);

async function statesOf(query, want, what) {
  return eventually(
    async () => {
      const res = await env.client.logs(query);
      const states = res.logs.map((l) => l.state);
      return want.every((s) => states.includes(s)) && res;
    },
    { what },
  );
}

test("client.logs({filter: {messageId}}) shows CREATED … DELIVERED for a delivered message", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("logged")}`;
  const { messageId } = await client.publishJSON({ url: receiver.url(p), body: { l: 1 } });
  await receiver.waitFor(1, p);
  const res = await statesOf({ filter: { messageId } }, ["CREATED", "DELIVERED"], "CREATED and DELIVERED");
  assert.equal(res.cursor, undefined, "one page only: cursor absent");
  assert.deepEqual(res.events, res.logs, "the SDK exposes the same list as logs and events");
  for (const log of res.logs) {
    assert.equal(log.messageId, messageId);
    assert.ok(STATES.has(log.state), `unknown state ${log.state}`);
    assert.equal(typeof log.time, "number");
    assert.equal(log.url, receiver.url(p));
  }
  const time = (s) => res.logs.find((l) => l.state === s).time;
  assert.ok(time("CREATED") <= time("DELIVERED"));
  // default order: latest first
  const times = res.logs.map((l) => l.time);
  assert.deepEqual(times, [...times].sort((a, b) => b - a));
});

test("client.logs({messageIds}) (root form) filters the same way", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("root")}`;
  const a = await client.publish({ url: receiver.url(p), body: "a" });
  const b = await client.publish({ url: receiver.url(p), body: "b" });
  await client.publish({ url: receiver.url(p), body: "c" });
  await receiver.waitFor(3, p);
  const res = await statesOf({ messageIds: [a.messageId, b.messageId] }, ["DELIVERED"], "DELIVERED");
  assert.deepEqual(new Set(res.logs.map((l) => l.messageId)), new Set([a.messageId, b.messageId]));
});

test("a message that exhausts its retries logs ERROR, RETRY and FAILED", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("failing")}`;
  receiver.on(p, { status: 503, body: "down" });
  const { messageId } = await client.publish({ url: receiver.url(p), body: "x", retries: 1, retryDelay: "10" });
  const res = await statesOf(
    { filter: { messageId } },
    ["CREATED", "ERROR", "RETRY", "FAILED"],
    "CREATED, ERROR, RETRY, FAILED",
  );
  const errors = res.logs.filter((l) => l.state === "ERROR");
  assert.equal(errors.length, 2, "one ERROR per failed attempt");
  assert.ok(!res.logs.some((l) => l.state === "DELIVERED"));
});

test("logs page with count; every page but the last has a cursor", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("paged")}`;
  const label = fresh("lbl");
  for (let i = 0; i < 3; i++) await client.publish({ url: receiver.url(p), body: `p${i}`, label });
  await receiver.waitFor(3, p);
  const total = await eventually(
    async () => {
      const { logs } = await client.logs({ filter: { label } });
      return logs.filter((l) => l.state === "DELIVERED").length === 3 && logs.length;
    },
    { what: "three DELIVERED logs" },
  );
  assert.ok(total >= 6, `at least CREATED + DELIVERED per message, got ${total}`);
  const seen = [];
  let cursor;
  let pages = 0;
  do {
    const page = await client.logs({ count: 2, cursor, filter: { label } });
    assert.ok(page.logs.length <= 2);
    seen.push(...page.logs);
    cursor = page.cursor;
    assert.ok(++pages <= total, "paging does not end");
  } while (cursor !== undefined);
  assert.equal(seen.length, total, "pages cover every log line once");
  assert.equal(new Set(seen.map((l) => `${l.messageId}/${l.state}/${l.time}`)).size, total, "no line twice");
  // a full last page may still carry a cursor to one empty page; no more than that
  assert.ok(pages <= Math.ceil(total / 2) + 1, `${pages} pages for ${total} lines`);
});

test("logs of a URL filter are the caller's only", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("mine")}`;
  const other = env.clientFor(3);
  await other.publish({ url: receiver.url(p), body: "theirs" });
  await receiver.waitFor(1, p);
  await eventually(async () => (await other.logs({ filter: { url: receiver.url(p) } })).logs.length > 0);
  const mine = await client.logs({ filter: { url: receiver.url(p) } });
  assert.deepEqual(mine.logs, []);
});
