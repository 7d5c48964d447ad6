"""scripts/bench serve: HTTP serving of a live segment and the live playlist,
Podium (from memory) against nginx (the same bytes from a file, one worker).

One Podium process with one session is fed the standard bench media by one
SRT feeder until its live playlist lists enough segments; then the feeder
stops.  The session stays between publishers (close_after is an hour), so
DESIGN.md's rule "the live playlist keeps serving its last window unchanged"
holds the bytes still for the whole run: nginx serves exactly the bytes
Podium serves, and no ingest or segmenting competes with the HTTP threads
for the two cores.  Both servers stay up; `wrk -t2 -cC -dS` runs alternate
nginx, Podium, nginx, Podium ... per (target, connections) and run.

`--targets player` adds a third target: every connection asks for the
playlist first, then for segment and playlist in turn, as a player on a
connection of its own does (a Lua request() hook; wrk's latency then mixes
both).  It is not in the default targets, so `scripts/bench all` stays
short.

Figures per wrk run come from a wrk Lua done() hook: requests and bytes
(headers included, as wrk counts them) over the measured duration, p50/p99
latency, and every error wrk counts (connect/read/write/timeout and non-2xx
responses).  Server CPU is utime+stime of the server process over the run.

With --nginx-tmpfs a second nginx serves the same bytes from tmpfs
(/dev/shm): shmem pages, as Podium's memfds are (its segments' home when
data_dir is not on ext4, xfs or btrfs), which sendfile looks up one by one (filemap_get_entry) where it reads an ext4 file's page cache in
batches.  The ratio against it separates what serving from memory costs the
kernel's sendfile path from what the HTTP server adds.

With --pin the servers run on CPU 0 and wrk on CPU 1.  Unpinned, a
one-thread server and wrk's two threads share the two cores, so the server's
p99 carries wrk's waits for a core, and TCP work one side leaves to the
other's ACKs (loopback runs the receive path in the sender's context) is
billed to whoever runs it: server CPU per request is then not the server's
whole cost.  The wrk CPU column (wrk's own rusage) shows that work.
"""

import argparse
import heapq
import json
import os
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import bench

TARGETS = ("segment", "playlist", "player")
DEFAULT_TARGETS = ("segment", "playlist")     # player: opt-in, `all` stays short
SERVERS = ("nginx", "nginx-tmpfs", "podium")     # the order runs alternate in
LABELS = {"nginx": "nginx", "nginx-tmpfs": "nginx (tmpfs)", "podium": "Podium"}
WANT_SEGMENTS = 4          # listed before the feeder stops
FEED_DEADLINE = 60.0
WARMUP_S = 2

# A player's connection, as hls.js uses one: the playlist first, then
# segment and playlist in turn.  wrk asks a thread's script for each
# request in the order its connections need one, so the first `per_thread`
# requests (the script's argument) are the first of each connection.
PLAYER_LUA = """
local paths = {{"{playlist}", "{segment}"}}
local first, n = 0, 0
init = function(args) first = tonumber(args[1]) end
request = function()
  n = n + 1
  if n <= first then return wrk.format("GET", paths[1]) end
  return wrk.format("GET", paths[n % 2 + 1])
end
"""

# A done() hook instead of parsing wrk's text: exact counts, no unit suffixes.
WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"duration_us":%d,"requests":%d,"bytes":%d,'
    .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,'
    .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""

NGINX_CONF = """\
worker_processes 1;
worker_rlimit_nofile {nofile};
daemon off;
master_process on;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections {worker_connections};
}}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    types {{
        video/mp2t ts;
        video/mp4 m4s mp4;
        application/vnd.apple.mpegurl m3u8;
    }}
    server {{
        listen 127.0.0.1:{port} backlog={backlog};
        root {root};
        # the same headers Podium sends, so both answer alike
        add_header Access-Control-Allow-Origin "*";
        location ~ \\.m3u8$ {{
            add_header Access-Control-Allow-Origin "*";
            add_header Cache-Control "max-age=1";
        }}
        location ~ \\.(ts|m4s)$ {{
            add_header Access-Control-Allow-Origin "*";
            add_header Cache-Control "public, max-age=31536000, immutable";
        }}
    }}
}}
"""


class SlowClients:
    """--slow N: N attendees on slow links beside wrk's connections. Each
    is a keep-alive connection with a small receive buffer that asks for the
    live segment again as soon as it has read the last, and reads it at
    `rate` bytes/s, as a player on a link a little faster than the stream
    does: what attendees on slow links cost the fast ones. On loopback it
    does not make the server wait for a socket: the kernel's send buffer
    (autotuned up to tcp_wmem's 4 MiB) takes the whole segment at once,
    as for wrk (livesend counters, 2026-12-07: every response of 200 slow
    attendees and wrk's 100 connections left in one sendfile). Run by one
    thread of this process; its CPU is the same for both servers."""

    CHUNK = 16 * 1024

    def __init__(self, port, path, n, rate, rcvbuf):
        self.port, self.n, self.rate, self.rcvbuf = port, n, float(rate), rcvbuf
        self.request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.clients = []

    def _connect(self, c):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        sock.connect(("127.0.0.1", self.port))
        sock.setblocking(False)
        sock.sendall(self.request)
        c.update(sock=sock, head=b"", left=None)

    def start(self):
        for i in range(self.n):
            c = {"id": i, "bytes": 0, "responses": 0, "errors": 0}
            self._connect(c)
            self.clients.append(c)
        self.t0 = time.monotonic()
        self.thread.start()
        return self

    def _take(self, c, data):
        """Counts data; at a response's end asks for the next. Returns False
        when the connection must be made again."""
        c["bytes"] += len(data)
        if c["left"] is None:
            c["head"] += data
            end = c["head"].find(b"\r\n\r\n")
            if end < 0:
                return True
            head, data = c["head"][:end].decode("latin-1"), c["head"][end + 4:]
            c["head"] = b""
            length = [l.split(":", 1)[1] for l in head.split("\r\n")[1:]
                      if l.lower().startswith("content-length:")]
            if not head.startswith("HTTP/1.1 200") or not length:
                c["errors"] += 1
                return False
            c["left"] = int(length[0])
        c["left"] -= len(data)
        if c["left"] <= 0:
            if c["left"] < 0:            # more than the body: nothing was pipelined
                c["errors"] += 1
                return False
            c["responses"] += 1
            c["left"] = None
            c["sock"].sendall(self.request)
        return True

    def _run(self):
        sel = selectors.DefaultSelector()
        for c in self.clients:
            sel.register(c["sock"], selectors.EVENT_READ, c)
        resting = []                     # (due, id) of clients over their rate
        while not self.stopping.is_set():
            now = time.monotonic()
            while resting and resting[0][0] <= now:
                c = self.clients[heapq.heappop(resting)[1]]
                sel.register(c["sock"], selectors.EVENT_READ, c)
            wait = min(0.01, resting[0][0] - now) if resting else 0.01
            for key, _ in sel.select(max(0.0, wait)):
                c = key.data
                try:
                    data = c["sock"].recv(self.CHUNK)
                    ok = bool(data) and self._take(c, data)
                except BlockingIOError:
                    continue
                except OSError:
                    data, ok = b"", False
                if not ok:
                    if not data:
                        c["errors"] += 1
                    sel.unregister(c["sock"])
                    c["sock"].close()
                    self._connect(c)
                    sel.register(c["sock"], selectors.EVENT_READ, c)
                    continue
                sel.unregister(c["sock"])
                heapq.heappush(resting, (now + len(data) / self.rate, c["id"]))
        sel.close()

    def stop(self):
        """Stops reading, closes every connection; returns the figures."""
        self.stopping.set()
        self.thread.join(10)
        secs = time.monotonic() - self.t0
        for c in self.clients:
            c["sock"].close()
        rates = [c["bytes"] / secs for c in self.clients]
        return {"clients": self.n, "target_kib_s": self.rate / 1024,
                "median_kib_s": statistics.median(rates) / 1024, "min_kib_s": min(rates) / 1024,
                "responses": sum(c["responses"] for c in self.clients),
                "errors": sum(c["errors"] for c in self.clients)}


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="scripts/bench serve",
        description="Podium serving a live segment and the live playlist from memory "
        "against nginx (one worker) serving the same bytes from a file, with wrk.")
    ap.add_argument("--connections", default="100,1000",
                    help="comma-separated wrk -c values (default 100,1000)")
    ap.add_argument("--seconds", type=int, default=10, help="wrk -d per run (default 10)")
    ap.add_argument("--runs", type=int, default=3,
                    help="runs per server, target and connections (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")
    ap.add_argument("--pin", action="store_true",
                    help="servers on CPU 0, wrk on CPU 1 (taskset): latency without "
                    "the server and wrk preempting each other")
    ap.add_argument("--targets", default=",".join(DEFAULT_TARGETS),
                    help="comma-separated: segment,playlist (default both)")
    ap.add_argument("--only", choices=("podium", "nginx"), help="run one server only")
    ap.add_argument("--nginx-tmpfs", action="store_true",
                    help="also run nginx serving the same bytes from tmpfs (/dev/shm), "
                    "shmem pages as Podium's memfds (its segments when data_dir is not on "
                    "ext4, xfs or btrfs)")
    ap.add_argument("--slow", type=int, default=0, metavar="N",
                    help="N slow attendees beside wrk in every run: keep-alive connections "
                    "with a small receive buffer, each reading the live segment over and over "
                    "at --slow-kbps (default 0: none)")
    ap.add_argument("--slow-kbps", type=int, default=4000,
                    help="each slow attendee's read rate in kbit/s (default 4000: a link a "
                    "little faster than the 3.3 Mbps stream)")
    ap.add_argument("--slow-rcvbuf", type=int, default=32 * 1024,
                    help="each slow attendee's SO_RCVBUF in bytes (default 32768)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: --runs 1 --seconds 3 (explicit options still win)")
    ap.add_argument("--podium", default=os.path.join(bench.BUILD, "podium"),
                    help="podium binary (default build/podium; built if missing)")
    ap.add_argument("--tmpdir", default=None, help="work directory parent (default $TMPDIR or /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", help="result file (default build/bench-results/serve-<timestamp>.json)")
    a = ap.parse_args(argv)
    if a.quick:
        a.runs = 1 if "--runs" not in argv else a.runs
        a.seconds = 3 if "--seconds" not in argv else a.seconds
    a.connections = [int(c) for c in a.connections.split(",") if c]
    a.targets = [t for t in a.targets.split(",") if t]
    if any(t not in TARGETS for t in a.targets) or not a.targets:
        ap.error("--targets: any of " + ", ".join(TARGETS))
    if not a.connections or min(a.connections) < 1 or a.runs < 1 or a.seconds < 1:
        ap.error("connections, runs and seconds must be positive")
    if a.slow < 0 or a.slow_kbps < 1 or a.slow_rcvbuf < 1024:
        ap.error("--slow must be >= 0, --slow-kbps >= 1, --slow-rcvbuf >= 1024")
    return a


def raise_nofile(want):
    """Soft fd limit up to want (at most the hard limit); children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if new > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_tcp_port():
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def fetch(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, dict(r.headers), r.read()


def serve_config(data_dir):
    """One session that outlives its publisher by an hour (see the module
    comment), default window and segment duration."""
    text = bench.podium_config(1, data_dir)
    return text.replace("[srt]", "[recording]\nclose_after = 3600\n[srt]", 1)


def playlist_entries(text):
    """[(extinf seconds, uri)] of a media playlist."""
    out, dur = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            dur = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            out.append((dur, line))
            dur = None
    return out


def start_podium(args, procs, work):
    """Podium fed until WANT_SEGMENTS are listed, feeder stopped.  Returns
    (process, http_port, info)."""
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir)
    conf = os.path.join(work, "podium.ini")
    with open(conf, "w") as f:
        f.write(serve_config(data_dir))
    plog = os.path.join(args.logdir, "podium.log")
    server = procs.start(pinned(args, "server") + [args.podium_bin, "-c", conf], plog, "podium")
    srt_port, http_port = bench.podium_ports(plog, server,
                                             time.monotonic() + bench.PODIUM_START_DEADLINE)
    feeder = procs.start(bench.feeder_argv(args.media, bench.feed_url(srt_port, 1)),
                         os.path.join(args.logdir, "feeder.log"), "feeder")
    url = "http://127.0.0.1:%d/live/s1/index.m3u8" % http_port
    deadline = time.monotonic() + FEED_DEADLINE
    entries = []
    while time.monotonic() < deadline:
        if feeder.poll() is not None or server.poll() is not None:
            break
        try:
            _, _, body = fetch(url)
            entries = playlist_entries(body.decode("utf-8", "replace"))
        except (OSError, ValueError):
            entries = []
        if len(entries) >= WANT_SEGMENTS:
            break
        time.sleep(0.5)
    fed_for = FEED_DEADLINE - (deadline - time.monotonic())
    bench.Procs.stop([feeder], 3.0)
    if len(entries) < WANT_SEGMENTS:
        raise RuntimeError("podium listed %d segment(s) after %.0f s of feeding "
                           "(feeder rc %s, podium rc %s; logs in %s)"
                           % (len(entries), fed_for, feeder.returncode, server.poll(),
                              bench.rel(args.logdir)))
    # the window must not move once the feeder is gone
    time.sleep(1.0)
    return server, http_port, {"fed_s": round(fed_for, 1),
                               "segments_in": bench.podium_segment_home(plog)}


def pick_targets(http_port):
    """{target: (url path, bytes, headers)} read from Podium after the
    feeder stopped.  The segment is a full one from the middle of the
    window: not the first (the publisher's start) nor the last (cut short
    when the publisher left)."""
    base = "http://127.0.0.1:%d/live/s1/" % http_port
    _, ph, pl = fetch(base + "index.m3u8")
    entries = playlist_entries(pl.decode("utf-8", "replace"))
    mid = entries[1:-1] or entries
    dur, uri = max(mid, key=lambda e: e[0] or 0)
    seg_url = urllib.parse.urljoin(base + "index.m3u8", uri)
    _, sh, seg = fetch(seg_url)
    return {"playlist": ("/live/s1/index.m3u8", pl, ph),
            "segment": (urllib.parse.urlparse(seg_url).path, seg, sh)}, dur


def start_nginx(args, procs, work, targets, nofile, name="nginx", root=None):
    """nginx serving the targets' bytes as files under root (default: in
    the work directory, on its file system)."""
    prefix = os.path.join(work, name)
    root = root or os.path.join(prefix, "html")
    for d in (os.path.join(prefix, "tmp"), root):
        os.makedirs(d, exist_ok=True)
    # the same paths as Podium's, so only the host:port differs
    for path, body, _ in targets.values():
        f = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(f), exist_ok=True)
        with open(f, "wb") as out:
            out.write(body)
    port = free_tcp_port()
    conns = max(args.connections)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(
            nofile=nofile, prefix=prefix, root=root, port=port,
            # wrk's next run connects while nginx still closes the last one's
            worker_connections=max(1024, conns * 4), backlog=max(511, conns),
            # as root the worker would drop to nobody, who cannot read a 0700 temp dir
            user="user root;" if os.geteuid() == 0 else ""))
    p = procs.start(pinned(args, "server") + ["nginx", "-c", conf, "-p", prefix],
                    os.path.join(args.logdir, name + ".log"), name)
    deadline = time.monotonic() + 10.0
    while True:
        try:
            fetch("http://127.0.0.1:%d/" % port + targets["playlist"][0].lstrip("/"))
            break
        except OSError:
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("%s did not start (rc %s): %s"
                                   % (name, p.poll(), bench.first_line(os.path.join(prefix, "error.log"))))
            time.sleep(0.1)
    return p, port, conf


def check_same(targets, ports):
    """Both servers answer 200 with the same bytes; their headers for the report."""
    heads, problems = {}, []
    for t, (path, body, _) in targets.items():
        for server, port in ports.items():
            try:
                st, hd, got = fetch("http://127.0.0.1:%d%s" % (port, path))
            except OSError as e:
                problems.append("%s %s: %s" % (server, t, e))
                continue
            heads.setdefault(t, {})[server] = {"status": st, "headers": hd}
            if st != 200 or got != body:
                problems.append("%s %s: status %s, %d bytes, %s the bytes Podium served first"
                                % (server, t, st, len(got), "same as" if got == body
                                   else "NOT the same as"))
    return heads, problems


def pinned(args, side):
    """--pin: the server on CPU 0 and wrk on CPU 1, so neither preempts the
    other and a latency tail is the server's own, not the load generator's
    (on 2 cores, wrk's two threads and a one-thread server share them)."""
    return ["taskset", "-c", "0" if side == "server" else "1"] if args.pin else []


def run_wrk(args, port, target, conns, seconds, server_pid):
    threads = min(args.threads, conns)
    argv = pinned(args, "load") + [
        "wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds,
        "--timeout", "5s", "--latency", "-s", args.lua[target],
        "http://127.0.0.1:%d%s" % (port, args.paths[target]), "--", str(conns // threads)]
    slow = (SlowClients(port, args.paths["segment"], args.slow, args.slow_kbps * 1000 / 8.0,
                        args.slow_rcvbuf).start() if args.slow else None)
    c0 = bench.cpu_ticks([server_pid])
    m0 = bench.machine_busy_ticks()
    k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        slow_stats = slow.stop() if slow else None
    wall = time.monotonic() - t0
    k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c1 = bench.cpu_ticks([server_pid])
    m1 = bench.machine_busy_ticks()
    res = {"argv": bench.cmdline(argv), "rc": r.returncode,
           "server_cpu_s": (c1 - c0) / bench.CLK_TCK,
           # wrk is the only child reaped during the run
           "wrk_cpu_s": (k1.ru_utime + k1.ru_stime) - (k0.ru_utime + k0.ru_stime),
           "machine_busy_cores": round((m1 - m0) / bench.CLK_TCK / wall, 3)}
    if slow_stats:
        res["slow"] = slow_stats
    line = [l for l in r.stdout.splitlines() if l.startswith("WRKJSON ")]
    if r.returncode != 0 or not line:
        res["error"] = (r.stderr or r.stdout).strip()[-500:]
        return res
    w = json.loads(line[-1][8:])
    secs = w["duration_us"] / 1e6
    res.update(w)
    res["req_s"] = w["requests"] / secs
    res["mib_s"] = w["bytes"] / secs / (1 << 20)
    res["errors"] = w["connect"] + w["read"] + w["write"] + w["timeout"] + w["status"]
    res["cpu_us_per_req"] = res["server_cpu_s"] / max(1, w["requests"]) * 1e6
    res["wrk_cpu_us_per_req"] = res["wrk_cpu_s"] / max(1, w["requests"]) * 1e6
    return res


def summarize(runs, args):
    rows = []
    for t in args.targets:
        for c in args.connections:
            row = {"target": t, "connections": c}
            for server in SERVERS:
                sel = [x for x in runs if x["target"] == t and x["connections"] == c
                       and x["server"] == server and "req_s" in x]
                row[server] = {k: [x[k] for x in sel] for k in
                               ("req_s", "mib_s", "p99_us", "p50_us", "errors",
                                "cpu_us_per_req", "wrk_cpu_us_per_req",
                               "machine_busy_cores")}
                for k in ("median_kib_s", "min_kib_s", "responses", "errors"):
                    row[server]["slow_" + k] = [x["slow"][k] for x in sel if "slow" in x]
                row[server]["failed"] = len([x for x in runs if x["target"] == t
                                             and x["connections"] == c
                                             and x["server"] == server and "req_s" not in x])
            rows.append(row)
    return rows


def ms(vals):
    return [v / 1000.0 for v in vals]


def verdict(row):
    """Meets the bar: req/s and MiB/s >= nginx's, p99 <= nginx's, no errors."""
    p, n = row["podium"], row["nginx"]
    if not p["req_s"] or not n["req_s"]:
        return "n/a"
    med = statistics.median
    ok = (med(p["req_s"]) >= med(n["req_s"]) and med(p["mib_s"]) >= med(n["mib_s"])
          and med(p["p99_us"]) <= med(n["p99_us"]) and sum(p["errors"]) == 0)
    return "yes" if ok else "**no**"


def markdown(meta, runs, rows, args):
    out = bench.header_lines("Podium serving benchmark (live segment and playlist, wrk)", meta)
    w = out.append
    pm = meta["podium"]
    if pm:
        w("- podium: `%s` (%s, %s build, binary of %s, sha256 %s; work tree at start: %s); "
          "one session fed %s s by `%s`, then the feeder stopped (window unchanged between "
          "publishers)" % (pm["binary"], pm["version"], pm["build_type"], pm["built"],
                           pm["sha256"][:12], pm["tree"], meta.get("fed_s", "?"),
                           meta["feeder_cmd"]))
        w("- Podium's live segments: %s" % meta.get("segments_in", "?"))
    w("- nginx: %s, 1 worker, sendfile on, access_log off, the same bytes as files "
      "(config: `%s`)" % (meta.get("nginx_version", "?"), meta.get("nginx_conf", "?")))
    if meta.get("nginx_tmpfs_root"):
        w("- nginx (tmpfs): the same nginx, config and bytes, the files in `%s` (tmpfs: "
          "shmem pages, as Podium's segment memfds)" % meta["nginx_tmpfs_root"])
    for t in TARGETS:
        b = meta["targets"].get(t)
        if b and (t in args.targets or "player" in args.targets):
            w("- %s: `%s`, %d bytes%s" % (t, b["path"], b["bytes"],
                                        ", EXTINF %.3f s" % b["extinf"] if b.get("extinf") else ""))
    if "player" in args.targets:
        w("- player: each connection asks for the playlist first, then segment and "
          "playlist in turn (as hls.js on its own connection); latency mixes both")
    w("- load: `wrk -t%d -cC -d%ds --latency`, runs alternate nginx/Podium; "
      "MiB/s counts what wrk read (body + headers); errors = connect + read + write + "
      "timeout + non-2xx; CPU = server utime+stime per request; wrk CPU = the same "
      "for wrk, whose kernel time includes TCP work it does for the server; fd limit %d"
      % (args.threads, args.seconds, meta["nofile"]))
    if args.pin:
        w("- pinned (`--pin`): servers on CPU 0, wrk on CPU 1 (`taskset`)")
    w("- figures: median [min-max] (runs); ratio = Podium / nginx of the medians "
      "(p99: nginx / Podium, so >= 1 is good everywhere)")
    w("")
    w("| target | conns | server | req/s | MiB/s | p99 ms | p50 ms | errors | CPU us/req "
      "| wrk CPU us/req |")
    w("| --- | --: | --- | --: | --: | --: | --: | --: | --: | --: |")
    for row in rows:
        for server in SERVERS:
            s, label = row[server], LABELS[server]
            if not s["req_s"] and not s["failed"]:
                continue
            w("| %s | %d | %s | %s | %s | %s | %s | %d%s | %s | %s |" % (
                row["target"], row["connections"], label, bench.fmt_stat(s["req_s"], 0),
                bench.fmt_stat(s["mib_s"], 0), bench.fmt_stat(ms(s["p99_us"]), 2),
                bench.fmt_stat(ms(s["p50_us"]), 2), sum(s["errors"]),
                " (+%d failed runs)" % s["failed"] if s["failed"] else "",
                bench.fmt_stat(s["cpu_us_per_req"], 1),
                bench.fmt_stat(s["wrk_cpu_us_per_req"], 1)))
        p, n = row["podium"], row["nginx"]
        if p["req_s"] and n["req_s"]:
            w("| %s | %d | **ratio** | **%s** | **%s** | **%s** | | bar met: %s | %s | %s |" % (
                row["target"], row["connections"], bench.fmt_ratio(p["req_s"], n["req_s"]),
                bench.fmt_ratio(p["mib_s"], n["mib_s"]), bench.fmt_ratio(n["p99_us"], p["p99_us"]),
                verdict(row), bench.fmt_ratio(p["cpu_us_per_req"], n["cpu_us_per_req"]),
                bench.fmt_ratio(p["wrk_cpu_us_per_req"], n["wrk_cpu_us_per_req"])))
        m = row["nginx-tmpfs"]
        if p["req_s"] and m["req_s"]:
            w("| %s | %d | ratio to nginx (tmpfs) | %s | %s | %s | | | %s | %s |" % (
                row["target"], row["connections"], bench.fmt_ratio(p["req_s"], m["req_s"]),
                bench.fmt_ratio(p["mib_s"], m["mib_s"]), bench.fmt_ratio(m["p99_us"], p["p99_us"]),
                bench.fmt_ratio(p["cpu_us_per_req"], m["cpu_us_per_req"]),
                bench.fmt_ratio(p["wrk_cpu_us_per_req"], m["wrk_cpu_us_per_req"])))
        if n["req_s"] and m["req_s"]:
            w("| %s | %d | nginx tmpfs / ext4 | %s | %s | %s | | | %s | %s |" % (
                row["target"], row["connections"], bench.fmt_ratio(m["req_s"], n["req_s"]),
                bench.fmt_ratio(m["mib_s"], n["mib_s"]), bench.fmt_ratio(n["p99_us"], m["p99_us"]),
                bench.fmt_ratio(m["cpu_us_per_req"], n["cpu_us_per_req"]),
                bench.fmt_ratio(m["wrk_cpu_us_per_req"], n["wrk_cpu_us_per_req"])))
    w("")
    if args.slow:
        w("Slow attendees beside wrk in every run: %d keep-alive connections, SO_RCVBUF %d, each "
          "reading the segment over and over at %d kbit/s (%.0f KiB/s); their rate is what each "
          "read over the run (median of the clients, and the slowest), per run: median [min-max]"
          % (args.slow, args.slow_rcvbuf, args.slow_kbps, args.slow_kbps * 1000 / 8.0 / 1024))
        w("")
        w("| target | conns | server | slow median KiB/s | slowest KiB/s | segments read | errors |")
        w("| --- | --: | --- | --: | --: | --: | --: |")
        for row in rows:
            for server in SERVERS:
                x = row[server]
                if x["slow_median_kib_s"]:
                    w("| %s | %d | %s | %s | %s | %s | %d |" % (
                        row["target"], row["connections"], LABELS[server],
                        bench.fmt_stat(x["slow_median_kib_s"], 0),
                        bench.fmt_stat(x["slow_min_kib_s"], 0),
                        bench.fmt_stat(x["slow_responses"], 0), sum(x["slow_errors"])))
        w("")
    notes = ["- " + p for p in meta.get("problems", [])]
    for x in runs:
        if "req_s" not in x:
            notes.append("- FAILED %s %s c%d run %d: %s" % (x["server"], x["target"],
                                                           x["connections"], x["run"],
                                                           x.get("error", "?")))
        elif x["errors"]:
            notes.append("- %s %s c%d run %d: errors connect %d read %d write %d timeout %d "
                         "non-2xx %d" % (x["server"], x["target"], x["connections"], x["run"],
                                         x["connect"], x["read"], x["write"], x["timeout"],
                                         x["status"]))
    if notes:
        w("Notes:")
        w("")
        out.extend(notes)
        w("")
    w("Raw numbers: `%s`" % bench.rel(meta["json"]))
    return "\n".join(out)


def nginx_version():
    r = subprocess.run(["nginx", "-v"], capture_output=True, text=True)
    return (r.stderr or r.stdout).strip().split("/")[-1] or "?"


def main(argv):
    args = parse_args(argv)
    now, stamp, json_path, final_logs = bench.run_paths("serve", args.json)
    src_bin = bench.ensure_built(args.podium, "--podium")
    media_src, _ = bench.ensure_media()
    nofile = raise_nofile(max(args.connections) * 4 + 1024)
    work = tempfile.mkdtemp(prefix="bench-serve-", dir=args.tmpdir)
    args.logdir = os.path.join(work, "logs")
    os.makedirs(args.logdir)
    args.media = bench.snapshot(media_src, os.path.join(work, os.path.basename(media_src)))
    args.podium_bin = os.path.join(work, "podium")
    shutil.copy2(src_bin, args.podium_bin)
    done_lua = os.path.join(work, "done.lua")
    with open(done_lua, "w") as f:
        f.write(WRK_LUA)
    args.lua = {t: done_lua for t in TARGETS}
    meta = {"date": now.isoformat(timespec="seconds"),
            "command": os.environ.get("PODIUM_BENCH_CMDLINE")
            or bench.cmdline([sys.argv[0], "serve"] + argv),
            "params": {"connections": args.connections, "seconds": args.seconds,
                       "runs": args.runs, "threads": args.threads, "targets": args.targets,
                       "only": args.only, "nginx_tmpfs": args.nginx_tmpfs,
                       "slow": args.slow, "slow_kbps": args.slow_kbps,
                       "slow_rcvbuf": args.slow_rcvbuf},
            "host": bench.host_info(),
            "podium": dict(bench.binary_meta(src_bin),
                           version=bench.podium_version(args.podium_bin)),
            "nginx_version": nginx_version(), "nofile": nofile,
            "feeder_cmd": bench.cmdline(bench.feeder_argv(
                bench.rel(media_src), bench.feed_url(9000, 1))).replace("9000", "PORT"),
            "json": json_path, "logs": bench.rel(final_logs), "problems": []}
    runs, procs = [], bench.Procs()
    rc = 0
    shm = None
    try:
        podium, podium_port, info = start_podium(args, procs, work)
        meta.update(info)
        targets, extinf = pick_targets(podium_port)
        meta["targets"] = {t: {"path": p, "bytes": len(b), "podium_headers": h}
                           for t, (p, b, h) in targets.items()}
        meta["targets"]["segment"]["extinf"] = extinf
        args.paths = {t: p for t, (p, _, _) in targets.items()}
        args.paths["player"] = args.paths["playlist"]
        args.lua["player"] = os.path.join(work, "player.lua")
        with open(args.lua["player"], "w") as f:
            f.write(PLAYER_LUA.format(**args.paths) + WRK_LUA)
        nginx, nginx_port, conf = start_nginx(args, procs, work, targets, nofile)
        meta["nginx_conf"] = bench.rel(os.path.join(final_logs, "nginx.conf"))
        shutil.copy2(conf, os.path.join(args.logdir, "nginx.conf"))
        servers = {"nginx": (nginx, nginx_port), "podium": (podium, podium_port)}
        if args.only:
            servers = {args.only: servers[args.only]}
        if args.nginx_tmpfs:
            shm = tempfile.mkdtemp(prefix="bench-serve-", dir="/dev/shm")
            meta["nginx_tmpfs_root"] = shm
            p, port, _ = start_nginx(args, procs, work, targets, nofile, "nginx-tmpfs", shm)
            servers["nginx-tmpfs"] = (p, port)
        servers = {k: servers[k] for k in SERVERS if k in servers}
        meta["headers"], problems = check_same(targets, {k: v[1] for k, v in servers.items()})
        meta["problems"] += problems
        for name, (p, port) in servers.items():
            for t in args.targets:
                run_wrk(args, port, t, min(args.connections), WARMUP_S, p.pid)
        total = len(args.targets) * len(args.connections) * args.runs * len(servers)
        bench.log("%d wrk runs of %d s (~%.0f min); logs will be in %s" % (
            total, args.seconds, total * (args.seconds + 2) / 60.0, meta["logs"]))
        for r in range(1, args.runs + 1):
            for t in args.targets:
                for c in args.connections:
                    for name, (p, port) in servers.items():
                        if p.poll() is not None:
                            raise RuntimeError("%s exited (rc %s)" % (name, p.returncode))
                        x = run_wrk(args, port, t, c, args.seconds, p.pid)
                        x.update({"server": name, "target": t, "connections": c, "run": r})
                        runs.append(x)
                        if "req_s" in x:
                            bench.log("%-6s %-8s c%-4d run %d: %8.0f req/s %7.0f MiB/s "
                                      "p99 %7.2f ms errors %d cpu %.1f us/req%s" % (
                                          name, t, c, r, x["req_s"], x["mib_s"],
                                          x["p99_us"] / 1e3, x["errors"], x["cpu_us_per_req"],
                                          "; slow: median %.0f KiB/s, slowest %.0f, %d "
                                          "segments, %d errors" % (
                                              x["slow"]["median_kib_s"], x["slow"]["min_kib_s"],
                                              x["slow"]["responses"], x["slow"]["errors"])
                                          if "slow" in x else ""))
                        else:
                            bench.log("%-6s %-8s c%-4d run %d: FAILED %s"
                                      % (name, t, c, r, x.get("error")))
                        time.sleep(1.0)
        # still the same bytes after the runs: the window did not move
        _, after = check_same(targets, {k: v[1] for k, v in servers.items()})
        meta["problems"] += ["after the runs: " + p for p in after]
    except (KeyboardInterrupt, bench.Interrupted) as e:
        bench.log("interrupted (%s): reporting the runs done so far" % (e or "SIGINT"))
        meta["interrupted"] = True
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        meta["problems"].append(str(e))
        bench.log("ERROR: %s" % e)
        rc = 1
    finally:
        procs.stop_all()
        if shm:
            shutil.rmtree(shm, ignore_errors=True)
    meta["host"]["loadavg_end"] = bench.loadavg()
    rows = summarize(runs, args)
    meta.setdefault("targets", {})
    bench.publish_results(json_path, {"meta": meta, "summary": rows, "runs": runs},
                          markdown(meta, runs, rows, args), args.logdir, final_logs,
                          work, args.keep)
    bad = meta["problems"] or any("req_s" not in x or x["errors"] or x.get("slow", {}).get("errors")
                                  for x in runs)
    return 1 if rc or bad or meta.get("interrupted") else 0
