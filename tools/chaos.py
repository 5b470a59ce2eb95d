#!/usr/bin/env python3
"""The chaos suite: the real `caseline serve` under retrying clients while it, or the broker, is
killed, stopped or frozen; a verifier at the end. Loopback only, bounded in time.

  R1  kill -9 the server every 5-10 s under retrying clients (Idempotency-Key) for 60 s:
      0 acknowledged cases lost, 0 duplicates, projections equal a fresh rebuild.
  R2  (Kafka) the broker frozen (SIGSTOP) and then stopped mid-load, and brought back: no false
      2xx, no false "nothing was written", 0 duplicates after retries, /healthz answers in time.
  R3  the server killed at random points while it replays the log into an empty store, many
      times: after each, the store equals a clean rebuild key by key (rebuild --verify).
  R4  (Kafka) the server paused (SIGSTOP) under load past its session timeout; another data
      folder's server takes the topic, writes under load and stops; its membership expires and
      the first runs again: 0 acknowledged cases lost, 0 duplicates (no case id handed out twice),
      every case of both servers reads through the first, no false "nothing was written",
      projections equal a fresh rebuild.

Usage: tools/chaos.py [--short] [--logs embedded,kafka] [--scenarios R1,R2,R3,R4]
Kafka runs need KAFKA_BOOTSTRAP (tools/kafka-local.sh run -- tools/chaos.py ...); R2 starts a
private broker of its own. Prints a table and a closing line "N passed, M failed"; exits 1 when
an invariant is broken. Full run: `tools/kafka-local.sh run -- tools/chaos.py`; CI runs --short.
"""

import argparse
import ctypes
import http.client
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CENTER = "410100"
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: a crashed suite leaves nothing behind


def log(msg):
    print(f"chaos: {msg}", file=sys.stderr, flush=True)


# --- the server ---------------------------------------------------------------------------------

class Server:
    """One `caseline serve` over a data folder; restartable; address changes at each start."""

    def __init__(self, binary, data, kafka=None, topic=None, partitions=4):
        self.binary, self.data, self.kafka, self.topic = binary, data, kafka, topic
        self.partitions = partitions
        self.proc = None
        self.address = None
        self.log_path = os.path.join(data, "..", os.path.basename(data) + ".server.log")

    def log_args(self):
        args = ["--data", self.data, "--partitions", str(self.partitions)]
        if self.kafka:
            args += ["--kafka", self.kafka, "--topic", self.topic]
        return args

    def spawn(self):
        # The clients share one token: lift its rate limit, the load is the point here.
        args = [self.binary, "serve", "--listen", "127.0.0.1:0", "--checkpoint-interval", "1",
                "--token-rate", "100000", "--token-burst", "100000"]
        self.proc = subprocess.Popen(args + self.log_args(), stdout=subprocess.PIPE,
                                     stderr=open(self.log_path, "ab"), text=True,
                                     preexec_fn=_die_with_parent)
        self.address = None

    def wait_listening(self, timeout=180):
        lines = queue.Queue()
        proc = self.proc
        log_path = self.log_path

        def read():
            # The server logs on its standard output: every line goes to its log file too.
            with open(log_path, "a") as saved:
                for line in proc.stdout:
                    saved.write(line)
                    saved.flush()
                    lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise RuntimeError(f"server exited {proc.wait()} before listening; see {self.log_path}")
            m = re.search(r"listening on http://(\S+)", line)
            if m:
                self.address = m.group(1)
                return self.address
        raise RuntimeError(f"server not listening after {timeout}s; see {self.log_path}")

    def start(self):
        self.spawn()
        return self.wait_listening()

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.address = None

    def stop(self, timeout=60):
        """SIGTERM; returns the seconds it took, or None if it hung (then it is killed)."""
        if not self.proc or self.proc.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
            return time.monotonic() - started
        except subprocess.TimeoutExpired:
            self.kill9()
            return None
        finally:
            self.address = None

    def tool(self, *args, timeout=600):
        r = subprocess.run([self.binary, *args, *self.log_args()], capture_output=True, text=True,
                           timeout=timeout, preexec_fn=_die_with_parent)
        return r.returncode, r.stdout, r.stderr

    def token(self, role):
        rc, out, err = self.tool("token", "create", "--role", role, "--center", CENTER)
        if rc != 0:
            raise RuntimeError(f"token create: {err}")
        return out.strip().splitlines()[-1]


# --- HTTP ---------------------------------------------------------------------------------------

def call(address, method, path, body=None, headers=None, timeout=15.0):
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


class Load:
    """Clients that each post cases one after another, every one under its own Idempotency-Key,
    retrying the same request after any failure until it is answered 2xx."""

    def __init__(self, server, token, clients, run_id):
        self.server, self.token, self.clients, self.run_id = server, token, clients, run_id
        self.stop_new = threading.Event()
        self.final_deadline = None
        self.lock = threading.Lock()
        self.acked = {}        # key -> case id
        self.attempts = {}     # key -> [(correlation id, outcome)], outcome: status or "conn"
        self.bodies = {}       # key -> the request body (a retry sends the same bytes)
        self.unanswered = []   # keys never answered 2xx by the final deadline
        self.refused = []      # keys answered 4xx (a defect here)
        self.threads = []

    def body(self, c, n):
        return json.dumps({"channel": "phone", "center": CENTER,
                           "caller": {"phone": f"139{c:02d}{n:06d}", "name": "chaos"},
                           "content": f"chaos {self.run_id} client {c} case {n}"})

    def send(self, key, body):
        tries = []
        with self.lock:
            self.attempts[key] = tries
            self.bodies[key] = body
        attempt = 0
        while True:
            if self.final_deadline and time.monotonic() > self.final_deadline:
                with self.lock:
                    self.unanswered.append(key)
                return
            address = self.server.address
            if address is None:
                time.sleep(0.02)  # the server is being restarted: back off, then retry
                continue
            attempt += 1
            corr = f"{key}.{attempt}"
            try:
                status, headers, raw = call(address, "POST", "/v1/cases", body,
                                            {"Content-Type": "application/json",
                                             "Authorization": "Bearer " + self.token,
                                             "Idempotency-Key": key, "X-Correlation-Id": corr})
            except (OSError, http.client.HTTPException):
                tries.append((corr, "conn"))
                time.sleep(random.uniform(0.01, 0.05))
                continue
            if status in (200, 201):
                tries.append((corr, status))
                with self.lock:
                    self.acked[key] = json.loads(raw)["id"]
                return
            problem = ""
            try:
                p = json.loads(raw)
                problem = p.get("type", "") + " " + p.get("detail", "")
            except ValueError:
                pass
            tries.append((corr, f"{status} {problem}"))
            if status >= 500 or status == 429:
                time.sleep(random.uniform(0.02, 0.1))
                continue
            with self.lock:
                self.refused.append((key, status, raw[:200]))
            return

    def run_client(self, c):
        n = 0
        while not self.stop_new.is_set():
            n += 1
            self.send(f"{self.run_id}-{c}-{n}", self.body(c, n))

    def start(self):
        for c in range(self.clients):
            t = threading.Thread(target=self.run_client, args=(c,), daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self, grace=90):
        self.stop_new.set()
        self.final_deadline = time.monotonic() + grace
        for t in self.threads:
            t.join(grace + 30)


class HealthProbe:
    """GET /healthz every 20 ms; latencies of the answers (a refused connection while the server
    restarts is not an answer)."""

    def __init__(self, server):
        self.server = server
        self.latencies = []
        self.hung = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            address = self.server.address
            if address:
                t0 = time.monotonic()
                try:
                    status, _, _ = call(address, "GET", "/healthz", timeout=2.0)
                    if status == 200:
                        self.latencies.append(time.monotonic() - t0)
                except TimeoutError:
                    self.hung += 1
                except (OSError, http.client.HTTPException):
                    pass
            self.stop.wait(0.02)

    def summary(self):
        if not self.latencies:
            return {"probes": 0, "p99_ms": None, "max_ms": None, "hung": self.hung}
        s = sorted(self.latencies)
        return {"probes": len(s), "p99_ms": round(1000 * s[int(0.99 * (len(s) - 1))], 1),
                "max_ms": round(1000 * s[-1], 1), "hung": self.hung}


# --- verification -------------------------------------------------------------------------------

def list_cases(address, token):
    ids, cursor = [], None
    while True:
        path = f"/v1/cases?center={CENTER}&limit=200" + (f"&cursor={cursor}" if cursor else "")
        status, _, raw = call(address, "GET", path, headers={"Authorization": "Bearer " + token},
                              timeout=60)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {raw[:200]}")
        page = json.loads(raw)
        ids += [item["id"] for item in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


def in_parallel(items, check, workers=8):
    """Runs `check(item)` for every item on `workers` threads; the items whose check returned a
    problem (anything but None), with it."""
    todo = queue.Queue()
    for item in items:
        todo.put(item)
    bad, lock = [], threading.Lock()

    def work():
        while True:
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            problem = check(item)
            if problem is not None:
                with lock:
                    bad.append((item, problem))

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return bad


def unreadable_cases(address, token, ids):
    """How many of `ids` do not read (GET /v1/cases/{id} other than 200). A case reads with its
    personal fields when this data folder holds its key, without them when another folder's
    server wrote it; a key held here for an id that is another server's case answers 500."""
    def read(case_id):
        status, _, raw = call(address, "GET", f"/v1/cases/{case_id}",
                              headers={"Authorization": "Bearer " + token}, timeout=60)
        return None if status == 200 else (status, raw[:300])

    bad = in_parallel(ids, read)
    for case_id, (status, raw) in bad[:3]:
        log(f"unreadable {case_id}: {status} {raw!r}")
    return len(bad)


def retry_mismatches(address, load):
    """How many acknowledged keys a retry (the same body and Idempotency-Key) does not answer with
    the case it first answered: exactly once under retries."""
    def retry(item):
        key, case_id = item
        status, _, raw = call(address, "POST", "/v1/cases", load.bodies[key],
                              {"Content-Type": "application/json",
                               "Authorization": "Bearer " + load.token, "Idempotency-Key": key},
                              timeout=60)
        if status in (200, 201) and json.loads(raw)["id"] == case_id:
            return None
        return (case_id, status, raw[:300])

    bad = in_parallel(sorted(load.acked.items()), retry)
    for key, (case_id, status, raw) in bad[:3]:
        log(f"retry of {key} (first answered {case_id}): {status} {raw!r}")
    return len(bad)


def verify(server, load, supervisor):
    """Every acknowledged case present once and readable, no duplicate, the key answers the same
    case; a 503 that said nothing was written never wrote; the projections equal a fresh
    rebuild."""
    out = {}
    address = server.start() if server.address is None else server.address
    listed = list_cases(address, supervisor)
    acked_ids = set(load.acked.values())
    out["acked"] = len(load.acked)
    out["lost"] = len(acked_ids - set(listed))
    # Beyond the acknowledged cases, only a key never answered may have written one (its last
    # attempt cut off); anything more is a duplicate.
    out["duplicates"] = (len(listed) - len(set(listed)) +
                         max(0, len(set(listed)) - len(acked_ids) - len(load.unanswered)))
    out["unanswered"] = len(load.unanswered)
    out["refused"] = len(load.refused)
    out["unreadable"] = unreadable_cases(address, supervisor, sorted(acked_ids))
    for key, status, raw in load.refused[:3]:
        log(f"refused {key}: {status} {raw!r}")
    # A retry of every acknowledged key answers the same case (exactly once under retries).
    out["retry_mismatch"] = retry_mismatches(address, load)
    # "Nothing was written" must be true: the case of a key whose attempt got that answer was
    # written by another attempt.
    false_nothing = 0
    for key, tries in load.attempts.items():
        said_nothing = {corr for corr, outcome in tries
                        if any(t in str(outcome) for t in ("log-unavailable", "partition-moving"))}
        if not said_nothing or key not in load.acked:
            continue
        status, _, raw = call(address, "GET", f"/v1/cases/{load.acked[key]}/events",
                              headers={"Authorization": "Bearer " + supervisor})
        if status == 200:
            first = json.loads(raw)["events"][0]
            if first.get("correlation_id") in said_nothing:
                log(f"false 'nothing was written' for {key}: {tries}")
                false_nothing += 1
    out["false_nothing_written"] = false_nothing
    took = server.stop()
    out["stop_s"] = None if took is None else round(took, 1)
    rc, stdout, stderr = server.tool("rebuild", "--verify")
    out["rebuild_verify"] = "identical" if rc == 0 and "verify: identical" in stdout else \
        (stdout + stderr).strip().splitlines()[-1:] or ["failed"]
    return out


def broken(result, healthz_limit_ms=None):
    problems = []
    for k in ("lost", "duplicates", "unanswered", "refused", "unreadable", "retry_mismatch",
              "false_nothing_written"):
        if result.get(k):
            problems.append(f"{k}={result[k]}")
    if result.get("stop_s", 0) is None:
        problems.append("hung on stop")
    if result.get("rebuild_verify") != "identical":
        problems.append(f"rebuild: {result.get('rebuild_verify')}")
    h = result.get("healthz")
    if h and h["hung"]:
        problems.append(f"healthz hung {h['hung']} times")
    if h and healthz_limit_ms and h["max_ms"] and h["max_ms"] > healthz_limit_ms:
        problems.append(f"healthz max {h['max_ms']} ms > {healthz_limit_ms} ms")
    return problems


# --- scenarios ----------------------------------------------------------------------------------

def r1_kill9(binary, work, kafka, seconds, clients, kill_every):
    data = os.path.join(work, "r1-" + ("kafka" if kafka else "embedded"))
    topic = f"chaos.r1.{os.getpid()}.{int(time.time())}" if kafka else None
    server = Server(binary, data, kafka, topic)
    os.makedirs(data)
    agent, supervisor = server.token("agent"), server.token("supervisor")
    server.start()
    load = Load(server, agent, clients, "r1")
    probe = HealthProbe(server)
    load.start()
    probe.thread.start()
    kills = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(random.uniform(*kill_every), max(0.0, end - time.monotonic())))
        if time.monotonic() >= end:
            break
        server.kill9()
        kills += 1
        server.start()
    load.finish()
    probe.stop.set()
    result = verify(server, load, supervisor)
    result["kills"] = kills
    result["healthz"] = probe.summary()
    return result


def start_private_broker(work):
    env = dict(os.environ, KAFKA_KEEP_WORK="1")
    boot_file = os.path.join(work, "broker.bootstrap")
    env["KAFKA_BOOTSTRAP_FILE"] = boot_file
    err_path = os.path.join(work, "broker.out")
    proc = subprocess.Popen(["bash", os.path.join(ROOT, "tools", "kafka-local.sh"), "start"],
                            stdout=subprocess.DEVNULL, stderr=open(err_path, "wb"), env=env,
                            preexec_fn=_die_with_parent)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not os.path.exists(boot_file):
        if proc.poll() is not None:
            raise RuntimeError("private broker exited: " + open(err_path).read()[-2000:])
        time.sleep(0.2)  # polls the broker's readiness file, bounded by the deadline
    text = open(err_path).read()
    m = re.search(r"ready on (\S+) \(pid (\d+), logs (\S+)/logs\)", text)
    if not m:
        raise RuntimeError("private broker did not start: " + text[-2000:])
    return proc, m.group(1), int(m.group(2)), m.group(3)


def r2_broker(binary, work, seconds, clients, freeze_s, down_s):
    data = os.path.join(work, "r2-kafka")
    os.makedirs(data)
    wrapper, bootstrap, jvm, kwork = start_private_broker(work)
    cmdline = open(f"/proc/{jvm}/cmdline", "rb").read().split(b"\0")[:-1]
    relaunched = None
    server = Server(binary, data, bootstrap, f"chaos.r2.{os.getpid()}")
    try:
        agent, supervisor = server.token("agent"), server.token("supervisor")
        server.start()
        load = Load(server, agent, clients, "r2")
        probe = HealthProbe(server)
        load.start()
        probe.thread.start()
        time.sleep(seconds / 3)
        log(f"freezing the broker (SIGSTOP) for {freeze_s}s")
        os.kill(jvm, signal.SIGSTOP)
        time.sleep(freeze_s)
        os.kill(jvm, signal.SIGCONT)
        time.sleep(seconds / 3)
        log(f"stopping the broker (SIGTERM) for {down_s}s")
        os.kill(jvm, signal.SIGTERM)
        wrapper.wait(120)
        time.sleep(down_s)
        relaunched = subprocess.Popen([c.decode() for c in cmdline], cwd=kwork,
                                      stdout=open(os.path.join(kwork, "logs", "relaunch.log"), "wb"),
                                      stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        time.sleep(seconds / 3)
        load.finish(grace=180)
        probe.stop.set()
        result = verify(server, load, supervisor)
        result["healthz"] = probe.summary()
        result["kills"] = 0
        return result
    finally:
        server.kill9()
        for p in (relaunched, wrapper):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(kwork, ignore_errors=True)


class Loads:
    """Several loads (of several servers on one topic) seen as one by verify()."""

    def __init__(self, *loads):
        self.token = loads[0].token
        self.acked, self.attempts, self.bodies = {}, {}, {}
        self.unanswered, self.refused = [], []
        for l in loads:
            self.acked.update(l.acked)
            self.attempts.update(l.attempts)
            self.bodies.update(l.bodies)
            self.unanswered += l.unanswered
            self.refused += l.refused


def r4_paused(binary, work, kafka, seconds, clients, session_s=10):
    topic = f"chaos.r4.{os.getpid()}.{int(time.time())}"
    first = Server(binary, os.path.join(work, "r4-first"), kafka, topic)
    second = Server(binary, os.path.join(work, "r4-second"), kafka, topic)
    os.makedirs(first.data)
    os.makedirs(second.data)
    try:
        agent, supervisor = first.token("agent"), first.token("supervisor")
        first.start()
        load = Load(first, agent, clients, "r4a")
        load.start()
        time.sleep(seconds / 3)
        log("pausing the first server (SIGSTOP)")
        first.proc.send_signal(signal.SIGSTOP)
        # Refused until the paused server's membership expires, then it holds the topic.
        second.start()
        other = Load(second, agent, clients, "r4b")
        other.start()
        time.sleep(seconds / 3)
        other.finish()
        second.stop()
        log(f"the second server stopped; its membership expires in {session_s}s")
        time.sleep(session_s + 3)
        log("the first server runs again (SIGCONT)")
        first.proc.send_signal(signal.SIGCONT)
        time.sleep(seconds / 3)
        load.finish(grace=180)
        result = verify(first, Loads(load, other), supervisor)
        result["kills"] = 0
        result["second_acked"] = len(other.acked)
        return result
    finally:
        if first.proc and first.proc.poll() is None:
            first.proc.send_signal(signal.SIGCONT)
        first.kill9()
        second.kill9()


def r3_replay_crash(binary, work, kafka, events, kills, clients):
    data = os.path.join(work, "r3-" + ("kafka" if kafka else "embedded"))
    os.makedirs(data)
    topic = f"chaos.r3.{os.getpid()}.{int(time.time())}" if kafka else None
    server = Server(binary, data, kafka, topic)
    agent = server.token("agent")
    server.start()
    load = Load(server, agent, clients, "r3")
    load.start()
    while len(load.acked) < events:
        time.sleep(0.2)  # polls the load's progress, bounded by the load itself
    load.finish()
    server.stop()
    # One clean replay, timed: the kills land anywhere in it.
    shutil.rmtree(os.path.join(data, "store"))
    t0 = time.monotonic()
    server.start()
    full = time.monotonic() - t0
    server.stop()
    shutil.rmtree(os.path.join(data, "store"))
    failures = []
    for i in range(kills):
        server.spawn()
        time.sleep(random.uniform(0.05, max(0.1, full)))  # a random point of the replay
        server.kill9()
        server.start()  # resumes from the offsets stored with the rows
        server.stop()
        rc, out, err = server.tool("rebuild", "--verify")
        if rc != 0 or "verify: identical" not in out:
            failures.append((i, (out + err).strip().splitlines()[-3:]))
        shutil.rmtree(os.path.join(data, "store"))
    result = {"acked": len(load.acked), "kills": kills, "replay_s": round(full, 1),
              "rebuild_verify": "identical" if not failures else failures[:3],
              "unanswered": len(load.unanswered), "refused": len(load.refused)}
    return result


def show_server_logs(work, since, lines=40):
    """A failed scenario's evidence: the warnings and errors its servers logged (no personal
    data: the server never logs any), `lines` of them from each log written since `since`."""
    for name in sorted(os.listdir(work)):
        path = os.path.join(work, name)
        if not name.endswith(".server.log") or os.path.getmtime(path) < since:
            continue
        with open(path, errors="replace") as f:
            picked = [ln.rstrip("\n") for ln in f
                      if any(f'"level":"{lv}"' in ln for lv in ("warning", "error", "critical"))]
        # The first ones say what went wrong, the last ones how it ended.
        shown = picked if len(picked) <= lines else picked[:lines // 4] + ["..."] + picked[-(lines - lines // 4):]
        log(f"{name}: {len(picked)} warnings and errors; the first and the last of them:")
        for ln in shown:
            print(f"  {ln[:600]}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", action="store_true", help="seconds, not minutes (CI)")
    ap.add_argument("--logs", default="embedded,kafka")
    ap.add_argument("--scenarios", default="R1,R2,R3,R4")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "tools", "caseline"))
    ap.add_argument("--healthz-limit-ms", type=float, default=100.0)
    a = ap.parse_args()
    logs = [x for x in a.logs.split(",") if x]
    scenarios = [x.upper() for x in a.scenarios.split(",") if x]
    kafka = os.environ.get("KAFKA_BOOTSTRAP")
    if "kafka" in logs and not kafka:
        print("chaos: KAFKA_BOOTSTRAP is not set: run under tools/kafka-local.sh run --", file=sys.stderr)
        return 2
    short = a.short
    work = tempfile.mkdtemp(prefix="caseline-chaos-")
    rows, passed, failed = [], 0, 0
    try:
        for lg in logs:
            k = kafka if lg == "kafka" else None
            runs = []
            if "R1" in scenarios:
                runs.append(("R1 kill -9 under retries", lambda: r1_kill9(
                    a.binary, work, k, 12 if short else 60, 4 if short else 8,
                    (3, 5) if short else (5, 10)), None))
            if "R2" in scenarios and lg == "kafka":
                runs.append(("R2 broker frozen, stopped", lambda: r2_broker(
                    a.binary, work, 9 if short else 30, 4, 4 if short else 14, 4 if short else 10),
                    a.healthz_limit_ms))
            if "R4" in scenarios and lg == "kafka":
                runs.append(("R4 paused, replaced, back", lambda: r4_paused(
                    a.binary, work, k, 9 if short else 30, 4), None))
            if "R3" in scenarios:
                runs.append(("R3 replay killed", lambda: r3_replay_crash(
                    a.binary, work, k, 1500 if short else 100_000, 3 if short else 50,
                    4 if short else 16), None))
            for name, fn, limit in runs:
                log(f"{name} ({lg}) ...")
                t0 = time.monotonic()
                started_wall = time.time()
                try:
                    result = fn()
                    problems = broken(result, limit)
                except (RuntimeError, OSError, http.client.HTTPException, ValueError) as e:
                    # A server that broke (an answer the verifier cannot read, a start that never
                    # came): this scenario failed, the others still run and the table is printed.
                    result, problems = {}, [f"{type(e).__name__}: {e}"]
                result["seconds"] = round(time.monotonic() - t0, 1)
                rows.append((name, lg, result, problems))
                if problems:
                    failed += 1
                    show_server_logs(work, started_wall)
                else:
                    passed += 1
                log(f"{name} ({lg}): {'ok' if not problems else '; '.join(problems)} {json.dumps(result)}")
    finally:
        if failed:
            log(f"the servers' logs are kept in {work}")
        elif os.environ.get("CHAOS_KEEP_WORK") != "1":
            shutil.rmtree(work, ignore_errors=True)
    print("| scenario | log | acked | lost | duplicates | kills | healthz p99/max ms | rebuild | seconds | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, lg, r, problems in rows:
        h = r.get("healthz") or {}
        print(f"| {name} | {lg} | {r.get('acked')} | {r.get('lost', '-')} | {r.get('duplicates', '-')} "
              f"| {r.get('kills')} | {h.get('p99_ms', '-')}/{h.get('max_ms', '-')} "
              f"| {r.get('rebuild_verify') if r.get('rebuild_verify') == 'identical' else 'DIFFERS'} "
              f"| {r.get('seconds')} | {'ok' if not problems else '; '.join(problems)} |")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
