#!/usr/bin/env python3
"""Organizer API: sessions created and deleted many times over.

- more create/delete cycles (distinct ids) than the 1024 live sessions the
  registry holds all succeed (a deleted session used to keep its slot, so
  the 1025th POST answered 409 "cannot create the session"); recreating a
  deleted id works; the list shows only the live sessions;
- deleted sessions' memory is kept (threads may still hold them), up to
  4096 session objects (REGISTRY_MAX_KEPT in include/podium/session.h):
  the POST after that answers 409 with an error saying the registry is full
  of deleted sessions, and one warn line says so with live= and deleted=
  counts; DELETE still works then;
- queued rewrites of sessions.json merge: SIGTERM right after the last call
  finds at most one on the writer, and the file on disk lists no session;
- after a restart (which frees them) creating works again, and the deleted
  sessions stay deleted."""
import http.client
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

MAX_SESSIONS = 1024     # REGISTRY_MAX_SESSIONS
MAX_KEPT = 4096         # REGISTRY_MAX_KEPT: live plus deleted session objects
KEEP = "keeper"         # stays live through the whole run


class Api:
    """One keep-alive connection to the organizer API: thousands of calls
    in a few seconds."""

    def __init__(self, pod):
        self.pod = pod
        self.conn = http.client.HTTPConnection("127.0.0.1", pod.http_port, timeout=h.scaled(10))

    def call(self, method, path, body=None):
        hdrs = dict(ru.AUTH)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=hdrs)
        r = self.conn.getresponse()
        return r.status, r.read()

    def create(self, sid):
        return self.call("POST", "/api/v1/sessions",
                         {"id": sid, "passphrase": "churn-pass-%s" % sid})

    def delete(self, sid):
        status, body = self.call("DELETE", "/api/v1/sessions/%s" % sid)
        h.check(status == 204, "DELETE %s -> %d, expected 204: %r" % (sid, status, body[:200]))

    def cycle(self, sid):
        status, body = self.create(sid)
        if status == 201:
            self.delete(sid)
        return status, body

    def ids(self):
        status, body = self.call("GET", "/api/v1/sessions")
        h.check(status == 200, "GET /api/v1/sessions -> %d" % status)
        return [s["id"] for s in json.loads(body)["sessions"]]

    def close(self):
        self.conn.close()


def full_lines(pod):
    return pod.log_lines_matching(lambda f, line: f.get("level") == "warn"
                                  and "full of deleted sessions" in f.get("msg", ""))


def main(t):
    pod = ru.podium(t, {}, env={"PODIUM_LOG": "debug"})
    api = Api(pod)
    status, body = api.create(KEEP)
    h.check(status == 201, "POST %s -> %d: %r" % (KEEP, status, body[:200]))

    # 1. slots are reused: well past the live limit, every cycle succeeds
    n = MAX_SESSIONS + 100
    for i in range(n):
        status, body = api.cycle("churn-%d" % i)
        h.check(status == 201, "create/delete cycle %d: POST -> %d, expected 201 (%d sessions "
                "created and deleted before it): %r" % (i, status, i, body[:200]))
    h.note("%d create/delete cycles succeeded" % n)
    status, body = api.cycle("churn-0")
    h.check(status == 201, "recreating the deleted id churn-0 -> %d: %r" % (status, body[:200]))
    h.check(api.ids() == [KEEP], "session list after the cycles: %r, expected [%r]"
            % (api.ids(), KEEP))
    deleted = n + 1

    # 2. the kept deleted objects are bounded, and hitting the bound is clear
    while True:
        status, body = api.cycle("more-%d" % deleted)
        if status != 201:
            break
        deleted += 1
        h.check(deleted < MAX_KEPT, "%d sessions deleted and still no refusal: deleted "
                "sessions' memory is kept, it must be bounded" % deleted)
    h.check(status == 409, "POST when full -> %d, expected 409: %r" % (status, body[:200]))
    h.check(1 + deleted == MAX_KEPT, "refused with %d deleted and 1 live session, expected "
            "%d objects in all" % (deleted, MAX_KEPT))
    err = json.loads(body).get("error", "")
    h.check("full of deleted sessions" in err, "409 error %r does not say the registry is full "
            "of deleted sessions" % err)
    lines = h.wait_for(lambda: full_lines(pod), 5, "a warn line saying the registry is full "
                       "of deleted sessions")
    f = h.parse_logfmt(lines[-1])
    h.check(f.get("live") == "1" and f.get("deleted") == str(deleted),
            "warn line counts live=%r deleted=%r, expected 1 and %d: %r"
            % (f.get("live"), f.get("deleted"), deleted, f))
    api.delete(KEEP)                 # deleting still works
    h.check(api.ids() == [], "session list after deleting %s: %r" % (KEEP, api.ids()))
    h.note("refused after %d deleted sessions: %s" % (deleted, err))
    api.close()

    # 3. a restart frees them. Every POST and DELETE above asked for a
    # rewrite of sessions.json; queued rewrites merge into the newest, so
    # SIGTERM right after thousands of calls has at most one left to write
    # (it used to drain one fsync'd rewrite per call: 2.4 s after 1,024
    # cycles, past the 5 s deadline after about 4,000).
    took = pod.stop()
    h.note("SIGTERM right after %d API calls: exit after %.2f s" % (2 * deleted + 4, took))
    # PODIUM_LOG=debug (given at the start) shows the line even when only
    # state files are queued; at info it would read as recordings at stake.
    exit_lines = pod.log_lines_matching(lambda f, line: "queued before the exit" in f.get("msg", ""))
    h.note("exit lines about the writer's queue: %r" % exit_lines)
    for line in exit_lines:
        f = h.parse_logfmt(line)
        files = int(f.get("state_files", "-1"))
        h.check(0 <= files <= 1, "%d state files queued on the writer at SIGTERM, expected at "
                "most one rewrite of sessions.json: %s" % (files, line))
        h.check(f.get("level") == "debug" and f.get("segments") == "0",
                "with no recording running the exit line must be a debug line with "
                "segments=0: %s" % line)
    with open(os.path.join(pod.data_dir, "sessions.json")) as fp:
        saved = json.load(fp).get("sessions")
    h.check(saved == [], "sessions.json after the exit lists %r, expected no session (the "
            "last rewrite, after the last DELETE, must be on disk)" % (saved,))
    ru.restart(pod)
    api = Api(pod)
    h.check(api.ids() == [], "after the restart the deleted sessions are back: %r" % api.ids())
    status, body = api.create("after-restart")
    h.check(status == 201, "POST after the restart -> %d: %r" % (status, body[:200]))
    api.close()
    pod.stop()


h.run(main, tools=[])
