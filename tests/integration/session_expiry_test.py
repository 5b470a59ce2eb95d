#!/usr/bin/env python3
"""A member of the group frozen past its session timeout (SIGSTOP), then thawed (SIGCONT).

Two `caseline serve`, A and B, in one Kafka consumer group on a private broker, with
--group-session-timeout 6. Neither was given a token: the bootstrap admin token is issued by the
member the group gives the tokens' partition. Cases are made through both members. Then A is
stopped with SIGSTOP: neither its consumer nor its producers poll or heart-beat any more. While
A is frozen, commands on cases of A's partitions are sent to A (the kernel queues them), the
session expires, and the group gives B every partition; B writes one of A's former cases. Then A
is thawed. Checks:
  - the bootstrap admin token was printed by one member, once;
  - B owned every partition while A was frozen and wrote there;
  - no write A made after B took its partitions was acknowledged or became readable: every
    command A answered 2xx is in the case's history on B once, and every one it refused as not
    written (503 log-unavailable, partition-moving) is, retried on B with its Idempotency-Key,
    written then (not replayed from an earlier record), once;
  - A rejoins the group and serves again: it owns partitions, and a new case sent to A is
    acknowledged and readable on B after its position.

Usage: tests/integration/session_expiry_test.py [--binary build/tools/caseline]
Starts its own broker (tools/kafka-local.sh start); exits 1 when a check fails.
"""

import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402  (the server and HTTP helpers)
import group_test  # noqa: E402  (a member of the group, waiting with a deadline)

CENTER = chaos.CENTER
PARTITIONS = group_test.PARTITIONS
BOOT = re.compile(r"bootstrap admin token \(shown once, expires in 24 hours\): (\S+)")


def log(msg):
    print(f"session-expiry-test: {msg}", file=sys.stderr, flush=True)


def call(member, method, path, body=None, token=None, headers=None, timeout=30):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    status, hdrs, raw = chaos.call(member.address, method, path,
                                   None if body is None else json.dumps(body), h, timeout)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, hdrs, parsed


def retried(send, timeout=60):
    """Sends again while the answer is a 503 (a rebalance is moving the partition: the client's
    part of the contract is to retry), until the deadline; returns the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = send()
        if answer[0] is not None and answer[0] < 500 or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)  # the group is assigning partitions: retry, bounded by the deadline


def partitions_of(member):
    status, _, ready = call(member, "GET", "/readyz", timeout=5)
    return set(ready["partitions"]) if status == 200 and ready else set()


def fenced_total(member, admin):
    status, _, raw = chaos.call(member.address, "GET", "/metrics",
                                headers={"Authorization": "Bearer " + admin}, timeout=10)
    m = re.search(rb"\ncaseline_group_fenced_total (\d+)", raw) if status == 200 else None
    return int(m.group(1)) if m else None


def bootstrap_tokens(members):
    found = []
    for m in members:
        with open(m.log_path) as f:
            found += BOOT.findall(f.read())
    return found


def receive(member, token, key):
    return call(member, "POST", "/v1/cases", {
        "channel": "phone", "center": CENTER, "caller": {"phone": "13900000000", "name": "expiry"},
        "content": f"session expiry test {key}"}, token, {"Idempotency-Key": key})


def classified(member, token, case_id, after):
    status, _, h = call(member, "GET", f"/v1/cases/{case_id}/events", token=token,
                        headers={"Caseline-After": after} if after else None)
    if status != 200:
        raise RuntimeError(f"history of {case_id}: {status} {h}")
    return sum(1 for e in h["events"] if e["type"] == "classified")


def run(binary):
    work = tempfile.mkdtemp(prefix="caseline-expiry-")
    broker, jvm, kwork = None, None, None
    members = []
    problems = []

    def check(ok, what):
        if not ok:
            problems.append(what)
            log("FAILED: " + what)
        return ok

    try:
        broker, bootstrap, jvm, kwork = chaos.start_private_broker(work)
        topic, group = f"expiry.{os.getpid()}", f"caseline-expiry-{os.getpid()}"
        for name in ("a", "b"):
            data = os.path.join(work, name)
            os.makedirs(data)
            members.append(group_test.Member(binary, data, bootstrap, topic, group))
        a, b = members
        for m in members:
            m.spawn()
        for m in members:
            m.wait_listening()

        # No token was made offline: the owner of the tokens' partition issues the first one.
        if not group_test.wait_until("the bootstrap token", lambda: bootstrap_tokens(members), 60):
            raise RuntimeError("no member printed the bootstrap admin token")
        boot = bootstrap_tokens(members)
        check(len(boot) == 1, f"one bootstrap admin token, printed once (got {len(boot)})")
        admin = boot[0]
        agent = group_test.admin_call(members, admin, "POST", "/v1/admin/tokens",
                                      {"role": "agent", "center": CENTER})["token"]
        group_test.wait_until("both members writing",
                              lambda: partitions_of(a) and partitions_of(b) and
                              partitions_of(a) | partitions_of(b) == set(range(PARTITIONS)), 60)
        of_a = partitions_of(a)
        log(f"A writes {sorted(of_a)}, B writes {sorted(partitions_of(b))}")
        if not of_a:
            raise RuntimeError("A was given no partition")

        # Cases in A's partitions (the partition is in each answer's position).
        cases = []
        for n in range(60):
            status, h, body = receive(b if n % 2 else a, agent, f"case-{n}")
            if status != 201:
                raise RuntimeError(f"receive: {status} {body}")
            if int(h["caseline-position"].split(":")[0]) in of_a:
                cases.append(body["id"])
            if len(cases) == 5:
                break
        if len(cases) < 2:
            raise RuntimeError("no cases in A's partitions")
        log(f"cases of A's partitions: {cases}")
        body = {"category": "complaint", "domain": "road_transport"}

        log("SIGSTOP A")
        a.proc.send_signal(signal.SIGSTOP)
        frozen = {}  # case id -> (status, headers, body) of the command sent to A

        def send_to_a(case_id):
            try:
                frozen[case_id] = call(a, "POST", f"/v1/cases/{case_id}/classify", body, agent,
                                       {"Idempotency-Key": "frozen-" + case_id}, timeout=120)
            except Exception as e:  # noqa: BLE001  (reported below)
                frozen[case_id] = (None, {}, repr(e))

        threads = [threading.Thread(target=send_to_a, args=(c,), daemon=True) for c in cases[1:]]
        for t in threads:
            t.start()
        took_all = group_test.wait_until(
            "B owns every partition", lambda: partitions_of(b) == set(range(PARTITIONS)), 60)
        check(took_all, "B owned every partition while A was frozen")
        status, h, _ = retried(lambda: call(b, "POST", f"/v1/cases/{cases[0]}/classify", body,
                                            agent, {"Idempotency-Key": "b-" + cases[0]}))
        check(status == 200, f"B wrote a case of A's former partition ({status})")

        log("SIGCONT A")
        a.proc.send_signal(signal.SIGCONT)
        for t in threads:
            t.join(150)
        log("A answered: " + ", ".join(f"{c}: {frozen[c][0]} {(frozen[c][2] or {}).get('type', '')}"
                                        if isinstance(frozen[c][2], dict) else f"{c}: {frozen[c]}"
                                        for c in cases[1:]))
        for case_id in cases[1:]:
            status, hdrs, answer = frozen[case_id]
            if status in (200, 201):
                # Acknowledged by A: in the log (read on B after its position), once.
                n = classified(b, agent, case_id, hdrs.get("caseline-position"))
                check(n == 1, f"{case_id}: acknowledged by A, classified {n} times on B")
                continue
            kind = answer.get("type", "") if isinstance(answer, dict) else ""
            check(status is None or status >= 500,
                  f"{case_id}: A refused with {status} {answer}")
            retry_status, retry_h, _ = retried(lambda c=case_id: call(
                b, "POST", f"/v1/cases/{c}/classify", body, agent, {"Idempotency-Key": "frozen-" + c}))
            check(retry_status == 200, f"{case_id}: the retry on B answered {retry_status}")
            if kind in ("/problems/log-unavailable", "/problems/partition-moving"):
                check("idempotent-replayed" not in retry_h,
                      f"{case_id}: A said nothing was written ({kind}), yet B found its record")
            n = classified(b, agent, case_id, retry_h.get("caseline-position"))
            check(n == 1, f"{case_id}: classified {n} times on B after the retry")
        fenced = fenced_total(a, admin)
        log(f"A's caseline_group_fenced_total: {fenced}")

        # A rejoins and serves again.
        check(group_test.wait_until("A writes again", lambda: bool(partitions_of(a)), 90),
              "A owned partitions again after it was thawed")
        status, h, created = retried(lambda: receive(a, agent, "after-thaw"))
        check(status == 201, f"a new case through A after the thaw: {status} {created}")
        if status == 201:
            status, _, seen = call(b, "GET", f"/v1/cases/{created['id']}", token=agent,
                                   headers={"Caseline-After": h["caseline-position"]})
            check(status == 200 and seen["id"] == created["id"],
                  f"the new case read on B after its position: {status}")
    finally:
        for m in members:
            if m.proc and m.proc.poll() is None:
                m.proc.send_signal(signal.SIGCONT)
                m.stop()
        if broker and broker.poll() is None:
            broker.kill()
            broker.wait()
        if jvm:
            try:
                os.kill(jvm, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it went with its wrapper
        if kwork:
            shutil.rmtree(kwork, ignore_errors=True)
        if not problems:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")
    return problems


def main():
    return group_test.script_main("session expiry test", __doc__, lambda a: run(a.binary))


if __name__ == "__main__":
    sys.exit(main())
