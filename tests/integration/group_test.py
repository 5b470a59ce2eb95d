#!/usr/bin/env python3
"""Three `caseline serve` in one Kafka consumer group on a private three-broker cluster.

Clients post cases and drive them through classification, transfer and reply on all three
instances at once, each command under its own Idempotency-Key, retried (on any instance) after a
5xx or a lost connection. Meanwhile one instance is killed with kill -9, a second is stopped with
SIGTERM and started again, and one broker is killed and started again. The killed instance comes
back at the end. Then every instance's manual clock moves past the reply deadlines, twice, and
the owners of the partitions send the reminders.

At the end:
  - every acknowledged command is in the log exactly once (each case's events, read on every
    instance, hold each of its commands once) and nothing acknowledged is missing;
  - every case id is unique, and every instance lists the same cases;
  - each due reminder was sent once (one `reminded` event per case and deadline);
  - every instance's store equals a fresh rebuild from the log (`caseline rebuild --verify`).

Usage: tests/integration/group_test.py [--binary build/tools/caseline] [--seconds 45] [--short]
--short (what ctest runs, label kafka_cluster): the same kills, restarts and checks with a
shorter load (18 s) and four clients. Starts its own brokers (tools/kafka-local.sh start
--brokers 3, in its own folder, on ports of its own: beside the broker of the test command);
exits 1 when an invariant is broken, and prints a summary line with the figures, among them
the 5xx answers the clients retried and the commands never answered, each counted by cause.
"""

import argparse
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(ROOT, "tools"))
import chaos  # noqa: E402  (the chaos suite's server and HTTP helpers)

CENTER = chaos.CENTER
UNIT = "zz-transit"
PARTITIONS = 6
# Every server of a group shares the master key that wraps the data keys (a server with another
# one refuses to start).
GROUP_ENV = dict(os.environ, CASELINE_MASTER_KEY="5e" * 32)
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def log(msg):
    print(f"group-test: {msg}", file=sys.stderr, flush=True)


class Cluster:
    """The private three-broker KRaft cluster of tools/kafka-local.sh."""

    def __init__(self, state):
        self.state = state
        self.proc = None
        self.bootstrap = None

    def start(self, timeout=240):
        self.proc = subprocess.Popen(
            ["bash", os.path.join(ROOT, "tools", "kafka-local.sh"), "start", "--brokers", "3",
             "--state", self.state], stdout=subprocess.PIPE,
            stderr=open(self.state + ".out", "ab"), text=True, preexec_fn=chaos._die_with_parent)
        deadline = time.monotonic() + timeout
        for line in self.proc.stdout:
            m = re.match(r"KAFKA_BOOTSTRAP=(\S+)", line)
            if m:
                self.bootstrap = m.group(1)
                # What it prints afterwards is read too: it never blocks on a full pipe.
                threading.Thread(target=shutil.copyfileobj,
                                 args=(self.proc.stdout, open(self.state + ".out", "a")),
                                 daemon=True).start()
                return self.bootstrap
            if time.monotonic() > deadline:
                break
        raise RuntimeError("the cluster did not start; see " + self.state + ".out")

    def script(self, *args):
        r = subprocess.run(["bash", os.path.join(ROOT, "tools", "kafka-local.sh"), *args,
                            "--state", self.state], capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            raise RuntimeError(f"kafka-local.sh {' '.join(args)}: {r.stdout}{r.stderr}")

    def stop(self):
        try:
            self.script("stop")
        finally:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


class Member(chaos.Server):
    """One instance of the group: manual clock, its own data folder, the shared topic."""

    def __init__(self, binary, data, kafka, topic, group):
        super().__init__(binary, data, kafka, topic, PARTITIONS)
        self.group = group
        # A fixed port across restarts: the other members forward to the advertised address.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    def spawn(self):
        args = [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}",
                "--checkpoint-interval", "1",
                "--token-rate", "100000", "--token-burst", "100000", "--clock", "manual",
                "--group", self.group, "--group-session-timeout", "6"]
        self.proc = subprocess.Popen(args + self.log_args(), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=GROUP_ENV,
                                     preexec_fn=chaos._die_with_parent)
        self.address = None
        # Its output goes into its log file from the start, whether or not anyone waits on it:
        # a server never blocks on a full pipe.
        listening = self.listening = threading.Event()
        proc, path = self.proc, self.log_path

        def copy():
            with open(path, "a") as out:
                for line in proc.stdout:
                    out.write(line)
                    out.flush()
                    if "listening on http://" in line:
                        listening.set()

        threading.Thread(target=copy, daemon=True).start()

    def wait_listening(self, timeout=180):
        """Returns once the server listens (its output is in its log file)."""
        if not self.listening.wait(timeout):
            raise RuntimeError(f"server not listening after {timeout}s; see {self.log_path}")
        self.address = f"127.0.0.1:{self.port}"
        return self.address

    def tool(self, *args, timeout=600):
        r = subprocess.run([self.binary, *args, *self.log_args()], capture_output=True, text=True,
                           timeout=timeout, env=GROUP_ENV, preexec_fn=chaos._die_with_parent)
        return r.returncode, r.stdout, r.stderr


def auth(token):
    return {"Authorization": "Bearer " + token, "Content-Type": "application/json"}


class Clients:
    """Clients driving cases through intake, transfer and reply on every live instance."""

    def __init__(self, members, tokens, clients):
        self.members, self.tokens, self.clients = members, tokens, clients
        self.stop_new = threading.Event()
        self.final_deadline = None
        self.lock = threading.Lock()
        self.acked = {}        # idempotency key -> (case id, command)
        self.cases = {}        # case id -> commands acknowledged, in order
        self.unanswered = []   # keys never answered 2xx by the final deadline
        self.last = {}         # key -> the last failed outcome (for the report)
        self.refused = []      # keys answered 4xx (a defect here)
        self.retried = {}      # cause of a 5xx answer (problem type or text) -> how many
        self.last_cause = {}   # key -> the cause of its last failed try (failure_cause)
        self.forwarded_answers = 0
        self.threads = []

    def live(self):
        return [m.address for m in self.members if m.address]

    def send(self, key, path, body, token):
        """Retries the same request on any live instance until 2xx, a 4xx, or the deadline."""
        while True:
            if self.final_deadline and time.monotonic() > self.final_deadline:
                with self.lock:
                    self.unanswered.append(key)
                return None
            live = self.live()
            if not live:
                time.sleep(0.05)  # every instance restarting at once: back off, then retry
                continue
            address = random.choice(live)
            try:
                status, headers, raw = chaos.call(address, "POST", path, body,
                                                  {**auth(token), "Idempotency-Key": key},
                                                  timeout=30)
            except Exception as e:  # a killed instance, a reset connection: another try
                self.last[key] = f"{address}: {type(e).__name__}"
                self.last_cause[key] = f"no answer: {type(e).__name__}"
                time.sleep(random.uniform(0.02, 0.1))
                continue
            if status in (200, 201):
                return json.loads(raw)
            if status >= 500 or status == 429:
                self.last[key] = f"{address}: {status} {raw[:160]!r}"
                cause = failure_cause(status, raw)
                self.last_cause[key] = cause
                with self.lock:
                    self.retried[cause] = self.retried.get(cause, 0) + 1
                time.sleep(random.uniform(0.05, 0.2))
                continue
            with self.lock:
                self.refused.append((key, path, status, raw[:300]))
            return None

    def drive(self, c, n):
        base = f"g{c}-{n}"
        received = self.send(base + "-r", "/v1/cases", json.dumps(
            {"channel": "phone", "center": CENTER,
             "caller": {"phone": f"139{c:02d}{n:06d}", "name": "group"},
             "content": f"group test client {c} case {n}"}), self.tokens["agent"])
        if received is None:
            return
        case_id = received["id"]
        with self.lock:
            self.acked[base + "-r"] = (case_id, "case_received")
            self.cases[case_id] = ["case_received"]
        steps = [("-c", "classify", {"category": "complaint", "domain": "road_transport"},
                  "agent", "classified"),
                 ("-t", "transfer", {"unit": UNIT}, "agent", "transferred")]
        if n % 4 != 0:  # one case in four stays with the unit: its reply falls due
            steps.append(("-p", "reply", {"facts": "已核实", "process": "已处理",
                                          "basis": "《道路运输条例》", "caller_reached": True},
                          "unit", "replied"))
        for suffix, verb, body, role, event in steps:
            answer = self.send(base + suffix, f"/v1/cases/{case_id}/{verb}", json.dumps(body),
                               self.tokens[role])
            if answer is None:
                return
            with self.lock:
                self.acked[base + suffix] = (case_id, event)
                self.cases[case_id].append(event)

    def run_client(self, c):
        n = 0
        while not self.stop_new.is_set():
            n += 1
            self.drive(c, n)

    def start(self):
        for c in range(self.clients):
            t = threading.Thread(target=self.run_client, args=(c,), daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self, grace=120):
        self.stop_new.set()
        self.final_deadline = time.monotonic() + grace
        for t in self.threads:
            t.join(grace + 30)


def failure_cause(status, raw):
    """A 5xx answer's cause for the summary: its problem type, and for a 500 what it says."""
    try:
        body = json.loads(raw)
    except ValueError:
        return f"{status} (no problem body)"
    kind = str(body.get("type", "")).rsplit("/", 1)[-1] or "untyped"
    detail = str(body.get("detail", ""))
    if "has no data key" in detail:
        return f"{status} {kind}: has no data key"
    if "did not answer the reader in time" in detail:
        return f"{status} {kind}: the reader did not answer in time"
    return f"{status} {kind}"


def list_everywhere(members, token):
    return {m.address: chaos.list_cases(m.address, token) for m in members}


def events_of(address, token, case_id):
    status, _, raw = chaos.call(address, "GET", f"/v1/cases/{case_id}/events",
                                headers={"Authorization": "Bearer " + token}, timeout=30)
    if status != 200:
        raise RuntimeError(f"events of {case_id} on {address}: {status} {raw[:200]}")
    return json.loads(raw)["events"]


def wait_until(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)  # polls the instances' state, bounded by the deadline
    log(f"gave up waiting for {what} after {timeout}s")
    return False


def admin_call(members, admin, method, path, body, timeout=120, after=None):
    """One admin write through any member, retried while the group settles (503). `after` is a
    list the write's Caseline-Position is appended to, and that a later call's Caseline-After is
    made of: another member may not have applied the earlier write yet (read-your-writes across
    servers is the client's to ask for)."""
    deadline = time.monotonic() + timeout
    last = None
    headers = auth(admin)
    if after:
        headers["Caseline-After"] = ",".join(after)
    while time.monotonic() < deadline:
        for m in members:
            status, answer_headers, raw = chaos.call(m.address, method, path, json.dumps(body),
                                                     headers, timeout=30)
            if status in (200, 201):
                if after is not None and answer_headers.get("caseline-position"):
                    after.append(answer_headers["caseline-position"])
                return json.loads(raw)
            last = (status, raw[:300])
            if status < 500:
                raise RuntimeError(f"{method} {path}: {status} {raw[:300]}")
        time.sleep(0.5)  # the group is still assigning partitions: retry, bounded by the deadline
    raise RuntimeError(f"{method} {path}: no member took it: {last}")


def recording_across(members, tokens, timeout=120):
    """A recording of several chunks uploaded on one member, named by a case received on a
    second, read on the third. Returns what went wrong, or None."""
    audio = random.Random(20261201).randbytes(1536 * 1024 + 77)
    deadline = time.monotonic() + timeout
    up = None
    while time.monotonic() < deadline:
        status, _, raw = chaos.call(members[0].address, "PUT", "/v1/recordings", audio,
                                    {"Authorization": "Bearer " + tokens["agent"],
                                     "Content-Type": "audio/wav"}, timeout=30)
        if status == 201:
            up = json.loads(raw)
            break
        if status < 500:
            return f"recording upload: {status} {raw[:200]!r}"
        time.sleep(0.5)  # the group is settling: retry, bounded by the deadline
    if up is None:
        return "recording upload: no 201"
    body = json.dumps({"channel": "phone", "center": CENTER,
                       "caller": {"phone": "13912345678", "name": "audio"},
                       "content": "group test recording",
                       "recording": {"uri": up["uri"], "sha256": up["sha256"],
                                     "duration_s": 90}})
    case, position = None, None
    while time.monotonic() < deadline:
        status, headers, raw = chaos.call(members[1].address, "POST", "/v1/cases", body,
                                          {**auth(tokens["agent"]),
                                           "Idempotency-Key": f"audio-{os.getpid()}"},
                                          timeout=30)
        if status == 201:
            case, position = json.loads(raw)["id"], headers.get("caseline-position")
            break
        if status < 500:
            return f"case with the recording: {status} {raw[:200]!r}"
        time.sleep(0.5)  # retried with the same Idempotency-Key, bounded by the deadline
    if case is None:
        return "case with the recording: no 201"
    last = None
    while time.monotonic() < deadline:
        headers = {"Authorization": "Bearer " + tokens["supervisor"]}
        if position:
            headers["Caseline-After"] = position
        status, _, raw = chaos.call(members[2].address, "GET", f"/v1/cases/{case}/recording",
                                    None, headers, timeout=30)
        if status == 200:
            return None if raw == audio else "the recording read on member 2 differs"
        last = (status, raw[:200])
        time.sleep(0.5)  # member 2 applies the case and the audio: bounded by the deadline
    return f"the recording was not read on member 2: {last}"


def set_clocks(members, admin, at):
    body = json.dumps({"now": at.isoformat(timespec="seconds")})
    for m in members:
        status, _, raw = chaos.call(m.address, "POST", "/v1/admin/clock", body, auth(admin))
        if status != 200:
            raise RuntimeError(f"clock on {m.address}: {status} {raw[:200]}")


def run(binary, seconds, clients):
    work = tempfile.mkdtemp(prefix="caseline-group-")
    cluster = Cluster(os.path.join(work, "kafka"))
    members = []
    result, problems = {}, []
    try:
        t0 = time.monotonic()
        bootstrap = cluster.start()
        result["cluster_start_s"] = round(time.monotonic() - t0, 1)
        topic, group = f"group.{os.getpid()}", f"caseline-test-{os.getpid()}"
        for i in range(3):
            data = os.path.join(work, f"member{i}")
            os.makedirs(data)
            members.append(Member(binary, data, bootstrap, topic, group))
        tokens = {"admin": members[0].token("admin"), "agent": members[0].token("agent"),
                  "supervisor": members[0].token("supervisor")}
        for m in members:
            m.spawn()
        for m in members:
            m.wait_listening()
        # Every instance starts at the same manual time.
        start = datetime.datetime.now(SHANGHAI).replace(microsecond=0)
        set_clocks(members, tokens["admin"], start)
        # The unit and its staff's token, through the API of any member: the writes go to the
        # owners of the registry's and the tokens' partitions (503 while the group settles).
        # The token is checked against the registry on whichever member takes it: it asks for
        # the unit's registration with Caseline-After.
        written = []
        admin_call(members, tokens["admin"], "PUT", f"/v1/units/{UNIT}", {
            "name": "Transit", "center": CENTER,
            "contact": {"name": "Wang", "mobile": "13700000000", "email": "w@example.cn"}},
            after=written)
        if not written:
            raise RuntimeError(f"PUT /v1/units/{UNIT}: the answer has no Caseline-Position")
        tokens["unit"] = admin_call(members, tokens["admin"], "POST", "/v1/admin/tokens", {
            "role": "unit", "center": CENTER, "unit": UNIT}, after=written)["token"]

        load = Clients(members, tokens, clients)
        load.start()
        step = seconds / 6
        time.sleep(step)
        log("kill -9 of member 0")
        members[0].kill9()
        time.sleep(step)
        log("SIGTERM of member 1, then start again")
        took = members[1].stop()
        result["member1_stop_s"] = None if took is None else round(took, 1)
        members[1].start()
        set_clocks([members[1]], tokens["admin"], start)
        time.sleep(step)
        log("kill -9 of broker 2")
        cluster.script("stop-broker", "2", "--kill")
        time.sleep(step)
        log("broker 2 starts again")
        cluster.script("start-broker", "2")
        time.sleep(step)
        log("member 0 starts again")
        members[0].start()
        set_clocks([members[0]], tokens["admin"], start)
        time.sleep(step)
        load.finish()
        result["acked_commands"] = len(load.acked)
        result["cases"] = len(load.cases)
        result["unanswered"] = len(load.unanswered)
        result["refused"] = len(load.refused)
        result["retried_5xx_by_cause"] = dict(sorted(load.retried.items()))
        by_cause = {}
        for key in load.unanswered:
            cause = load.last_cause.get(key, "no answer")
            by_cause[cause] = by_cause.get(cause, 0) + 1
        result["unanswered_by_cause"] = dict(sorted(by_cause.items()))
        for key, path, status, raw in load.refused[:3]:
            log(f"refused {key} {path}: {status} {raw!r}")
        for key in load.unanswered[:5]:
            log(f"unanswered {key}: last {load.last.get(key)}")

        supervisor = tokens["supervisor"]
        acked_ids = set(load.cases)
        # Every instance lists every acknowledged case (its projections caught up), once.
        lists = {}

        def all_listed():
            lists.update(list_everywhere(members, supervisor))
            return all(acked_ids <= set(v) for v in lists.values())

        if not wait_until("every instance to list every case", all_listed, 120):
            problems.append("an instance lacks acknowledged cases")
        for address, ids in lists.items():
            if len(ids) != len(set(ids)):
                problems.append(f"{address} lists a case id twice")
        listed = [set(v) for v in lists.values()]
        if any(x != listed[0] for x in listed):
            problems.append("the instances list different cases")
        # Beyond the acknowledged cases, only a receive never answered may have written one.
        unanswered_receives = sum(1 for k in load.unanswered if k.endswith("-r"))
        extra = len(listed[0] - acked_ids) if listed else 0
        result["cases_listed"] = len(listed[0]) if listed else 0
        if extra > unanswered_receives:
            problems.append(f"{extra} cases beyond the acknowledged ones")

        # Each acknowledged command once in each case's history, read on every instance. Listing
        # a case says an instance applied its receive, not its later commands: an instance
        # applies what another acknowledged a moment later (these reads carry no Caseline-After),
        # so the histories are read until none lacks a command, or the deadline; a command the
        # log lost never appears, and one in it twice stays twice.
        counts = {}

        def histories_complete():
            twice = missing = 0
            for case_id, done in load.cases.items():
                for m in members:
                    types = [e["type"] for e in events_of(m.address, supervisor, case_id)]
                    for event in done:
                        n = types.count(event)
                        if n == 0:
                            missing += 1
                        elif n > 1:
                            twice += 1
            counts.update(missing=missing, twice=twice)
            return missing == 0

        wait_until("every instance to hold every acknowledged command", histories_complete, 60)
        missing, twice = counts["missing"], counts["twice"]
        result["missing"], result["doubled"] = missing, twice
        if missing:
            problems.append(f"{missing} acknowledged commands missing")
        if twice:
            problems.append(f"{twice} commands in the log twice")

        # Call audio across the group: uploaded on member 0, named by a case received on member
        # 1, read on member 2 (the audio topic, projections/audio_replica.h).
        recording_problem = recording_across(members, tokens)
        result["recording_across"] = recording_problem or "ok"
        if recording_problem:
            problems.append(recording_problem)

        # The reply deadlines pass (30 working days at most): the owners remind, once each, also
        # when every instance runs its reminders again.
        later = start + datetime.timedelta(days=75)
        set_clocks(members, tokens["admin"], later)
        unreplied = [c for c, done in load.cases.items()
                     if "transferred" in done and "replied" not in done]
        result["unreplied"] = len(unreplied)

        def reminded_all():
            return all(any(e["type"] == "reminded"
                           for e in events_of(members[0].address, supervisor, c))
                       for c in unreplied)

        if not wait_until("the reminders", reminded_all, 120):
            problems.append("a due reminder was not sent")
        set_clocks(members, tokens["admin"], later + datetime.timedelta(minutes=1))
        # Every instance runs its reminders again on the second move; the count below polls.
        doubled_reminders = 0
        reminders = 0

        def count_reminders():
            nonlocal doubled_reminders, reminders
            doubled_reminders = reminders = 0
            for c in unreplied:
                seen = {}
                for e in events_of(members[1].address, supervisor, c):
                    if e["type"] == "reminded":
                        k = (e["data"].get("kind"), e["data"].get("due"))
                        seen[k] = seen.get(k, 0) + 1
                reminders += len(seen)
                doubled_reminders += sum(1 for v in seen.values() if v > 1)
            return reminders >= len(unreplied)

        wait_until("the reminders on another instance", count_reminders, 60)
        result["reminders"], result["doubled_reminders"] = reminders, doubled_reminders
        if doubled_reminders:
            problems.append(f"{doubled_reminders} reminders sent twice")

        # Every instance's store equals a fresh rebuild from the log.
        stops = []
        for m in members:
            took = m.stop()
            stops.append(None if took is None else round(took, 1))
        result["stop_s"] = stops
        verdicts = []
        for m in members:
            rc, out, err = m.tool("rebuild", "--verify")
            verdicts.append(rc == 0 and "verify: identical" in out)
            if not verdicts[-1]:
                log(f"rebuild --verify of {m.data}: {(out + err).strip()[-600:]}")
        result["rebuild_verify"] = verdicts
        if not all(verdicts):
            problems.append("a store differs from a fresh rebuild")
        if load.unanswered:
            problems.append(f"{len(load.unanswered)} commands never answered")
        if load.refused:
            problems.append(f"{len(load.refused)} commands refused")
        if not load.cases:
            problems.append("no case was acknowledged")
        # A 500 says only "internal error"; the servers' logs say which (no personal data there).
        result["logged_500_no_data_key"] = sum(
            open(m.log_path, errors="replace").read().count("has no data key") for m in members)
    finally:
        for m in members:
            m.kill9()
        cluster.stop()
        if os.environ.get("GROUP_TEST_KEEP_WORK") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"work kept in {work}")
    return result, problems


def script_main(name, doc, run, add_arguments=None):
    """The command line of a group script: `--binary` (and what `add_arguments(parser)` adds),
    `run(args)` -> the failed checks, one summary line "<name>: <s> s, ok" (or FAILED: ...),
    and the exit status (0 when nothing failed)."""
    ap = argparse.ArgumentParser(description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "tools", "caseline"))
    if add_arguments:
        add_arguments(ap)
    a = ap.parse_args()
    t0 = time.monotonic()
    problems = run(a)
    print(f"{name}: {round(time.monotonic() - t0, 1)} s, " +
          ("ok" if not problems else "FAILED: " + "; ".join(problems)))
    return 0 if not problems else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "tools", "caseline"))
    ap.add_argument("--seconds", type=float, default=45)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--short", action="store_true",
                    help="a shorter load (18 s, 4 clients): the same kills and checks (ctest)")
    a = ap.parse_args()
    if a.short:
        a.seconds, a.clients = 18, 4
    t0 = time.monotonic()
    result, problems = run(a.binary, a.seconds, a.clients)
    result["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(result))
    print("group test: " + ("ok" if not problems else "FAILED: " + "; ".join(problems)))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
