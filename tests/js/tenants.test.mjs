// Tenants (spec Appendix B): each token is a user with its own schedules,
// queues, URL groups, flow-control keys and messages. User A = 2, user B = 3.

import { test } from "node:test";
import { assert, fresh, rejectsWithStatus, useDepesha } from "./helpers.mjs";

const env = useDepesha({ user: 2 });
const B = 3;

test("user A's schedules, queues and URL groups are invisible to user B", async () => {
  const a = env.client;
  const b = env.clientFor(B);
  const { receiver } = env;
  const scheduleId = fresh("a-sched");
  const queueName = fresh("a-queue");
  const group = fresh("a-group");
  await a.schedules.create({ destination: receiver.url("/tenant"), cron: "0 0 1 1 *", scheduleId });
  await a.queue({ queueName }).upsert({ parallelism: 2 });
  await a.urlGroups.addEndpoints({ name: group, endpoints: [{ url: receiver.url("/tenant") }] });

  // B's listings do not contain them …
  assert.ok(!(await b.schedules.list()).some((s) => s.scheduleId === scheduleId), "B lists A's schedule");
  assert.ok(!(await b.queue().list()).some((q) => q.name === queueName), "B lists A's queue");
  assert.ok(!(await b.urlGroups.list()).some((g) => g.name === group), "B lists A's URL group");
  // … and B cannot read them by name
  await rejectsWithStatus(b.schedules.get(scheduleId), 404);
  await rejectsWithStatus(b.queue({ queueName }).get(), 404);
  await rejectsWithStatus(b.urlGroups.get(group), 404);
  // … nor publish through A's group
  await rejectsWithStatus(b.publish({ urlGroup: group, body: "x" }), 400, 404);

  // B's deletes and pauses do not reach A's objects
  await b.schedules.delete(scheduleId).catch(() => {});
  await b.schedules.pause({ schedule: scheduleId }).catch(() => {});
  await b.queue({ queueName }).delete().catch(() => {});
  await b.urlGroups.delete(group).catch(() => {});
  const s = await a.schedules.get(scheduleId);
  assert.equal(s.isPaused, false);
  assert.equal((await a.queue({ queueName }).get()).parallelism, 2);
  assert.deepEqual((await a.urlGroups.get(group)).endpoints, [{ url: receiver.url("/tenant") }]);

  await a.schedules.delete(scheduleId);
  await a.queue({ queueName }).delete();
  await a.urlGroups.delete(group);
});

test("the same names in two tenants are two independent objects", async () => {
  const a = env.client;
  const b = env.clientFor(B);
  const { receiver } = env;
  const name = fresh("shared-name");
  await a.queue({ queueName: name }).upsert({ parallelism: 1 });
  await b.queue({ queueName: name }).upsert({ parallelism: 4 });
  await a.urlGroups.addEndpoints({ name, endpoints: [{ url: receiver.url("/a") }] });
  await b.urlGroups.addEndpoints({ name, endpoints: [{ url: receiver.url("/b") }] });
  await a.schedules.create({ destination: receiver.url("/a"), cron: "0 0 1 1 *", scheduleId: name });
  await b.schedules.create({ destination: receiver.url("/b"), cron: "0 0 1 1 *", scheduleId: name });

  assert.equal((await a.queue({ queueName: name }).get()).parallelism, 1);
  assert.equal((await b.queue({ queueName: name }).get()).parallelism, 4);
  assert.deepEqual((await a.urlGroups.get(name)).endpoints, [{ url: receiver.url("/a") }]);
  assert.deepEqual((await b.urlGroups.get(name)).endpoints, [{ url: receiver.url("/b") }]);
  assert.equal((await a.schedules.get(name)).destination, receiver.url("/a"));
  assert.equal((await b.schedules.get(name)).destination, receiver.url("/b"));

  await b.queue({ queueName: name }).delete();
  await b.urlGroups.delete(name);
  await b.schedules.delete(name);
  assert.equal((await a.queue({ queueName: name }).get()).parallelism, 1, "A's queue survives B's delete");
  assert.equal((await a.urlGroups.get(name)).name, name);
  assert.equal((await a.schedules.get(name)).scheduleId, name);
  await a.queue({ queueName: name }).delete();
  await a.urlGroups.delete(name);
  await a.schedules.delete(name);
});

test("user A's messages are invisible to user B", async () => {
  const a = env.client;
  const b = env.clientFor(B);
  const { messageId } = await a.publish({ url: env.receiver.url(`/${fresh("amsg")}`), body: "a", delay: 60 });
  await rejectsWithStatus(b.messages.get(messageId), 404);
  await rejectsWithStatus(b.messages.cancel(messageId), 404);
  assert.equal((await a.messages.get(messageId)).messageId, messageId);
  assert.deepEqual(await a.messages.cancel(messageId), { cancelled: 1 });
});
