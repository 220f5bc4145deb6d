// Shared harness for the Depesha JS-SDK compatibility suite (@upstash/qstash).
//
// * `useDepesha({ user })` (call once at the top of a test file): registers
//   before/after hooks that start one `depesha dev --port <free> --data-dir <tmp>`
//   for that file (node --test runs every file in its own process) and a
//   recording HTTP receiver. Binary from $DEPESHA_BIN (default
//   <repo>/target/debug/depesha); $DEPESHA_URL points the file at a server that
//   is already running instead (nothing is started then).
// * Each file works as one of the four dev users of spec §9 (`user`), chosen so
//   that it differs from the user the Python suite uses for the same area — on
//   a shared server (DEPESHA_URL) the suites then do not cancel or delete each
//   other's data. See README.md for the table.
// * `Recorder` is the destination the server delivers to: node:http on
//   127.0.0.1:0 answering per-path scripted replies, tracking concurrency.
// * `eventually()` polls; the suite never asserts that something was fast, only
//   that it happened (or, for delays and rate limits, that it was not early).

import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import assert from "node:assert/strict";
import { after, afterEach, before } from "node:test";

import { Client, Receiver } from "@upstash/qstash";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, "..", "..");

// ---------------------------------------------------------------------------
// The four fixed dev users (spec §9).
// ---------------------------------------------------------------------------

export const DEV_USERS = {
  1: {
    number: 1,
    userId: "defaultUser",
    token: "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=",
    currentSigningKey: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
    nextSigningKey: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
  },
  2: {
    number: 2,
    userId: "testUser1",
    token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjEiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
    currentSigningKey: "sig_7GVPjvuwsfqF65iC8fSrs1dfYruM",
    nextSigningKey: "sig_5NoELc3EFnZn4DVS5bDs2Nk4b7Ua",
  },
  3: {
    number: 3,
    userId: "testUser2",
    token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjIiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
    currentSigningKey: "sig_6jWGaWRxHsw4vMSPJprXadyvrybF",
    nextSigningKey: "sig_7qHbvhmahe5GwfePDiS5Lg3pi6Qx",
  },
  4: {
    number: 4,
    userId: "testUser3",
    token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjMiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
    currentSigningKey: "sig_5T8FcSsynBjn9mMLBsXhpacRovJf",
    nextSigningKey: "sig_7GFR4YaDshFcqsxWRZpRB161jguD",
  },
};

// How long a test waits for something the server does asynchronously.
export const WAIT_MS = 15_000;
// How long a test watches for something that must NOT happen.
export const SETTLE_MS = 1_500;
const READY_TIMEOUT_MS = 30_000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const nowMs = () => Date.now();

/** A unique, URL-safe token for names, labels, dedup ids, paths. */
export function fresh(prefix) {
  return `${prefix}-${randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/**
 * Call `probe` until it returns a truthy value without throwing; return that
 * value. On timeout, throw an AssertionError carrying what was last seen.
 */
export async function eventually(probe, { timeout = WAIT_MS, interval = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? `${last.name}: ${last.message}` : safeJson(last);
      throw new assert.AssertionError({
        message: `timed out after ${timeout} ms waiting for ${what}; last seen: ${seen}`,
      });
    }
    await sleep(interval);
  }
}

function safeJson(v) {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** Expect `promise` to reject with a QstashError of one of `statuses`. */
export async function rejectsWithStatus(promise, ...statuses) {
  let error;
  try {
    const value = await promise;
    assert.fail(`expected an HTTP error ${statuses.join("/")}, got success: ${safeJson(value)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    error = e;
  }
  assert.ok(
    statuses.includes(error.status),
    `expected status ${statuses.join("/")}, got ${error.status} (${error.name}: ${error.message})`,
  );
  return error;
}

// ---------------------------------------------------------------------------
// Raw HTTP (no SDK) for wire-level checks.
// ---------------------------------------------------------------------------

/** fetch() that never throws for an HTTP status; returns {status, headers, text, json()}. */
export async function raw(method, url, { token, headers = {}, body } = {}) {
  const h = { ...headers };
  if (token !== undefined) h.Authorization = `Bearer ${token}`;
  const res = await fetch(url, { method, headers: h, body });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json() {
      return JSON.parse(text);
    },
    toString() {
      return `HTTP ${res.status} ${text.slice(0, 500)}`;
    },
  };
}

/** Spec §2.2: errors are JSON {"error": "<message>"} with a 4xx/5xx status. */
export function assertJsonError(res, ...statuses) {
  if (statuses.length) assert.ok(statuses.includes(res.status), `want ${statuses}, got ${res}`);
  else assert.ok(res.status >= 400 && res.status < 500, `want a 4xx, got ${res}`);
  let doc;
  try {
    doc = res.json();
  } catch {
    assert.fail(`error body is not JSON: ${res}`);
  }
  assert.equal(typeof doc.error, "string", `error body lacks an "error" string: ${res}`);
  assert.ok(doc.error.length > 0);
  return doc.error;
}

// ---------------------------------------------------------------------------
// The server.
// ---------------------------------------------------------------------------

export function depeshaBinary() {
  if (process.env.DEPESHA_BIN) return process.env.DEPESHA_BIN;
  const target = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO, process.env.CARGO_TARGET_DIR)
    : path.join(REPO, "target");
  return path.join(target, "debug", "depesha");
}

export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address();
  srv.close();
  await once(srv, "close");
  return port;
}

/** Is something accepting connections on 127.0.0.1:port? */
export function portInUse(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

async function waitReady(url, proc, logPath) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) {
      throw new Error(
        `depesha exited with code ${proc.exitCode} before becoming ready.\n--- server output (tail) ---\n${tail(logPath)}`,
      );
    }
    try {
      const r = await raw("GET", `${url}/v2/keys`, { token: DEV_USERS[1].token });
      if (r.status === 200) return;
      last = r.toString();
    } catch (e) {
      last = e.message;
    }
    await sleep(100);
  }
  throw new Error(`depesha at ${url} not ready after ${READY_TIMEOUT_MS} ms (last: ${last})\n${tail(logPath)}`);
}

export function tail(logPath, chars = 4000) {
  if (!logPath || !fs.existsSync(logPath)) return "";
  const text = fs.readFileSync(logPath, "utf8");
  return text.slice(-chars);
}

/** One `depesha dev` process on a port and data dir we own. */
export class DepeshaProcess {
  constructor({ port, workdir } = {}) {
    this.binary = depeshaBinary();
    this.workdir = workdir ?? fs.mkdtempSync(path.join(os.tmpdir(), "depesha-js-"));
    this.dataDir = path.join(this.workdir, "data");
    fs.mkdirSync(this.dataDir, { recursive: true });
    this.logPath = path.join(this.workdir, "server.log");
    this.port = port;
    this.proc = undefined;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    if (!fs.existsSync(this.binary)) {
      throw new Error(
        `depesha binary not found at ${this.binary}; run \`cargo build -p depesha\` or set DEPESHA_BIN / DEPESHA_URL`,
      );
    }
    this.port ??= await freePort();
    const env = { ...process.env };
    // The suite's own knobs are not server settings.
    delete env.DEPESHA_BIN;
    delete env.DEPESHA_URL;
    delete env.DEPESHA_KEEP;
    // Test knob: default backoff e^(2.5n) counted in 20 ms units.
    env.DEPESHA_BACKOFF_UNIT_MS ??= "20";
    env.RUST_BACKTRACE ??= "1";
    const log = fs.openSync(this.logPath, "a");
    this.proc = spawn(this.binary, ["dev", "--port", String(this.port), "--data-dir", this.dataDir], {
      stdio: ["ignore", log, log],
      env,
      cwd: this.workdir,
    });
    fs.closeSync(log);
    this.proc.on("error", () => {});
    await waitReady(this.url, this.proc, this.logPath);
    return this;
  }

  async stop({ kill = false } = {}) {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, "exit");
    p.kill(kill ? "SIGKILL" : "SIGTERM");
    const timer = setTimeout(() => p.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }

  log() {
    return fs.existsSync(this.logPath) ? fs.readFileSync(this.logPath, "utf8") : "";
  }
}

/**
 * Register before/after hooks for a test file; returns an object whose fields
 * are filled in by `before`:
 *   env.url, env.user (DEV_USERS[n]), env.client (SDK Client for env.user),
 *   env.clientFor(n), env.receiver (Recorder), env.server (DepeshaProcess|undefined),
 *   env.receiverFor(user) (a signature-checking SDK Receiver for a dev user).
 */
export function useDepesha({ user = 2 } = {}) {
  const env = {
    user: DEV_USERS[user],
    url: undefined,
    server: undefined,
    receiver: undefined,
    client: undefined,
    clientFor: (n) => newClient(env.url, DEV_USERS[n].token),
    sdkReceiverFor: (n = user) =>
      new Receiver({
        currentSigningKey: DEV_USERS[n].currentSigningKey,
        nextSigningKey: DEV_USERS[n].nextSigningKey,
      }),
  };
  before(async () => {
    if (process.env.DEPESHA_URL) {
      env.url = process.env.DEPESHA_URL.replace(/\/$/, "");
      await waitReady(env.url);
    } else {
      env.server = await new DepeshaProcess().start();
      env.url = env.server.url;
    }
    env.receiver = await new Recorder().start();
    env.client = env.clientFor(user);
  });
  let failed = false;
  afterEach((t) => {
    if (t.passed === false) failed = true;
  });
  after(async () => {
    await env.receiver?.close();
    if (env.server) {
      await env.server.stop();
      if (failed || process.env.DEPESHA_KEEP) {
        process.stderr.write(`depesha server output: ${env.server.logPath}\n`);
      } else {
        fs.rmSync(env.server.workdir, { recursive: true, force: true });
      }
    }
  });
  return env;
}

/**
 * An SDK client as an app would build it. retry: false — the SDK would resend
 * only on network errors; the suite wants every call to hit the server once.
 * Telemetry stays on (the default), so the server sees the SDK's real headers.
 */
export function newClient(baseUrl, token) {
  return new Client({ baseUrl, token, retry: false });
}

// ---------------------------------------------------------------------------
// Recording receiver: the destination the server delivers to.
// ---------------------------------------------------------------------------

/**
 * One recorded request.
 *   method, target (raw path + "?query"), path (no query), headers (node's
 *   lower-cased object), rawHeaders ([name, value, ...]), body (Buffer), text,
 *   startedAt / endedAt (Date.now() at arrival / right before the reply).
 */
export class Recorded {
  constructor(req, body, startedAt) {
    this.method = req.method;
    this.target = req.url;
    this.path = req.url.split("?")[0];
    this.headers = req.headers;
    this.rawHeaders = req.rawHeaders;
    this.body = body;
    this.startedAt = startedAt;
    this.endedAt = undefined;
  }
  get text() {
    return this.body.toString("utf8");
  }
  json() {
    return JSON.parse(this.text);
  }
  header(name) {
    const v = this.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(", ") : v;
  }
  get headerNames() {
    return this.rawHeaders.filter((_, i) => i % 2 === 0);
  }
  toJSON() {
    return {
      method: this.method,
      target: this.target,
      messageId: this.headers["upstash-message-id"],
      retried: this.headers["upstash-retried"],
      at: this.startedAt,
      body: this.text.slice(0, 200),
    };
  }
}

/**
 * HTTP server on 127.0.0.1:<random port> recording every request.
 * `on(path, ...replies)` scripts answers for requests whose target (with
 * query) or path (without) equals `path`; replies are used in order and the
 * last one repeats. A reply is {status=200, body="ok", headers={}, delayMs=0}.
 * It also tracks, per path, how many requests are being answered at once.
 */
export class Recorder {
  constructor() {
    this.requests = [];
    this.plans = new Map();
    this.active = new Map(); // path -> currently open
    this.maxActive = new Map(); // path -> highest seen
    this.waiters = new Set();
    this.server = http.createServer((req, res) => this.#handle(req, res));
    this.server.keepAliveTimeout = 1000;
    this.sockets = new Set();
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  async start() {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    this.port = this.server.address().port;
    this.baseUrl = `http://127.0.0.1:${this.port}`;
    return this;
  }

  url(p = "/") {
    return this.baseUrl + (p.startsWith("/") ? p : `/${p}`);
  }

  on(p, ...replies) {
    assert.ok(replies.length > 0, "give at least one reply");
    this.plans.set(p, replies.slice());
  }

  #plan(rec) {
    const plan = this.plans.get(rec.target) ?? this.plans.get(rec.path);
    if (!plan || plan.length === 0) return {};
    return plan.length > 1 ? plan.shift() : plan[0];
  }

  #handle(req, res) {
    const startedAt = Date.now();
    const p = req.url.split("?")[0];
    const open = (this.active.get(p) ?? 0) + 1;
    this.active.set(p, open);
    this.maxActive.set(p, Math.max(this.maxActive.get(p) ?? 0, open));
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const rec = new Recorded(req, Buffer.concat(chunks), startedAt);
      this.requests.push(rec);
      const reply = this.#plan(rec);
      this.#notify();
      const answer = () => {
        // Count the request as finished before the reply leaves, so the next
        // delivery the reply unblocks can never be seen as overlapping.
        rec.endedAt = Date.now();
        this.active.set(p, this.active.get(p) - 1);
        const payload = Buffer.from(reply.body ?? "ok");
        try {
          res.writeHead(reply.status ?? 200, { ...(reply.headers ?? {}), "Content-Length": payload.length });
          res.end(payload);
        } catch {
          // the server gave up on us (timeouts)
        }
      };
      if (reply.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
    });
  }

  #notify() {
    for (const w of this.waiters) w();
  }

  /** Requests so far; `p` matches the full target or the path part. */
  got(p) {
    return this.requests.filter((r) => p === undefined || r.target === p || r.path === p);
  }

  /** Wait until at least `count` requests (to `p`) arrived; return them. */
  async waitFor(count, p, { timeout = WAIT_MS } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const got = this.got(p);
      if (got.length >= count) return got;
      const left = deadline - Date.now();
      if (left <= 0) {
        const others = this.requests.filter((r) => !got.includes(r)).map((r) => `${r.method} ${r.target}`);
        throw new assert.AssertionError({
          message:
            `receiver: wanted ${count} request(s) to ${p ?? "any path"} within ${timeout} ms, got ${got.length}: ` +
            `${safeJson(got)}; requests to other paths: ${safeJson(others)}`,
        });
      }
      await new Promise((resolve) => {
        const w = () => {
          this.waiters.delete(w);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(w, Math.min(left, 200));
        this.waiters.add(w);
      });
    }
  }

  /** Watch for `ms` and assert exactly `count` requests (to `p`). */
  async assertStays(count, p, ms = SETTLE_MS) {
    await sleep(ms);
    const got = this.got(p);
    assert.equal(
      got.length,
      count,
      `receiver: expected exactly ${count} request(s) to ${p ?? "any path"}, got ${got.length}: ${safeJson(got)}`,
    );
    return got;
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

export { assert, Client, Receiver };
