// Signing keys (spec §3.9, §6, §9). The JS SDK has no keys API (its dev mode
// calls GET /v2/keys itself), so these go over raw fetch.
//
// Read-only for users 1–3; only a server this file started itself gets a
// rotation (user 4, as in the Python suite), never a shared DEPESHA_URL server.

import { test } from "node:test";
import { DEV_USERS, assert, assertJsonError, fresh, raw, useDepesha } from "./helpers.mjs";

const env = useDepesha({ user: 2 });

test("GET /v2/keys answers each dev user's fixed keys", async () => {
  for (const n of [1, 2, 3]) {
    const u = DEV_USERS[n];
    const res = await raw("GET", `${env.url}/v2/keys`, { token: u.token });
    assert.equal(res.status, 200, res.toString());
    const doc = res.json();
    assert.equal(doc.current, u.currentSigningKey, `user ${n} current`);
    assert.equal(doc.next, u.nextSigningKey, `user ${n} next`);
  }
});

test("GET /v2/keys without a token or with an unknown one is a 401 JSON error", async () => {
  assertJsonError(await raw("GET", `${env.url}/v2/keys`), 401);
  assertJsonError(await raw("GET", `${env.url}/v2/keys`, { token: "bm90LWEtdG9rZW4=" }), 401);
  // the SDK surfaces it as a QstashError with the status
  const { Client } = await import("@upstash/qstash");
  const bad = new Client({ baseUrl: env.url, token: "bm90LWEtdG9rZW4=", retry: false });
  await assert.rejects(bad.messages.get("msg_x"), (e) => e.status === 401);
});

test("a Receiver built from GET /v2/keys verifies a delivery", async () => {
  const { client, receiver, user } = env;
  const doc = (await raw("GET", `${env.url}/v2/keys`, { token: user.token })).json();
  const { Receiver } = await import("@upstash/qstash");
  const p = `/${fresh("keys")}`;
  await client.publishJSON({ url: receiver.url(p), body: { k: 1 } });
  const [req] = await receiver.waitFor(1, p);
  const verifier = new Receiver({ currentSigningKey: doc.current, nextSigningKey: doc.next });
  assert.equal(await verifier.verify({ signature: req.header("upstash-signature"), body: req.text, url: receiver.url(p) }), true);
});

test("after POST /v2/keys/rotate a Receiver holding the old pair still verifies (current := old next)", async (t) => {
  if (!env.server) return t.skip("rotation only on a server this file started (DEPESHA_URL given)");
  const u = DEV_USERS[4];
  const c4 = env.clientFor(4);
  const rotated = await raw("POST", `${env.url}/v2/keys/rotate`, { token: u.token });
  assert.equal(rotated.status, 200, rotated.toString());
  const doc = rotated.json();
  assert.equal(doc.current, u.nextSigningKey);
  assert.ok(![u.currentSigningKey, u.nextSigningKey].includes(doc.next));
  assert.ok(doc.next.length >= 32);
  const p = `/${fresh("rotated")}`;
  await c4.publish({ url: env.receiver.url(p), body: "r" });
  const [req] = await env.receiver.waitFor(1, p);
  const { Receiver } = await import("@upstash/qstash");
  const old = new Receiver({ currentSigningKey: u.currentSigningKey, nextSigningKey: u.nextSigningKey });
  await old.verify({ signature: req.header("upstash-signature"), body: "r", url: env.receiver.url(p) });
  // other users keep theirs
  const two = (await raw("GET", `${env.url}/v2/keys`, { token: DEV_USERS[2].token })).json();
  assert.equal(two.current, DEV_USERS[2].currentSigningKey);
});
