#!/usr/bin/env python3
"""HTTP out of file descriptors: podium's open-file limit is lowered while it
runs (prlimit on its PID) to a few above what it has open, then more viewers
connect than fit.

Checks: one `level=warn msg="cannot accept connection"` line naming the
error for the whole episode (not one per 100 ms retry); a viewer already
connected keeps getting answers on its keep-alive connection while the rest
wait in the listen queue; podium does not spin while it waits (CPU time over
2 s of the episode well under a core); once the viewers leave, one
`msg="accepting connections again"` line with the number of failed
attempts, the queued connections are taken (a new one is answered), and
podium exits 0 on SIGTERM."""
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HEADROOM = 8          # descriptors podium may still open once the limit is set
VIEWERS = 40          # more than fit in that headroom


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def healthz(sock):
    """GET /healthz on an open keep-alive socket: the status code."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        h.check(chunk, "connection closed before the /healthz answer")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        body += sock.recv(4096)
    return int(head.split(b" ")[1])


def warn_lines(pod, msg):
    return [r for r in pod.log_records() if r.get("msg") == msg]


def main(t):
    pod = t.podium({"fd1": {"title": "Fd", "passphrase": "fd-limit-secret-1"}})
    pid = pod.proc.pid
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    keep = socket.create_connection(("127.0.0.1", pod.http_port), timeout=5)
    h.check(healthz(keep) == 200, "GET /healthz on the first viewer's connection != 200")
    limit = open_fds(pid) + HEADROOM
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, old[1]))
    h.note("podium has %d descriptors open, limit lowered to %d" % (limit - HEADROOM, limit))

    viewers = []
    try:
        # the kernel completes each handshake into the listen queue whether
        # or not podium can take it
        for _ in range(VIEWERS):
            viewers.append(socket.create_connection(("127.0.0.1", pod.http_port), timeout=5))
        first = h.wait_for(lambda: warn_lines(pod, "cannot accept connection"), 10,
                           'msg="cannot accept connection" in the log')
        h.check(first[0].get("level") == "warn", "not a warn line: %r" % first[0])
        h.check("open files" in first[0].get("err", ""),
                "err does not name the open-file limit: %r" % first[0])

        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        deadline = t0 + 2
        while time.monotonic() < deadline:
            h.check(healthz(keep) == 200,
                    "the connected viewer got no 200 while others wait to be accepted")
            time.sleep(0.2)
        used = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        h.note("podium used %.2f of a core while out of descriptors" % used)
        h.check(used < 0.3, "podium spins while it cannot accept (%.2f of a core)" % used)
        n = len(warn_lines(pod, "cannot accept connection"))
        h.check(n == 1, "%d \"cannot accept connection\" lines for one episode, expected 1" % n)
        h.check(not warn_lines(pod, "accepting connections again"),
                "podium says it accepts again while still out of descriptors")
    finally:
        for s in viewers:
            s.close()

    again = h.wait_for(lambda: warn_lines(pod, "accepting connections again"), 10,
                       'msg="accepting connections again" once the viewers left')
    h.check(int(again[0].get("failed_attempts", "0")) >= 1,
            "no failed_attempts count: %r" % again[0])
    resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    h.wait_for(lambda: pod.get("/healthz").status == 200, 10, "a new connection answered")
    h.check(healthz(keep) == 200, "the first viewer's connection stopped working")
    keep.close()
    pod.assert_running()
    pod.stop()


if __name__ == "__main__":
    h.run(main)
