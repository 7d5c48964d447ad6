#!/usr/bin/env python3
"""2,000 blocking playlist requests held at once on one LL-HLS session.

Raw non-blocking sockets (selectors) send `GET index.m3u8?_HLS_msn=M&_HLS_part=P`
(HTTP/1.1) for a part about one segment ahead of the live edge, so every
request is sent before it exists. Checks: no answer arrives before the part
is listed by a non-blocking poll; all 2,000 answer 200 with a playlist
listing the part within 1 s of it appearing, on a connection kept open
(no Connection: close: libmicrohttpd closed the connection after every held
request until 2026-12-04); podium's thread count
(/proc/<pid>/status Threads:) is the same before, while they are held and
after (suspended connections, no thread per waiter); podium keeps serving.
The test raises its own RLIMIT_NOFILE (inherited by podium) when needed."""
import errno
import os
import re
import resource
import selectors
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_llhls as ll  # noqa: E402

SID = "llhold"
N = 2000


def whole_response(buf):
    """True once buf holds a response header and its Content-Length body
    (the server keeps the connection: the end is not its close)."""
    head, sep, body = buf.partition(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I) if sep else None
    return m is not None and len(body) >= int(m.group(1))


def threads(pod):
    with open("/proc/%d/status" % pod.proc.pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    h.fail("no Threads: line in /proc/%d/status" % pod.proc.pid)


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        h.check(new >= want, "RLIMIT_NOFILE hard limit %d < %d needed" % (hard, want))
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    h.note("RLIMIT_NOFILE %r" % (resource.getrlimit(resource.RLIMIT_NOFILE),))


class Conn:
    __slots__ = ("sock", "out", "buf", "t_done", "state")

    def __init__(self, sock, req):
        self.sock, self.out, self.buf, self.t_done, self.state = sock, req, b"", None, "connecting"


def main(t):
    raise_nofile(N + 1024)     # ours; podium (started below) inherits it
    pod = ll.llhls_podium(t, {SID: {"title": "Hold", "passphrase": "hold-secret-777"}})
    lim = open("/proc/%d/limits" % pod.proc.pid).read()
    h.note("podium: %s" % [l for l in lim.splitlines() if "open files" in l.lower()])
    pub = pod.publish(SID, duration=60, gop=30, size="320x180")
    def ready():
        h.check(pub.poll() is None, "publisher exited: %s" % pub.log())
        st, text, _ = ll.get_playlist(pod, SID)
        return st == 200 and len([s for s in ll.LLPlaylist(text).segments if s.parts]) >= 2
    h.wait_for(ready, 20, "2 segments with parts")
    idle = threads(pod)
    pl = ll.fetch_pl(pod, SID)
    seq, idx = pl.hint_pos()
    # about one segment ahead: every request is sent before the part exists
    target = (seq + 1, idx)
    uri = "%d.%d.m4s" % target
    path = "/live/%s/index.m3u8?_HLS_msn=%d&_HLS_part=%d" % (SID, target[0], target[1])
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (path, pod.http_port)).encode()
    h.note("holding %d requests for %s (hint now %s), podium threads idle: %d" % (N, uri, pl.hint, idle))

    poller = ll.Poller(pod, SID, 0.02).start()
    sel = selectors.DefaultSelector()
    conns = []
    t_start = time.monotonic()
    try:
        for i in range(N):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex(("127.0.0.1", pod.http_port))
            if rc not in (0, errno.EINPROGRESS):
                h.fail("connect #%d: %s" % (i, os.strerror(rc)))
            c = Conn(s, req)
            conns.append(c)
            sel.register(s, selectors.EVENT_WRITE, c)
        pending = N
        sent = 0
        t_all_sent = None
        during = []
        deadline = time.monotonic() + h.scaled(15)
        while pending:
            now = time.monotonic()
            if now > deadline:
                states = {}
                for c in conns:
                    states[c.state] = states.get(c.state, 0) + 1
                h.fail("only %d of %d held requests answered within 15 s (states %r)" % (N - pending, N, states))
            if t_all_sent is not None and len(during) < 3 and now - t_all_sent > 0.2 * (len(during) + 1):
                during.append(threads(pod))
            for key, ev in sel.select(timeout=0.02):
                c = key.data
                if c.state == "connecting":
                    err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        h.fail("connect failed: %s" % os.strerror(err))
                    c.state = "sending"
                if c.state == "sending" and ev & selectors.EVENT_WRITE:
                    n = c.sock.send(c.out)
                    c.out = c.out[n:]
                    if not c.out:
                        c.state = "waiting"
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                        sent += 1
                        if sent == N:
                            t_all_sent = time.monotonic()
                elif ev & selectors.EVENT_READ:
                    try:
                        b = c.sock.recv(65536)
                    except ConnectionResetError:
                        b = b""
                        c.state = "reset"
                    if b:
                        c.buf += b
                    if not b or whole_response(c.buf):
                        c.t_done = time.monotonic()
                        if c.state != "reset":
                            c.state = "done"
                        sel.unregister(c.sock)
                        c.sock.close()
                        pending -= 1
        t_end = time.monotonic()
    finally:
        for c in conns:
            if c.sock.fileno() >= 0:
                c.sock.close()
        sel.close()
        poller.stop()
    after = threads(pod)
    h.check(t_all_sent is not None, "not every request was sent")
    t_not, t_listed = poller.first_listing(*target)
    h.check(t_listed is not None, "the non-blocking poll never listed %s" % uri)
    statuses = {}
    bad = []
    for c in conns:
        try:
            st, hd, body = ll.parse_response(c.buf)
        except h.TestFailure as e:
            st, body = None, b""
            bad.append(str(e))
        statuses[st] = statuses.get(st, 0) + 1
        if st is not None and hd.get("connection", "").lower() == "close":
            bad.append("Connection: close after a held request")
        if st == 200 and not ll.LLPlaylist(body.decode("utf-8", "replace")).lists_part(*target):
            bad.append("200 without %s" % uri)
    rel = sorted((c.t_done - t_listed) * 1000 for c in conns)
    h.note("sent %d requests in %.0f ms; %s listed %.0f ms after the last was sent; answers %.0f..%.0f ms "
           "(median %.0f) relative to the first 20 ms poll listing it, all within %.0f ms of the first "
           "answer; statuses %r"
           % (N, (t_all_sent - t_start) * 1000, uri, (t_listed - t_all_sent) * 1000,
              rel[0], rel[-1], statistics.median(rel), rel[-1] - rel[0], statuses))
    h.note("HELD-REQUEST THREADS: podium threads idle %d, while %d held %r, after %d" % (idle, N, during, after))
    h.check(t_listed > t_all_sent, "%s was listed before all %d requests were sent: not a hold test "
            "(sending took %.0f ms)" % (uri, N, (t_all_sent - t_start) * 1000))
    h.check(statuses == {200: N}, "statuses %r, expected 200 x %d (%s)" % (statuses, N, bad[:3]))
    h.check(not bad, "bad responses: %s" % bad[:5])
    # answers come when the part lands: never before a poll that did not list it was sent
    first_answer = min(c.t_done for c in conns)
    h.check(t_not is not None and first_answer >= t_not,
            "a held request was answered %.0f ms before a poll that did not list %s yet was sent"
            % ((t_not - first_answer) * 1000 if t_not else -1, uri))
    h.check(rel[-1] <= 1000, "the last of %d held requests answered %.0f ms after %s was listed (max 1 s)"
            % (N, rel[-1], uri))
    h.check(during and max(during) <= idle + 1,
            "podium threads grew while %d requests were held: idle %d, during %r" % (N, idle, during))
    h.check(after <= idle + 1, "podium threads after: %d, idle before: %d" % (after, idle))
    h.check(pub.poll() is None, "publisher died: %s" % pub.log())
    pl = ll.fetch_pl(pod, SID)
    seq, idx = pl.hint_pos()
    st, text, _ = ll.get_playlist(pod, SID, "?_HLS_msn=%d&_HLS_part=%d" % (seq, idx), timeout=10)
    h.check(st == 200, "a blocking request after the flood -> %d" % st)
    h.check(pod.get("/healthz").status == 200, "healthz after the flood")


if __name__ == "__main__":
    h.run(main)
