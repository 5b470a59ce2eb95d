#!/usr/bin/env python3
"""A token made on one server of a group, used at once on another with Caseline-After.

Two `caseline serve`, A and B, in one Kafka consumer group on the broker the test command
started (KAFKA_BOOTSTRAP). The bootstrap admin token comes from the owner of the tokens'
partition. Then, many times over: an agent token is created (its answer carries
Caseline-Position, the token's record) and used at once, with Caseline-After that position, on
the server that does not write the tokens' partition, which may not have applied the record yet.
Every other round the server that uses the token is frozen (SIGSTOP) while the token is made and
the request queued on its socket, then thawed: it reads the request and the token's record at
the same moment, which without the wait answers 401 every time. Checks:
  - every such first use is answered 200, never 401 (the server waits for the named position
    before it decides that the token is unknown);
  - an unknown token is still 401 at once (within 1 s) without Caseline-After, with a
    Caseline-After naming a position the log does not hold yet, and with one already applied:
    an unauthenticated client cannot make a server wait;
  - a malformed Caseline-After with an unknown token is 401, not 400 (sign-in comes first);
  - the servers that warn of a provisional next year (from 1 October) tell the same official
    days left: the warning is told on the calendar the log holds, never on a part of it;
  - through the local admin socket (`caseline token create --data DIR` on a running server), a
    token is made on the server that writes the tokens' partition and honoured by the other;
    the other's folder answers 409 naming that server, and lists the tokens.

Usage: tests/integration/fresh_token_test.py [--binary build/tools/caseline] [--rounds 20]
Needs KAFKA_BOOTSTRAP (tools/kafka-local.sh run -- ...); exits 1 when a check fails.
"""

import http.client
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402  (the HTTP helper)
import group_test  # noqa: E402  (a member of the group, waiting with a deadline)
import session_expiry_test  # noqa: E402  (the bootstrap token, a member's partitions)

CENTER = chaos.CENTER
PARTITIONS = group_test.PARTITIONS
UNKNOWN = "clt_" + "0" * 64


def log(msg):
    print(f"fresh-token-test: {msg}", file=sys.stderr, flush=True)


def split(address):
    host, port = address.rsplit(":", 1)
    return host, int(port)


def timed(member, token, after):
    """GET /v1/cases on `member` with `token` (and Caseline-After `after`): (status, seconds)."""
    headers = {"Authorization": "Bearer " + token}
    if after is not None:
        headers["Caseline-After"] = after
    started = time.monotonic()
    status, _, _ = chaos.call(member.address, "GET", "/v1/cases", headers=headers, timeout=30)
    return status, time.monotonic() - started


def create_token(member, admin, timeout=60):
    """An agent token made through `member` (forwarded to the tokens' owner when that is another
    server), retried while the group settles (503): (token, its Caseline-Position)."""
    deadline = time.monotonic() + timeout
    while True:
        status, hdrs, raw = chaos.call(member.address, "POST", "/v1/admin/tokens",
                                       json.dumps({"role": "agent", "center": CENTER}),
                                       group_test.auth(admin), 30)
        if status == 201:
            return json.loads(raw)["token"], hdrs["caseline-position"]
        if status < 500 or time.monotonic() > deadline:
            raise RuntimeError(f"create token: {status} {raw[:300]}")
        time.sleep(0.5)  # a rebalance is moving the tokens' partition: retry, bounded


def run(binary, bootstrap, rounds):
    work = tempfile.mkdtemp(prefix="caseline-fresh-token-")
    members = []
    problems = []

    def check(ok, what):
        if not ok:
            problems.append(what)
            log("FAILED: " + what)
        return ok

    try:
        topic, group = f"fresh-token.{os.getpid()}", f"caseline-fresh-token-{os.getpid()}"
        for name in ("a", "b"):
            data = os.path.join(work, name)
            os.makedirs(data)
            members.append(group_test.Member(binary, data, bootstrap, topic, group))
        for m in members:
            m.spawn()
        for m in members:
            m.wait_listening()
        if not group_test.wait_until(
                "the bootstrap token",
                lambda: session_expiry_test.bootstrap_tokens(members), 90):
            raise RuntimeError("no member printed the bootstrap admin token")
        admin = session_expiry_test.bootstrap_tokens(members)[0]
        owned = {}

        def both_write():
            for m in members:
                owned[m] = session_expiry_test.partitions_of(m)
            return all(owned.values()) and set().union(*owned.values()) == set(range(PARTITIONS))

        if not group_test.wait_until("both members writing", both_write, 90):
            raise RuntimeError(f"the group did not settle: {owned}")

        unauthorized = 0
        for n in range(rounds):
            token, position = create_token(members[n % 2], admin)
            partition = int(position.split(":")[0])
            elsewhere = [m for m in members if partition not in owned[m]]
            if not elsewhere:
                raise RuntimeError(f"both members write partition {partition}")
            lagging = elsewhere[0]
            owner = members[1 - members.index(lagging)]
            if n % 2:
                # The other server frozen while the token is made, its first use queued on its
                # socket before it is thawed: it reads the request and the token's record at once.
                lagging.proc.send_signal(signal.SIGSTOP)
                try:
                    token, position = create_token(owner, admin)
                    conn = http.client.HTTPConnection(*split(lagging.address), timeout=30)
                    conn.request("GET", "/v1/cases", headers={
                        "Authorization": "Bearer " + token, "Caseline-After": position})
                finally:
                    lagging.proc.send_signal(signal.SIGCONT)
                status = conn.getresponse().status
                conn.close()
            else:
                status, _ = timed(lagging, token, position)
            if status == 401:
                unauthorized += 1
            check(status == 200, f"round {n}: a fresh token used at once after {position} on the "
                                 f"server that does not write it: {status}")
        log(f"{rounds} fresh tokens used at once elsewhere: {unauthorized} answered 401")

        # The local admin socket (an operator who lost every admin token): a token is made
        # through the data folder of the server that writes the tokens' partition; another
        # member's folder answers 409 naming that server, and lists the tokens.
        tokens_partition = int(position.split(":")[0])
        tokens_owner = next(m for m in members if tokens_partition in owned[m])
        other = members[1 - members.index(tokens_owner)]
        rc, out, err = other.tool("token", "create", "--role", "admin", "--center", "410000")
        check(rc == 1 and "409" in err and f"http://{tokens_owner.address}" in err,
              f"a token made through the folder of the server that does not write the tokens' "
              f"partition: rc {rc}, {err.strip()[:300]} (409 naming http://{tokens_owner.address})")
        check("clt_" not in out, "a refused local token create printed a token")
        rc, out, err = tokens_owner.tool("token", "create", "--role", "agent", "--center", CENTER)
        if check(rc == 0 and out.startswith("clt_"),
                 f"a token made through the tokens' owner's folder: rc {rc}, {err.strip()[:300]}"):
            local_token = out.strip()
            check(group_test.wait_until(
                "the locally made token on the other member",
                lambda: timed(other, local_token, None)[0] == 200, 30),
                "a token made through the owner's folder is not honoured by the other member")
            rc, out, err = other.tool("token", "list")
            check(rc == 0 and local_token not in out and '"tokens"' in out,
                  f"token list through the other member's folder: rc {rc}, {err.strip()[:300]}")

        # An unknown token never makes a server wait.
        probe = members[0]
        for after, what in ((None, "without Caseline-After"),
                            ("0:1000000000", "after a position the log does not hold"),
                            ("0:0", "after a position applied long ago")):
            status, seconds = timed(probe, UNKNOWN, after)
            check(status == 401 and seconds < 1.0,
                  f"an unknown token {what}: {status} in {seconds:.2f} s (401 within 1 s)")
        status, _ = timed(probe, UNKNOWN, "not a position")
        check(status == 401, f"an unknown token with a malformed Caseline-After: {status} (401)")

        # The early warning of a provisional next year (from 1 October) is told on the calendar
        # the log holds: every server that gave it tells the same days left.
        told = {}
        for m in members:
            with open(m.log_path, errors="replace") as f:
                for line in f:
                    found = re.search(r'calendar_provisional_next_year.*"official_days_left":(\d+)',
                                      line)
                    if found:
                        told.setdefault(found.group(1), []).append(os.path.basename(m.data))
        check(len(told) <= 1, f"the servers warned of different official days left: {told}")
    except Exception as e:  # noqa: BLE001  (reported as a failed check; the folder is kept)
        check(False, repr(e))
    finally:
        for m in members:
            if m.proc and m.proc.poll() is None:
                m.proc.send_signal(signal.SIGCONT)
            m.stop()
        if not problems:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")
    return problems


def main():
    def run_checks(a):
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
        if not bootstrap:
            return ["KAFKA_BOOTSTRAP is not set (run it under tools/kafka-local.sh run -- ...)"]
        return run(a.binary, bootstrap, a.rounds)

    return group_test.script_main(
        "fresh token test", __doc__, run_checks,
        lambda ap: ap.add_argument("--rounds", type=int, default=20))


if __name__ == "__main__":
    sys.exit(main())
