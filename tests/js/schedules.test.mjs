// Schedules (spec §3.8, §11.8). A real cron tick takes up to a minute; that is
// covered by the Rust tests with a manual clock. Here it runs only on request
// (DEPESHA_JS_SLOW=1) and is bounded to 70 s.

import { test } from "node:test";
import { assert, fresh, rejectsWithStatus, useDepesha } from "./helpers.mjs";

const env = useDepesha({ user: 2 });

test("create with every option answers {scheduleId}; get reads the settings back (trimmed cron, canonical headers, delay in seconds)", async () => {
  const { client, receiver } = env;
  const scheduleId = fresh("sched");
  const destination = receiver.url(`/${scheduleId}`);
  const before = Date.now();
  const res = await client.schedules.create({
    destination,
    cron: "* * * * * ",
    body: '{"scheduled":true}',
    headers: { "test-header": "test-value", "Upstash-Forward-bypass-tunnel-reminder": "client-test" },
    retries: 2,
    delay: 10,
    timeout: 30,
    callback: receiver.url("/sched-callback"),
    failureCallback: receiver.url("/sched-failure"),
    method: "GET",
    scheduleId,
  });
  assert.deepEqual(res, { scheduleId });

  const s = await client.schedules.get(scheduleId);
  assert.equal(s.scheduleId, scheduleId);
  assert.equal(s.cron, "* * * * *", "cron read back trimmed");
  assert.equal(s.destination, destination);
  assert.equal(s.method, "GET");
  assert.deepEqual(s.header, {
    "Test-Header": ["test-value"],
    "Bypass-Tunnel-Reminder": ["client-test"],
    "Content-Type": ["application/json"], // the SDK adds it when none was given
  });
  assert.equal(s.body, '{"scheduled":true}');
  assert.equal(s.retries, 2);
  assert.equal(s.delay, 10, "delay in seconds");
  assert.equal(s.callback, receiver.url("/sched-callback"));
  assert.equal(s.failureCallback, receiver.url("/sched-failure"));
  assert.equal(s.isPaused, false);
  assert.equal(typeof s.createdAt, "number");
  assert.ok(s.createdAt >= before - 5_000 && s.createdAt <= Date.now() + 5_000, "createdAt in unix ms");
  await client.schedules.delete(scheduleId);
});

test("list contains the caller's schedules", async () => {
  const { client, receiver } = env;
  const a = await client.schedules.create({ destination: receiver.url("/list-a"), cron: "0 0 1 1 *" });
  const b = await client.schedules.create({ destination: receiver.url("/list-b"), cron: "0 0 1 1 *" });
  const list = await client.schedules.list();
  assert.ok(Array.isArray(list));
  const ids = list.map((s) => s.scheduleId);
  assert.ok(ids.includes(a.scheduleId) && ids.includes(b.scheduleId), JSON.stringify(ids));
  const entry = list.find((s) => s.scheduleId === a.scheduleId);
  assert.equal(entry.destination, receiver.url("/list-a"));
  assert.equal(entry.cron, "0 0 1 1 *");
  assert.equal(entry.method, "POST");
  assert.equal(typeof entry.retries, "number");
  assert.ok(/^[A-Za-z0-9_.-]+$/.test(a.scheduleId), `generated id is path safe: ${a.scheduleId}`);
  await client.schedules.delete(a.scheduleId);
  await client.schedules.delete(b.scheduleId);
});

test("pause / resume (the SDK sends PATCH) are reflected in isPaused", async () => {
  const { client, receiver } = env;
  const { scheduleId } = await client.schedules.create({ destination: receiver.url("/pausable"), cron: "* * * * *" });
  await client.schedules.pause({ schedule: scheduleId });
  assert.equal((await client.schedules.get(scheduleId)).isPaused, true);
  assert.equal((await client.schedules.list()).find((s) => s.scheduleId === scheduleId).isPaused, true);
  await client.schedules.resume({ schedule: scheduleId });
  assert.equal((await client.schedules.get(scheduleId)).isPaused, false);
  await client.schedules.delete(scheduleId);
});

test("delete removes the schedule: get is a 404 and list no longer has it", async () => {
  const { client, receiver } = env;
  const { scheduleId } = await client.schedules.create({ destination: receiver.url("/deleted"), cron: "* * * * *" });
  await client.schedules.delete(scheduleId);
  await rejectsWithStatus(client.schedules.get(scheduleId), 404);
  assert.ok(!(await client.schedules.list()).some((s) => s.scheduleId === scheduleId));
});

test("creating again with the same scheduleId replaces all settings", async () => {
  const { client, receiver } = env;
  const scheduleId = fresh("replace");
  await client.schedules.create({
    destination: receiver.url("/v1"),
    cron: "* * * * *",
    body: "first",
    retries: 1,
    method: "PUT",
    scheduleId,
  });
  const again = await client.schedules.create({ destination: receiver.url("/v2"), cron: "0 * * * *", scheduleId });
  assert.equal(again.scheduleId, scheduleId);
  const s = await client.schedules.get(scheduleId);
  assert.equal(s.destination, receiver.url("/v2"));
  assert.equal(s.cron, "0 * * * *");
  assert.equal(s.body, undefined, "body of the first create is gone");
  assert.equal(s.method, "POST");
  assert.equal(s.retries, 3, "default retries");
  assert.equal((await client.schedules.list()).filter((x) => x.scheduleId === scheduleId).length, 1);
  await client.schedules.delete(scheduleId);
});

test("queueName, flow control and label are read back", async () => {
  const { client, receiver } = env;
  const queueName = fresh("squeue");
  const key = fresh("sfc");
  const label = fresh("slbl");
  const { scheduleId } = await client.schedules.create({
    destination: receiver.url("/queued"),
    cron: "0 0 * * *",
    queueName,
    flowControl: { key, parallelism: 2, rate: 5, period: "1m" },
    label,
    retryDelay: "1000 * (1 + retried)",
  });
  const s = await client.schedules.get(scheduleId);
  assert.equal(s.queueName, queueName);
  assert.equal(s.flowControlKey, key);
  assert.equal(s.parallelism, 2);
  assert.equal(s.rate, 5);
  assert.equal(s.period, 60, "period in seconds");
  assert.deepEqual(s.labels, [label]);
  assert.equal(s.retryDelayExpression, "1000 * (1 + retried)");
  await client.schedules.delete(scheduleId);
});

test("an invalid cron is a 400", async () => {
  await rejectsWithStatus(
    env.client.schedules.create({ destination: env.receiver.url("/bad"), cron: "not a cron" }),
    400,
  );
});

test(
  "a * * * * * schedule fires within 70 s and the delivery carries Upstash-Schedule-Id",
  { skip: process.env.DEPESHA_JS_SLOW ? false : "waits for a cron minute; set DEPESHA_JS_SLOW=1 (Rust tests cover ticks with a manual clock)" },
  async () => {
    const { client, receiver } = env;
    const p = `/${fresh("tick")}`;
    const { scheduleId } = await client.schedules.create({ destination: receiver.url(p), cron: "* * * * *", body: "tick" });
    try {
      const [req] = await receiver.waitFor(1, p, { timeout: 70_000 });
      assert.equal(req.header("upstash-schedule-id"), scheduleId);
      assert.equal(req.text, "tick");
    } finally {
      await client.schedules.delete(scheduleId);
    }
  },
);
