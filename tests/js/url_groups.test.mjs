// URL groups (REST: /v2/topics) and fan-out publishing (spec §3.1, §3.3, §3.6, §11.2, §11.10).

import { test } from "node:test";
import { assert, eventually, fresh, rejectsWithStatus, useDepesha } from "./helpers.mjs";

const env = useDepesha({ user: 2 });

test("addEndpoints creates the group; get reads endpoints back exactly as {name, url} in insertion order", async () => {
  const { client, receiver } = env;
  const name = fresh("group");
  const endpoints = [
    { name: "first", url: receiver.url(`/${name}/a`) },
    { url: receiver.url(`/${name}/b`) },
  ];
  const before = Date.now();
  await client.urlGroups.addEndpoints({ name, endpoints });
  const group = await client.urlGroups.get(name);
  assert.equal(group.name, name);
  // strict structural equality: no ids, no null names, nothing extra
  assert.deepStrictEqual(group.endpoints, endpoints);
  assert.equal(typeof group.createdAt, "number");
  assert.equal(typeof group.updatedAt, "number");
  assert.ok(group.createdAt >= before - 5_000 && group.createdAt <= Date.now() + 5_000, "createdAt in unix ms");

  // adding more keeps the old ones first
  const third = { name: "third", url: receiver.url(`/${name}/c`) };
  await client.urlGroups.addEndpoints({ name, endpoints: [third] });
  const grown = await client.urlGroups.get(name);
  assert.deepStrictEqual(grown.endpoints, [...endpoints, third]);
  assert.ok(grown.updatedAt >= group.updatedAt);
  assert.equal(grown.createdAt, group.createdAt);

  const listed = (await client.urlGroups.list()).find((g) => g.name === name);
  assert.ok(listed, "list contains the group");
  assert.deepStrictEqual(listed.endpoints, [...endpoints, third]);
  await client.urlGroups.delete(name);
});

test("publishing to a group name fans out: bare array response, each delivery carries Upstash-Topic-Name", async () => {
  const { client, receiver, user } = env;
  const name = fresh("fan");
  const urls = [receiver.url(`/${name}/1`), receiver.url(`/${name}/2?x=y`)];
  await client.urlGroups.addEndpoints({ name, endpoints: [{ name: "one", url: urls[0] }, { url: urls[1] }] });

  const res = await client.publishJSON({ urlGroup: name, body: { fan: "out" } });
  assert.ok(Array.isArray(res), `group publish answers a bare array, got ${JSON.stringify(res)}`);
  assert.equal(res.length, 2);
  assert.deepEqual(res.map((r) => r.url).sort(), [...urls].sort());
  assert.equal(new Set(res.map((r) => r.messageId)).size, 2, "one message per endpoint");

  for (const [i, url] of urls.entries()) {
    const [req] = await receiver.waitFor(1, new URL(url).pathname);
    assert.equal(req.header("upstash-topic-name"), name);
    assert.equal(req.text, '{"fan":"out"}');
    const mine = res.find((r) => r.url === url);
    assert.equal(req.header("upstash-message-id"), mine.messageId, `endpoint ${i}`);
    // sub = the endpoint's own URL
    await env.sdkReceiverFor(user.number).verify({ signature: req.header("upstash-signature"), body: req.text, url });
  }
  const msg = await client.messages.get(res[0].messageId).catch(() => undefined);
  if (msg) {
    assert.equal(msg.topicName, name);
    assert.equal(msg.urlGroup, name);
  }
  await client.urlGroups.delete(name);
});

test("removeEndpoints by url and by name; removing the last endpoint deletes the group", async () => {
  const { client, receiver } = env;
  const name = fresh("shrink");
  const a = { name: "a", url: receiver.url(`/${name}/a`) };
  const b = { name: "b", url: receiver.url(`/${name}/b`) };
  const c = { url: receiver.url(`/${name}/c`) };
  await client.urlGroups.addEndpoints({ name, endpoints: [a, b, c] });

  await client.urlGroups.removeEndpoints({ name, endpoints: [{ url: b.url }] });
  assert.deepStrictEqual((await client.urlGroups.get(name)).endpoints, [a, c]);

  await client.urlGroups.removeEndpoints({ name, endpoints: [{ name: "a" }] });
  assert.deepStrictEqual((await client.urlGroups.get(name)).endpoints, [c]);

  await client.urlGroups.removeEndpoints({ name, endpoints: [{ url: c.url }] });
  await rejectsWithStatus(client.urlGroups.get(name), 404);
  assert.ok(!(await client.urlGroups.list()).some((g) => g.name === name));
});

test("delete removes a group (later get is a 404); deleting an unknown group is not an error", async () => {
  const { client, receiver } = env;
  const name = fresh("gone");
  await client.urlGroups.addEndpoints({ name, endpoints: [{ url: receiver.url(`/${name}`) }] });
  await client.urlGroups.delete(name);
  await rejectsWithStatus(client.urlGroups.get(name), 404);
  assert.ok(!(await client.urlGroups.list()).some((g) => g.name === name));
  await client.urlGroups.delete(fresh("never-existed")); // Appendix B: 2xx
});

test("a batch item targeting a group answers a nested array; a URL item beside it answers an object", async () => {
  const { client, receiver } = env;
  const name = fresh("bgroup");
  const urls = [receiver.url(`/${name}/x`), receiver.url(`/${name}/y`)];
  await client.urlGroups.addEndpoints({ name, endpoints: urls.map((url) => ({ url })) });
  const single = `/${fresh("bsingle")}`;

  const res = await client.batchJSON([
    { urlGroup: name, body: { to: "group" } },
    { url: receiver.url(single), body: { to: "url" } },
  ]);
  assert.equal(res.length, 2);
  assert.ok(Array.isArray(res[0]), `group item: nested array, got ${JSON.stringify(res[0])}`);
  assert.deepEqual(res[0].map((r) => r.url).sort(), [...urls].sort());
  assert.ok(!Array.isArray(res[1]));
  assert.equal(typeof res[1].messageId, "string");

  for (const url of urls) {
    const [req] = await receiver.waitFor(1, new URL(url).pathname);
    assert.equal(req.header("upstash-topic-name"), name);
  }
  const [req] = await receiver.waitFor(1, single);
  assert.equal(req.header("upstash-topic-name"), undefined);
  await client.urlGroups.delete(name);
});

test("publishing to an unknown group is an error, not a silent no-op", async () => {
  await rejectsWithStatus(env.client.publishJSON({ urlGroup: fresh("nosuch"), body: {} }), 400, 404);
});

test("a message sent through a group is cancellable by the group filter", async () => {
  const { client, receiver } = env;
  const name = fresh("cgroup");
  await client.urlGroups.addEndpoints({
    name,
    endpoints: [{ url: receiver.url(`/${name}/1`) }, { url: receiver.url(`/${name}/2`) }],
  });
  await client.publish({ urlGroup: name, body: "later", delay: 30 });
  const res = await client.messages.cancel({ filter: { urlGroup: name } });
  assert.equal(res.cancelled, 2);
  await eventually(async () => (await client.logs({ filter: { urlGroup: name } })).logs.some((l) => l.state === "CANCEL_REQUESTED"));
  await client.urlGroups.delete(name);
});
