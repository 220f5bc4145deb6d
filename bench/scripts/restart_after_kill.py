"""Restart after `kill -9`: how long a start takes that has to apply the journal again.

Starts `depesha dev`, publishes messages delayed by an hour from 16 connections for a
few seconds (the store checkpoints every 1 MiB of journal meanwhile, so what is left
to apply again is the last checkpoint's worth at most), kills it with SIGKILL, starts it again on the same data dir and
times spawn -> first 200 to `GET /v2/keys`; then checks that every acknowledged message
is there. Loopback only; bounded by the publishing time.

    python3 bench/scripts/restart_after_kill.py target/release/depesha /tmp/k9 18555 8
    (binary, fresh data dir, free port, seconds of publishing)

With a fifth argument N, it publishes with `POST /v2/batch` (100 messages per request,
16 connections) instead, until N messages are acknowledged, and kills depesha right
then, under that load: restart-to-ready with N messages pending. The check after the
restart then reads the last 20,000 acknowledged messages (those the journal held) and
20,000 others picked at random, not all N.

    python3 bench/scripts/restart_after_kill.py target/release/depesha /tmp/k9 18555 0 1000000
"""
import http.client, json, os, signal, subprocess, sys, threading, time, urllib.request
BIN, DATA, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
SECS = float(sys.argv[4]) if len(sys.argv) > 4 else 8
PENDING = int(sys.argv[5]) if len(sys.argv) > 5 else 0
TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="
def start():
    p = subprocess.Popen([BIN, "dev", "--port", str(PORT), "--data-dir", DATA],
                         stdout=subprocess.DEVNULL, stderr=open(DATA + ".log", "a"))
    t0 = time.perf_counter()
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            c.request("GET", "/v2/keys", headers={"Authorization": "Bearer " + TOKEN})
            if c.getresponse().status == 200:
                return p, time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.002)
p, ready = start()
print(f"first start ready in {ready*1000:.1f} ms")
ids, lock, stop = [], threading.Lock(), time.time() + SECS
BATCH = json.dumps([{"destination": "http://127.0.0.1:9/never", "body": '{"x":1}',
                     "headers": {"Upstash-Delay": "1h", "Content-Type": "application/json"}}
                    for _ in range(100)]).encode()
def batch_worker():
    c = http.client.HTTPConnection("127.0.0.1", PORT)
    while True:
        with lock:
            if len(ids) >= PENDING: return
        try:
            c.request("POST", "/v2/batch", body=BATCH,
                      headers={"Authorization": "Bearer " + TOKEN,
                               "Content-Type": "application/json"})
            r = c.getresponse(); body = r.read()
        except OSError:
            return
        if r.status == 200:
            with lock: ids.extend(m["messageId"] for m in json.loads(body))
def worker():
    c = http.client.HTTPConnection("127.0.0.1", PORT)
    while time.time() < stop:
        c.request("POST", "/v2/publish/http://127.0.0.1:9/never", body=b'{"x":1}',
                  headers={"Authorization": "Bearer " + TOKEN, "Upstash-Delay": "1h",
                           "Content-Type": "application/json"})
        r = c.getresponse(); body = r.read()
        if r.status == 200:
            with lock: ids.append(json.loads(body)["messageId"])
if PENDING:
    ts = [threading.Thread(target=batch_worker) for _ in range(16)]
    [t.start() for t in ts]
    while True:
        with lock:
            if len(ids) >= PENDING: break
        time.sleep(0.01)
    # Killed under load: the other connections' batches are still being committed.
    os.kill(p.pid, signal.SIGKILL); p.wait(); [t.join() for t in ts]
else:
    ts = [threading.Thread(target=worker) for _ in range(16)]
    [t.start() for t in ts]; [t.join() for t in ts]
    os.kill(p.pid, signal.SIGKILL); p.wait()
dsize = os.path.getsize(os.path.join(DATA, "depesha.redb"))
print(f"store file {dsize/2**20:.0f} MiB")
jsize = os.path.getsize(os.path.join(DATA, "depesha.journal"))
print(f"acknowledged {len(ids)} publishes, then SIGKILL; journal file {jsize/2**20:.1f} MiB")
p, ready = start()
print(f"restart after SIGKILL ready in {ready*1000:.1f} ms")
c = http.client.HTTPConnection("127.0.0.1", PORT)
missing = 0
checked = ids
if PENDING:
    import random
    checked = ids[-20000:] + random.sample(ids[:-20000], min(20000, max(0, len(ids) - 20000)))
print(f"checking {len(checked)} of them")
for mid in checked:
    c.request("GET", "/v2/messages/" + mid, headers={"Authorization": "Bearer " + TOKEN})
    r = c.getresponse(); r.read()
    missing += r.status != 200
print(f"acknowledged messages missing after the restart: {missing}")
p.send_signal(signal.SIGTERM); p.wait()
