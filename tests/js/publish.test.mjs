// Publishing to a URL and what the destination receives (spec §3.1, §5, §6, §11.1–2).

import { test } from "node:test";
import { SignatureError } from "@upstash/qstash";
import { assert, fresh, useDepesha } from "./helpers.mjs";

const env = useDepesha({ user: 2 });

test("publishJSON is delivered with body, content type, forwarded headers and a valid signature", async () => {
  const { client, receiver, user } = env;
  const dest = receiver.url(`/${fresh("hook")}`);
  const payload = { hello: "world", n: 1, nested: { ok: true }, unicode: "čšž" };

  const res = await client.publishJSON({
    url: dest,
    body: payload,
    headers: { "X-Custom": "abc", "Upstash-Forward-Explicit": "yes" },
  });
  assert.equal(typeof res.messageId, "string");
  assert.ok(res.messageId.length > 0);
  assert.notEqual(res.deduplicated, true);

  const [req] = await receiver.waitFor(1, new URL(dest).pathname);
  assert.equal(req.method, "POST");
  assert.equal(req.text, JSON.stringify(payload));
  assert.equal(req.header("content-type"), "application/json");
  // §5: forwarded headers arrive with the Upstash-Forward- prefix stripped
  assert.equal(req.header("x-custom"), "abc");
  assert.equal(req.header("explicit"), "yes");
  assert.deepEqual(
    req.headerNames.filter((n) => n.toLowerCase().startsWith("upstash-forward")),
    [],
  );
  // neither the publisher's credentials nor the SDK's telemetry reach the destination
  assert.equal(req.header("authorization"), undefined);
  assert.deepEqual(
    req.headerNames.filter((n) => n.toLowerCase().startsWith("upstash-telemetry")),
    [],
  );
  // §5 fixed headers
  assert.equal(req.header("user-agent"), "Upstash-QStash");
  assert.equal(req.header("upstash-message-id"), res.messageId);
  assert.equal(req.header("upstash-retried"), "0");
  // §6: the SDK's Receiver accepts the real delivery, with the url check on
  const signature = req.header("upstash-signature");
  assert.ok(signature, "delivery carries no Upstash-Signature");
  assert.equal(await env.sdkReceiverFor(user.number).verify({ signature, body: req.text, url: dest }), true);
});

test("publish with a raw body and method PUT delivers the exact bytes with that method", async () => {
  const { client, receiver } = env;
  const p = `/${fresh("put")}`;
  const body = "line one\nline two — ünïcödé\n";
  await client.publish({
    url: receiver.url(p),
    body,
    method: "PUT",
    headers: { "Content-Type": "text/plain; charset=utf-8" },
  });
  const [req] = await receiver.waitFor(1, p);
  assert.equal(req.method, "PUT");
  assert.equal(req.text, body);
  assert.equal(req.header("content-type"), "text/plain; charset=utf-8");
});

test("Receiver.verify rejects a delivery checked against another url or another body", async () => {
  const { client, receiver, user } = env;
  const p = `/${fresh("sig")}`;
  await client.publishJSON({ url: receiver.url(p), body: { a: 1 } });
  const [req] = await receiver.waitFor(1, p);
  const signature = req.header("upstash-signature");
  const verifier = env.sdkReceiverFor(user.number);
  await assert.rejects(
    verifier.verify({ signature, body: req.text, url: receiver.url("/somewhere-else") }),
    SignatureError,
  );
  await assert.rejects(verifier.verify({ signature, body: '{"a":2}', url: receiver.url(p) }), SignatureError);
  // another user's keys do not verify it (each tenant has its own keys)
  const other = env.sdkReceiverFor(user.number === 3 ? 2 : 3);
  await assert.rejects(other.verify({ signature, body: req.text }));
});

test("a raw destination with path segments and a query string survives unchanged (§2.4)", async () => {
  const { client, receiver, user } = env;
  const p = `/${fresh("raw")}/a/b.json`;
  const target = `${p}?foo=bar&list=1&list=2&enc=a%20b`;
  const dest = receiver.url(target);
  await client.publish({ url: dest, body: "q" });
  const [req] = await receiver.waitFor(1, p);
  assert.equal(req.target, target);
  // sub = the destination exactly as published, query included
  await env.sdkReceiverFor(user.number).verify({ signature: req.header("upstash-signature"), body: "q", url: dest });
});

test("an empty body is delivered empty and its signature covers the empty body", async () => {
  const { client, receiver, user } = env;
  const p = `/${fresh("empty")}`;
  await client.publish({ url: receiver.url(p) });
  const [req] = await receiver.waitFor(1, p);
  assert.equal(req.body.length, 0);
  await env.sdkReceiverFor(user.number).verify({
    signature: req.header("upstash-signature"),
    body: "",
    url: receiver.url(p),
  });
});
