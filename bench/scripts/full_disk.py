"""A full disk under a large store: how fast failing publishes and reads are answered.

Starts `depesha dev` on a data dir on a small file system (mount one, e.g.
`mount -t tmpfs -o size=200m tmpfs /mnt/small`), publishes messages delayed by an hour
with `/v2/batch` (100 per request, 8 connections) until the disk is full (503s), then
times 200 single publishes (all 503) and 200 reads of an acknowledged message, and counts
the store's "reopening" and "repairing" lines in its log. Frees nothing: remove the data
dir afterwards. Loopback only.

    python3 bench/scripts/full_disk.py target/release/depesha /mnt/small/data 18571 /tmp/fd.log
    (binary, data dir on the small file system, free port, log file elsewhere)
"""
import http.client, json, os, subprocess, sys, threading, time
BIN, DATA, PORT, LOG = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="
AUTH = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
p = subprocess.Popen([BIN, "dev", "--port", str(PORT), "--data-dir", DATA],
                     stdout=subprocess.DEVNULL, stderr=open(LOG, "w"))
def connect():
    for _ in range(1000):
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            c.request("GET", "/v2/keys", headers=AUTH); c.getresponse().read()
            return c
        except OSError:
            time.sleep(0.01)
    sys.exit("depesha did not start")
connect()
BATCH = json.dumps([{"destination": "http://127.0.0.1:9/never", "body": "x" * 200,
                     "headers": {"Upstash-Delay": "1h"}} for _ in range(100)]).encode()
ids, full, lock = [], threading.Event(), threading.Lock()
def filler():
    c = connect()
    while not full.is_set():
        try:
            c.request("POST", "/v2/batch", body=BATCH, headers=AUTH)
            r = c.getresponse(); body = r.read()
        except OSError as e:
            print(f"batch failed: {e!r}"); full.set(); return
        if r.status == 200:
            with lock: ids.extend(m["messageId"] for m in json.loads(body))
        elif r.status == 503:
            full.set()
if p.poll() is not None:
    sys.exit("depesha exited at start (port taken?)")
ts = [threading.Thread(target=filler) for _ in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
size = os.path.getsize(os.path.join(DATA, "depesha.redb"))
before = open(LOG).read()
print(f"disk full after {len(ids)} messages; store file {size/2**20:.0f} MiB")
c = connect()
def timed(method, path, body=None):
    t = time.perf_counter()
    c.request(method, path, body=body, headers=AUTH)
    r = c.getresponse(); r.read()
    return r.status, time.perf_counter() - t
def summary(name, results):
    lat = sorted(t for _, t in results)
    statuses = sorted(set(s for s, _ in results))
    print(f"{name}: statuses {statuses}, p50 {lat[len(lat)//2]*1e3:.1f} ms, "
          f"p99 {lat[int(len(lat)*0.99)]*1e3:.1f} ms, max {lat[-1]*1e3:.1f} ms")
try:
  summary("200 publishes on the full disk",
        [timed("POST", "/v2/publish/http://127.0.0.1:9/never", b"y" * 20000) for _ in range(200)])
  summary("200 reads on the full disk", [timed("GET", "/v2/messages/" + ids[0]) for _ in range(200)])
  after = open(LOG).read()[len(before):]
  print(f"during them: {after.count('reopening')} 'reopening' lines, "
        f"{after.count('repairing')} 'repairing' lines")
finally:
  p.terminate(); p.wait()
