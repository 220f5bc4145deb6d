// The JS SDK's dev mode adopts a running `depesha dev` on 127.0.0.1:8080 (spec §9).
//
// With QSTASH_DEV=true and no QSTASH_URL / QSTASH_TOKEN, `new Client()` uses
// http://127.0.0.1:${QSTASH_DEV_PORT || 8080} with dev user 1's token. Before the
// first request it asks GET /v2/keys (user 1's token); only when the answer is
// 2xx with user 1's keys does it skip fetching the qstash-cli binary
// (node_modules/@upstash/qstash: ensureBinary → findCacheDirectory creates
// ~/.cache/upstash/qstash-dev, fetchLatestVersion lists
// s3.eu-central-1.amazonaws.com/artifacts.upstash.com, downloadBinary fetches
// artifacts.upstash.com/qstash/versions/<v>/…).
//
// The app runs in a child process with its own HOME and a preload
// (fixtures/offline.cjs) that refuses and records every non-loopback DNS
// lookup or connection, so "nothing was downloaded" is checked two ways.

import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { Receiver } from "@upstash/qstash";
import { DepeshaProcess, HERE, Recorder, assert, depeshaBinary, fresh, freePort, portInUse } from "./helpers.mjs";

const DEV_PORT = 8080;
let skipReason;
let server;
let receiver;
let scratch;

before(async () => {
  if (!fs.existsSync(depeshaBinary())) {
    skipReason = `no depesha binary at ${depeshaBinary()} (set DEPESHA_BIN)`;
    return;
  }
  if (await portInUse(DEV_PORT)) {
    skipReason = `127.0.0.1:${DEV_PORT} is taken by another process; the SDK's dev mode needs that port`;
    return;
  }
  server = await new DepeshaProcess({ port: DEV_PORT }).start();
  receiver = await new Recorder().start();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "depesha-devmode-"));
});

after(async () => {
  await receiver?.close();
  await server?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  if (server) fs.rmSync(server.workdir, { recursive: true, force: true });
});

/** Run fixtures/dev-mode-app.mjs offline with a fresh HOME; return what it did. */
async function runDevModeApp(targetUrl, extraEnv = {}) {
  const home = fs.mkdtempSync(path.join(scratch, "home-"));
  const offlineLog = path.join(home, "offline.log");
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^(QSTASH_|UPSTASH_|[A-Z0-9_]+_QSTASH_)/.test(k) || k === "NODE_ENV" || k === "NEXT_PHASE") delete env[k];
  }
  Object.assign(env, {
    QSTASH_DEV: "true",
    HOME: home,
    USERPROFILE: home,
    XDG_CACHE_HOME: path.join(home, ".cache"),
    // belt and braces: any proxy-aware client would fail too
    HTTP_PROXY: "http://127.0.0.1:9",
    HTTPS_PROXY: "http://127.0.0.1:9",
    http_proxy: "http://127.0.0.1:9",
    https_proxy: "http://127.0.0.1:9",
    NO_PROXY: "127.0.0.1,localhost",
    no_proxy: "127.0.0.1,localhost",
    OFFLINE_LOG: offlineLog,
    TARGET_URL: targetUrl,
    ...extraEnv,
  });
  const child = spawn(
    process.execPath,
    ["--require", path.join(HERE, "fixtures", "offline.cjs"), path.join(HERE, "fixtures", "dev-mode-app.mjs")],
    { env, cwd: HERE, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [code] = await once(child, "exit");
  clearTimeout(timer);
  const resultLine = stdout.split("\n").find((l) => l.startsWith("RESULT "));
  return {
    code,
    stdout,
    stderr,
    result: resultLine ? JSON.parse(resultLine.slice("RESULT ".length)) : undefined,
    blocked: fs.existsSync(offlineLog) ? fs.readFileSync(offlineLog, "utf8").trim() : "",
    cacheDir: path.join(home, ".cache", "upstash"),
  };
}

test("depesha dev prints a line the SDK's launcher would accept as 'running'", async (t) => {
  if (skipReason) return t.skip(skipReason);
  assert.match(server.log(), /runn+ing( at|\.)/i);
});

test("new Client() under QSTASH_DEV=true adopts depesha dev on :8080, publishes, and downloads nothing", async (t) => {
  if (skipReason) return t.skip(skipReason);
  const p = `/${fresh("devmode")}`;
  const run = await runDevModeApp(receiver.url(p));
  const why = `app exit ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;
  assert.equal(run.code, 0, why);
  assert.ok(run.result?.messageId, why);
  // the SDK says it found a running server
  assert.match(run.stdout, /Server already running at http:\/\/127\.0\.0\.1:8080/, why);
  assert.doesNotMatch(run.stdout + run.stderr, /Downloading dev server/, why);

  const [req] = await receiver.waitFor(1, p);
  assert.equal(req.header("upstash-message-id"), run.result.messageId);
  assert.equal(req.text, '{"from":"dev-mode"}');
  // signed with user 1's keys, which is what a dev-mode Receiver checks
  assert.equal(
    await new Receiver({ devMode: true }).verify({
      signature: req.header("upstash-signature"),
      body: req.text,
      url: receiver.url(p),
    }),
    true,
  );

  assert.equal(run.blocked, "", `the app tried to reach the network:\n${run.blocked}`);
  assert.equal(fs.existsSync(run.cacheDir), false, `the SDK created its binary cache ${run.cacheDir}`);
});

test("control: with no server on QSTASH_DEV_PORT the same app would download, and the harness notices", async (t) => {
  if (skipReason) return t.skip(skipReason);
  const port = await freePort();
  const run = await runDevModeApp(receiver.url("/never"), { QSTASH_DEV_PORT: String(port) });
  assert.notEqual(run.code, 0, "publishing cannot succeed without a server");
  assert.match(run.blocked, /amazonaws\.com|upstash\.com/, `blocked: ${run.blocked}\n${run.stdout}\n${run.stderr}`);
  assert.equal(fs.existsSync(run.cacheDir), true);
});
