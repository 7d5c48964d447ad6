"""scripts/bench scale: bar 2 of issue 6, "100 concurrent 3.3 Mbps sessions for
5 minutes, no segment lost or late in any playlist, every recording complete".

One Podium (Release, recording on, segment_duration 2, window 6) with N
configured sessions; one build/tests/srt_feeder process publishes the bench
media to all N over SRT in real time (one libsrt multiplexer, each frame's
payloads sent together at its DTS as ffmpeg -re does, starts staggered over
one GOP, the file looped seamlessly).  While it runs,
one thread polls every live playlist round-robin over one keep-alive HTTP
connection (each playlist about once per --poll seconds) and checks:

- lost: every media sequence number from the first to the last seen was
  listed by some poll;
- late: a segment first listed more than EXTINF + --tolerance after the one
  before it.  A poll only bounds when a segment appeared (between the poll
  that missed it and the one that saw it), so a segment counts as late only
  when even the smallest gap those bounds allow exceeds the limit; the
  largest observed gap is reported too;
- no #EXT-X-DISCONTINUITY (nor DISCONTINUITY-SEQUENCE change), no ENDLIST.

Then the feeder stops, every session is ended (POST /api/v1/sessions/<id>/end
with the admin token), and once the API says every recording is finalized each
recording is checked: no media lost on the way in (the session's bytes_in
equals what the feeder sent it: SRT loss that retransmission did not recover
leaves holes no playlist check sees), ENDLIST, every segment file there and
non-empty, sum of EXTINF within one GOP of the fed media time, every segment
the live playlist listed also recorded; ffprobe reads a few recordings end
to end (every video frame there, no error output).

Measured alongside: Podium CPU (utime+stime, all threads) per stream-minute,
VmHWM and VmRSS (with the segment file pages RSS does not show), Podium
threads by CPU, the feeder's CPU, whole-machine busy cores, UDP drops on
Podium's SRT socket, SRT loss seen by the API, and Podium log lines at
warn/error.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import bench
from bench import log, rel

GOP_S = bench.MEDIA["gop"] / bench.MEDIA["fps"]
ADMIN_TOKEN = "bench-scale-admin-token-0123456789"
FEEDER_CONNECT_DEADLINE = 60.0
FINALIZE_DEADLINE = 60.0
RSS_PERIOD = 1.0
STEP_PERIOD = 0.5      # the drop series: when the UDP socket overflows, and how busy it all was
API_PERIOD = 15.0
SUMMARY_RE = re.compile(r"^srt_feeder: streams=")


def scale_args(argv):
    ap = argparse.ArgumentParser(
        prog="scripts/bench scale",
        description="N concurrent real-time 3.3 Mbps SRT sessions into one Podium: "
        "no live segment lost or late, every recording complete (issue 6, bar 2).")
    ap.add_argument("--streams", type=int, help="concurrent sessions (default 100)")
    ap.add_argument("--seconds", type=float, help="media seconds fed per session (default 300)")
    ap.add_argument("--quick", action="store_true",
                    help="development run: --streams 10 --seconds 30 (explicit options win)")
    ap.add_argument("--poll", type=float, default=1.0,
                    help="seconds between two polls of one live playlist (default 1)")
    ap.add_argument("--tolerance", type=float, default=1.0,
                    help="a segment is late if listed more than EXTINF + this after "
                    "the previous one (default 1 s)")
    ap.add_argument("--stagger", type=float, default=GOP_S,
                    help="feeder start times spread over this many seconds (default one GOP)")
    ap.add_argument("--separate-ports", action="store_true",
                    help="feeder: one local UDP port (libsrt multiplexer) per stream")
    ap.add_argument("--pace", choices=("frame", "pcr"), default="frame",
                    help="feeder pacing: frame = each frame's payloads together at its "
                    "DTS, like ffmpeg -re (default); pcr = each payload at its own PCR "
                    "time, a smooth CBR sender (about 3x the packet wake-ups)")
    ap.add_argument("--latency", type=int, default=bench.SRT_LATENCY_US // 1000,
                    help="SRT latency in ms, Podium's latency_ms and the feeder's "
                    "(default %d, Podium's default)" % (bench.SRT_LATENCY_US // 1000))
    ap.add_argument("--probe", type=int, default=3,
                    help="recordings read end to end with ffprobe (default 3)")
    ap.add_argument("--podium", default=os.path.join(bench.BUILD, "podium"),
                    help="podium binary (default build/podium; built if missing)")
    ap.add_argument("--feeder", default=os.path.join(bench.BUILD, "tests", "srt_feeder"),
                    help="srt_feeder binary (default build/tests/srt_feeder; built if missing)")
    ap.add_argument("--tmpdir", default=None, help="work directory parent (default $TMPDIR or /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (recordings)")
    ap.add_argument("--json", help="result file (default build/bench-results/scale-<timestamp>.json)")
    a = ap.parse_args(argv)
    a.streams = a.streams if a.streams is not None else (10 if a.quick else 100)
    a.seconds = a.seconds if a.seconds is not None else (30.0 if a.quick else 300.0)
    if a.streams < 1 or a.seconds < 4 * GOP_S or a.poll <= 0 or a.tolerance < 0:
        ap.error("streams >= 1, seconds >= %g, poll > 0, tolerance >= 0" % (4 * GOP_S))
    return a


# --------------------------------------------------------------------------
# /proc helpers not in bench.py

def thread_ticks(pid):
    """{tid: (comm, utime+stime)} of a process's threads."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        fields = s[s.rindex(")") + 2:].split()
        out[int(t)] = (comm, int(fields[11]) + int(fields[12]))
    return out


def thread_report(before, after, wall):
    """Podium's threads by CPU over the run: grouped by name, and the busiest ones."""
    groups, single = {}, []
    for tid, (comm, t1) in after.items():
        d = t1 - before.get(tid, (comm, 0))[1]
        g = groups.setdefault(comm, [0, 0])
        g[0] += d
        g[1] += 1
        single.append((d, tid, comm))
    tck = bench.CLK_TCK
    return {
        "by_name": sorted(([c, v[1], round(v[0] / tck / wall, 3)] for c, v in groups.items()),
                          key=lambda x: -x[2]),
        "busiest": [[tid, comm, round(d / tck / wall, 3)]
                    for d, tid, comm in sorted(single, reverse=True)[:6]],
        "threads": len(after),
    }


def udp_socket_drops(port):
    """Datagrams the kernel dropped on the UDP socket bound to port (its
    receive buffer was full), from the `drops` column of /proc/net/udp."""
    want = ":%04X" % port
    total = None
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    v = line.split()
                    if v[1].endswith(want):
                        total = (total or 0) + int(v[-1])
        except OSError:
            pass
    return total


def udp_rcvbuf_errors():
    with open("/proc/net/snmp") as f:
        lines = [l.split() for l in f if l.startswith("Udp:")]
    return int(lines[1][lines[0].index("RcvbufErrors")])


# --------------------------------------------------------------------------
# live playlist follower

class Follower:
    """Per-session state of the live playlist polls."""

    def __init__(self, sid):
        self.sid = sid
        self.seen = {}          # seq -> [extinf, lo, hi]: appeared in (lo, hi]
        self.last_poll = None
        self.polls = 0
        self.errors = 0
        self.disc = []          # seqs preceded by EXT-X-DISCONTINUITY
        self.disc_seq = set()
        self.endlist = False
        self.target = None

    def update(self, text, now):
        seqs, extinf, disc_next = [], None, False
        for line in text.splitlines():
            if line.startswith("#EXTINF:"):
                extinf = float(line[8:].split(",")[0])
            elif line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
                self.disc_seq.add(int(line.split(":")[1]))
            elif line == "#EXT-X-DISCONTINUITY":
                disc_next = True
            elif line == "#EXT-X-ENDLIST":
                self.endlist = True
            elif line.startswith("#EXT-X-TARGETDURATION:"):
                self.target = int(line.split(":")[1])
            elif line and not line.startswith("#"):
                m = re.match(r"(\d+)\.(ts|m4s)$", line.strip())
                if m:
                    seq = int(m.group(1))
                    seqs.append(seq)
                    if seq not in self.seen:
                        self.seen[seq] = [extinf, self.last_poll, now]
                        if disc_next:
                            self.disc.append(seq)
                extinf, disc_next = None, False
        self.last_poll = now
        self.polls += 1
        return seqs

    def verdict(self, tolerance):
        out = {"segments": len(self.seen), "polls": self.polls, "http_errors": self.errors,
               "lost": [], "late": [], "max_gap_over_extinf": None,
               "discontinuities": [s for s in self.disc if s != min(self.seen, default=s)],
               "disc_sequences": sorted(self.disc_seq), "endlist_while_live": self.endlist}
        if not self.seen:
            return out
        seqs = sorted(self.seen)
        out["first"], out["last"] = seqs[0], seqs[-1]
        out["lost"] = sorted(set(range(seqs[0], seqs[-1] + 1)) - set(seqs))
        worst = None
        # the last segment is cut when the feeder hangs up, which it does for
        # all streams at once after the last one's feed: not the relay's timing
        if len(seqs) >= 2:
            ext, _, hi = self.seen[seqs[-1]]
            out["last_gap_over_extinf"] = round(hi - self.seen[seqs[-2]][2] - (ext or 0), 3)
        for a, b in zip(seqs[:-1], seqs[1:-1]):
            if b != a + 1:
                continue
            ext, lo, hi = self.seen[b]
            prev_hi = self.seen[a][2]
            if lo is None or ext is None:
                continue
            over = hi - prev_hi - ext
            worst = over if worst is None else max(worst, over)
            if lo - prev_hi > ext + tolerance:
                out["late"].append([b, round(lo - prev_hi, 2), round(hi - prev_hi, 2), ext])
        out["max_gap_over_extinf"] = None if worst is None else round(worst, 3)
        out["extinf_sum"] = round(sum(v[0] or 0 for v in self.seen.values()), 3)
        return out


class Poller:
    """GETs over one keep-alive connection (reopened after an error)."""

    def __init__(self, port):
        self.port = port
        self.conn = None
        self.requests = 0

    def get(self, path, timeout=5.0):
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                body = r.read()
                self.requests += 1
                if r.will_close:
                    self.conn.close()
                    self.conn = None
                return r.status, body
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def close(self):
        if self.conn is not None:
            self.conn.close()


def api(port, method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + ADMIN_TOKEN,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10.0) as r:
        return r.status, json.loads(r.read().decode("utf-8", "replace") or "null")


# --------------------------------------------------------------------------
# recordings

def check_recording(data_dir, sid, live, fed_s):
    d = os.path.join(data_dir, "recordings", sid)
    res = {"ok": False, "problems": []}
    try:
        with open(os.path.join(d, "index.m3u8")) as f:
            text = f.read()
    except OSError as e:
        res["problems"].append("no playlist: %s" % e)
        return res
    segs, extinf, disc = [], None, 0
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            extinf = float(line[8:].split(",")[0])
        elif line == "#EXT-X-DISCONTINUITY":
            disc += 1
        elif line and not line.startswith("#"):
            segs.append((line.strip(), extinf))
    res["endlist"] = "#EXT-X-ENDLIST" in text
    res["type_vod"] = "#EXT-X-PLAYLIST-TYPE:VOD" in text
    res["segments"] = len(segs)
    res["extinf_sum"] = round(sum(e or 0 for _, e in segs), 3)
    res["discontinuities"] = disc
    missing, empty, nums = [], [], set()
    for uri, _ in segs:
        try:
            if os.path.getsize(os.path.join(d, uri)) <= 0:
                empty.append(uri)
        except OSError:
            missing.append(uri)
        m = re.match(r"(\d+)\.", uri)
        if m:
            nums.add(int(m.group(1)))
    res["missing_files"], res["empty_files"] = missing[:5], empty[:5]
    res["bytes"] = bench.du(d)
    live_seqs = set(live.seen)
    res["live_not_recorded"] = sorted(live_seqs - nums)[:10]
    res["recorded_not_seen_live"] = sorted(nums - live_seqs)[:10]
    if not res["endlist"]:
        res["problems"].append("no ENDLIST")
    if missing or empty:
        res["problems"].append("%d missing, %d empty segment files" % (len(missing), len(empty)))
    if abs(res["extinf_sum"] - fed_s) > GOP_S:
        res["problems"].append("EXTINF sum %.2f s vs %.2f s fed" % (res["extinf_sum"], fed_s))
    if res["live_not_recorded"]:
        res["problems"].append("live segments not recorded: %s" % res["live_not_recorded"])
    if disc:
        res["problems"].append("%d DISCONTINUITY" % disc)
    res["ok"] = not res["problems"]
    return res


def ffprobe_recording(data_dir, sid):
    path = os.path.join(data_dir, "recordings", sid, "index.m3u8")
    argv = ["ffprobe", "-v", "error", "-count_packets", "-of", "json",
            "-show_entries", "format=duration:stream=codec_name,nb_read_packets", path]
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    out = {"sid": sid, "rc": r.returncode, "seconds": round(time.monotonic() - t0, 1),
           "stderr_lines": len([l for l in r.stderr.splitlines() if l.strip()]),
           "stderr_first": r.stderr.strip().splitlines()[0] if r.stderr.strip() else ""}
    try:
        j = json.loads(r.stdout)
        out["duration"] = float(j["format"]["duration"])
        out["streams"] = {s["codec_name"]: int(s["nb_read_packets"]) for s in j["streams"]}
    except (ValueError, KeyError):
        pass
    return out


# --------------------------------------------------------------------------

def wait_line(path, pattern, proc, deadline):
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    if re.search(pattern, line):
                        return line.strip()
        except OSError:
            pass
        if proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def feeder_summary(path):
    line = None
    try:
        with open(path, errors="replace") as f:
            for l in f:
                if SUMMARY_RE.match(l):
                    line = l.strip()
    except OSError:
        pass
    if not line:
        return None
    kv = dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)
    out = {}
    for k, v in kv.items():
        try:
            out[k] = float(v) if "." in v else int(v)
        except ValueError:
            out[k] = v
    return out


def log_messages(path):
    """warn/error lines of the Podium log: {level: {msg: count}}, first lines."""
    counts, first = {}, []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = re.search(r"level=(warn|error|fatal)", line)
                if not m:
                    continue
                msg = re.search(r'msg=("[^"]*"|\S+)', line)
                key = msg.group(1).strip('"') if msg else line.strip()[:80]
                lv = counts.setdefault(m.group(1), {})
                lv[key] = lv.get(key, 0) + 1
                if len(first) < 5:
                    first.append(line.rstrip("\n"))
    except OSError:
        pass
    return counts, first


def run(args, res, work, logdir, procs):
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir)
    n = args.streams
    conf = os.path.join(work, "podium.ini")
    with open(conf, "w") as f:
        f.write(bench.podium_config(n, data_dir, args.latency).replace(
            "[server]\n", "[server]\nadmin_token = %s\n" % ADMIN_TOKEN, 1))
    streams = os.path.join(work, "streams.txt")
    with open(streams, "w") as f:
        for k in range(1, n + 1):
            f.write("s%d %s\n" % (k, bench.passphrase(k)))
    plog = os.path.join(logdir, "podium.log")
    flog = os.path.join(logdir, "feeder.log")
    server = procs.start([args.podium_bin, "-c", conf], plog, "podium")
    srt_port, http_port = bench.podium_ports(plog, server,
                                             time.monotonic() + bench.PODIUM_START_DEADLINE)
    res["ports"] = {"srt": srt_port, "http": http_port}
    time.sleep(0.5)
    res["rss_idle_kib"] = (bench.read_status_kib(server.pid) or {}).get("VmRSS")
    drops0, rcvbuf0 = udp_socket_drops(srt_port), udp_rcvbuf_errors()

    fargv = [args.feeder_bin, "-m", args.media, "-p", str(srt_port), "-f", streams,
             "-t", "%g" % args.seconds, "-l", str(args.latency),
             "-s", "%g" % args.stagger, "--pace", args.pace]
    if args.separate_ports:
        fargv.append("--separate-ports")
    res["feeder_cmd"] = bench.cmdline([rel(args.feeder_src), "-m", rel(args.media_src), "-p",
                                       "PORT", "-f", "STREAMS"] + fargv[7:])
    feeder = procs.start(fargv, flog, "feeder")
    line = wait_line(flog, r"^srt_feeder: connected", feeder,
                     time.monotonic() + FEEDER_CONNECT_DEADLINE)
    if not line:
        raise RuntimeError("feeder did not connect (exit %s): %s"
                           % (feeder.poll(), bench.first_line(flog)))
    res["feeder_connected"] = line
    log(line)
    t0 = time.monotonic()
    c_all0 = bench.cpu_ticks([server.pid])
    # CPU is measured while every publisher is live: after the staggered
    # starts and the first segments, before the first feed ends
    w0 = t0 + args.stagger + min(10.0, args.seconds / 4)
    w1 = t0 + args.seconds - 1.0
    snap = {}

    def snapshot(key):
        snap[key] = {"t": time.monotonic(), "podium": bench.cpu_ticks([server.pid]),
                     "feeder": bench.cpu_ticks([feeder.pid]),
                     "machine": bench.machine_busy_ticks(),
                     "threads": thread_ticks(server.pid)}

    followers = {"s%d" % k: Follower("s%d" % k) for k in range(1, n + 1)}
    order = list(followers)
    poller = Poller(http_port)
    gap = args.poll / n
    next_poll, next_rss, next_api, next_note = t0, t0, t0 + API_PERIOD, t0 + 30
    rss_peak, series, srt_stats = 0, [], {}
    next_step, last_step, steps = t0, None, []

    def step_sample(now):
        return (now, udp_socket_drops(srt_port) or 0, bench.cpu_ticks([server.pid]),
                bench.machine_busy_ticks())
    i = 0
    expected_end = t0 + args.seconds + args.stagger + 5
    try:
        while feeder.poll() is None:
            now = time.monotonic()
            if now > expected_end + 60:
                raise RuntimeError("feeder still running %.0f s after its media ended"
                                   % (now - expected_end + 5))
            if server.poll() is not None:
                raise RuntimeError("podium exited during the run (rc %s)" % server.returncode)
            if now >= w0 and "w0" not in snap:
                snapshot("w0")
            if now >= w1 and "w1" not in snap and "w0" in snap:
                snapshot("w1")
            if now >= next_step:
                next_step += STEP_PERIOD
                cur = step_sample(now)
                if last_step:
                    dt = cur[0] - last_step[0]
                    steps.append([round(cur[0] - t0, 1), cur[1] - last_step[1],
                                  round((cur[3] - last_step[3]) / bench.CLK_TCK / dt, 2),
                                  round((cur[2] - last_step[2]) / bench.CLK_TCK / dt, 2)])
                last_step = cur
            if now >= next_rss:
                st = bench.read_status_kib(server.pid) or {}
                rss = bench.plus_segment_kib(server.pid, st.get("VmRSS", 0))
                rss_peak = max(rss_peak, rss)
                if not series or now - t0 >= series[-1][0] + 10:
                    series.append([round(now - t0, 1), rss])
                next_rss += RSS_PERIOD
            if now >= next_api:
                next_api += API_PERIOD
                try:
                    _, j = api(http_port, "GET", "/api/v1/sessions")
                    for s in j.get("sessions", []):
                        if isinstance(s.get("publisher"), dict) and "srt" in s["publisher"]:
                            srt_stats[s["id"]] = s["publisher"]["srt"]
                except (OSError, ValueError, urllib.error.URLError):
                    pass
            if now >= next_note:
                next_note += 60
                segs = sum(len(f.seen) for f in followers.values())
                log("%.0f s: %d live segments seen, podium RSS %.0f MiB, %d playlist GETs"
                    % (now - t0, segs, rss_peak / 1024, poller.requests))
            sid = order[i % n]
            i += 1
            fol = followers[sid]
            try:
                status, body = poller.get("/live/%s/index.m3u8" % sid)
                if status == 200:
                    fol.update(body.decode("utf-8", "replace"), time.monotonic())
                elif fol.seen:
                    fol.errors += 1
            except (OSError, http.client.HTTPException):
                fol.errors += 1
            next_poll += gap
            delay = next_poll - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -args.poll:
                next_poll = time.monotonic()  # fell behind: don't burst to catch up
        t1 = time.monotonic()
        c_all1 = bench.cpu_ticks([server.pid])
        # the publisher's end flushes the last segment: one more pass sees it
        time.sleep(1.0)
        for sid in order:
            try:
                status, body = poller.get("/live/%s/index.m3u8" % sid)
                if status == 200:
                    followers[sid].update(body.decode("utf-8", "replace"), time.monotonic())
            except (OSError, http.client.HTTPException):
                followers[sid].errors += 1
    finally:
        poller.close()
    st = bench.read_status_kib(server.pid) or {}
    if "w1" not in snap:
        raise RuntimeError("the feed ended before the measurement window did "
                           "(feeder exit %s: %s)" % (feeder.returncode, bench.first_line(flog)))
    a, b = snap["w0"], snap["w1"]
    wall = b["t"] - a["t"]
    res.update({
        "wall_s": round(wall, 2),
        "window_s": [round(a["t"] - t0, 1), round(b["t"] - t0, 1)],
        "feed_wall_s": round(t1 - t0, 2),
        "podium_cpu_s_whole_feed": (c_all1 - c_all0) / bench.CLK_TCK,
        "playlist_gets": poller.requests,
        "podium_cpu_s": (b["podium"] - a["podium"]) / bench.CLK_TCK,
        "feeder_cpu_s": (b["feeder"] - a["feeder"]) / bench.CLK_TCK,
        "machine_busy_cores": round((b["machine"] - a["machine"]) / bench.CLK_TCK / wall, 3),
        "podium_threads": thread_report(a["threads"], b["threads"], wall),
        "rss_peak_kib": max(rss_peak, st.get("VmRSS", 0)),
        "hwm_kib": st.get("VmHWM"),
        "rss_series_kib": series,
        "udp_drops_podium_socket": (udp_socket_drops(srt_port) or 0) - (drops0 or 0),
        # [s since the feed began, datagrams dropped, machine cores busy, Podium cores]
        "udp_drop_steps": steps,
        "udp_rcvbuf_errors_machine": udp_rcvbuf_errors() - rcvbuf0,
        "srt_api": srt_stats,
        "feeder_rc": feeder.returncode,
        "feeder": feeder_summary(flog),
    })
    res["live"] = {sid: f.verdict(args.tolerance) for sid, f in followers.items()}

    # media that reached the relay: what the SRT links delivered after loss
    # recovery, against what the feeder sent to each session
    try:
        _, j = api(http_port, "GET", "/api/v1/sessions")
        res["bytes_in"] = {x["id"]: x.get("bytes_in") for x in j.get("sessions", [])}
    except (OSError, ValueError, urllib.error.URLError) as e:
        res["problems"].append("API after the feed: %s" % e)

    # end every session, then wait for the recordings to be finalized
    ended = 0
    for sid in order:
        try:
            status, _ = api(http_port, "POST", "/api/v1/sessions/%s/end" % sid)
            ended += status in (200, 202)
        except (OSError, ValueError, urllib.error.URLError) as e:
            res["problems"].append("end %s: %s" % (sid, e))
    res["sessions_ended"] = ended
    deadline = time.monotonic() + FINALIZE_DEADLINE
    states = {}
    t_end = time.monotonic()
    while time.monotonic() < deadline:
        try:
            _, j = api(http_port, "GET", "/api/v1/sessions")
            states = {s["id"]: (s.get("recording") or {}).get("state") for s in j["sessions"]}
        except (OSError, ValueError, KeyError, urllib.error.URLError):
            pass
        if states and all(states.get(sid) == "finalized" for sid in order):
            break
        time.sleep(0.5)
    res["finalize_s"] = round(time.monotonic() - t_end, 1)
    res["recordings_finalized"] = sum(states.get(sid) == "finalized" for sid in order)
    stop = bench.Procs.stop([server], bench.PODIUM_STOP_GRACE)[server.pid]
    res["podium_exit"] = {"rc": stop[0], "seconds": stop[1], "killed": stop[2]}
    res["recordings"] = {sid: check_recording(data_dir, sid, followers[sid], args.seconds)
                         for sid in order}
    pick = sorted({order[0], order[len(order) // 2], order[-1]} if args.probe >= 3
                  else set(order[:args.probe]), key=lambda s: int(s[1:]))
    pick = (pick + [s for s in order if s not in pick])[:args.probe]
    res["ffprobe"] = [ffprobe_recording(data_dir, sid) for sid in pick]
    res["log_levels"], res["log_first"] = log_messages(plog)
    res["disk_bytes"] = bench.du(data_dir)


# --------------------------------------------------------------------------
# summary and report

def summarize(res, args):
    s = {"n": args.streams}
    live = res.get("live", {})
    if not live:
        return s
    v = list(live.values())
    s["sessions_with_segments"] = sum(1 for x in v if x["segments"])
    s["segments_per_session"] = [x["segments"] for x in v]
    s["lost"] = sum(len(x["lost"]) for x in v)
    s["lost_sessions"] = sum(1 for x in v if x["lost"])
    s["late"] = sum(len(x["late"]) for x in v)
    s["late_sessions"] = sum(1 for x in v if x["late"])
    s["gap_over"] = [x["max_gap_over_extinf"] for x in v if x["max_gap_over_extinf"] is not None]
    s["disc"] = sum(len(x["discontinuities"]) + (1 if any(d for d in x["disc_sequences"]) else 0)
                    for x in v)
    s["endlist_live"] = sum(1 for x in v if x["endlist_while_live"])
    s["http_errors"] = sum(x["http_errors"] for x in v)
    f = res.get("feeder") or {}
    sent = f.get("bytes", 0) // f["connected"] if f.get("connected") else None
    bin_ = res.get("bytes_in", {})
    s["bytes_sent_per_session"] = sent
    s["media_loss"] = {sid: sent - b for sid, b in bin_.items()
                       if sent is not None and isinstance(b, int) and b < sent}
    s["bytes_in_ratio"] = [b / sent for b in bin_.values() if sent and isinstance(b, int)]
    rec = res.get("recordings", {})
    s["rec_ok"] = sum(1 for sid, r in rec.items() if r["ok"] and sid not in s["media_loss"]
                      and sid in bin_)
    s["rec_extinf"] = [r["extinf_sum"] for r in rec.values() if "extinf_sum" in r]
    s["rec_problems"] = {sid: r["problems"] for sid, r in rec.items() if r["problems"]}
    probes = res.get("ffprobe", [])
    frames = args.seconds * bench.MEDIA["fps"]
    s["probe_ok"] = sum(1 for p in probes if p["rc"] == 0 and p.get("duration") is not None
                        and abs(p["duration"] - args.seconds) <= GOP_S + 1
                        and abs((p.get("streams") or {}).get("h264", 0) - frames)
                        <= bench.MEDIA["gop"] and not p["stderr_lines"])
    wall = res.get("wall_s")
    if wall:
        s["podium_cpu_per_stream_min"] = res["podium_cpu_s"] / (args.streams * wall / 60)
        s["feeder_cpu_per_stream_min"] = res["feeder_cpu_s"] / (args.streams * wall / 60)
    if res.get("hwm_kib"):
        s["hwm_mib"] = res["hwm_kib"] / 1024
        idle = res.get("rss_idle_kib") or 0
        s["rss_per_session_mib"] = (res["rss_peak_kib"] - idle) / 1024 / args.streams
    lost_srt = [(x.get("packets_lost") or 0) for x in res.get("srt_api", {}).values()]
    drop_srt = [(x.get("packets_dropped") or 0) for x in res.get("srt_api", {}).values()]
    s["srt_lost"], s["srt_dropped"] = sum(lost_srt), sum(drop_srt)
    s["pass"] = bool(
        s["sessions_with_segments"] == args.streams and s["lost"] == 0 and s["late"] == 0
        and s["disc"] == 0 and s["endlist_live"] == 0 and s["rec_ok"] == args.streams
        and s["probe_ok"] == len(probes) and res.get("valid"))
    return s


def yes(b):
    return "pass" if b else "**FAIL**"


def markdown(meta, res, s, args):
    out = bench.header_lines("Podium scale benchmark (issue 6, bar 2)", meta)
    w = out.append
    pm = meta["podium"]
    w("- podium: `%s` (%s, %s build, binary of %s, sha256 %s; work tree at start: %s); "
      "recording on, segment_duration 2.0, window 6, SRT latency %d ms"
      % (pm["binary"], pm["version"], pm["build_type"], pm["built"], pm["sha256"][:12],
         pm["tree"], args.latency))
    w("- media: `%s` %.1f s, %.2f Mbit/s (%s), looped seamlessly by the feeder"
      % (rel(meta["media"]["path"]), meta["media"]["duration_s"],
         meta["media"]["bit_rate"] / 1e6, "+".join(meta["media"]["streams"])))
    w("- feeder (one process for all sessions, measured separately): `%s`"
      % res.get("feeder_cmd", "?"))
    w("- %d sessions x %g media-s each, starts spread over %g s; each live playlist polled "
      "every %g s (round-robin, one keep-alive connection, %s GETs); late = listed more "
      "than EXTINF + %g s after the previous segment, judged on the poll bounds"
      % (args.streams, args.seconds, args.stagger, args.poll,
         res.get("playlist_gets", "?"), args.tolerance))
    w("- CPU = utime+stime of all threads, measured while every session is live "
      "(%s s of the feed, from %s s); figures: median [min-max] (n) over sessions"
      % (res.get("wall_s", "?"), (res.get("window_s") or ["?"])[0]))
    w("")
    if not s.get("segments_per_session"):
        w("No result: %s" % "; ".join(res["problems"]))
        return "\n".join(out)
    n = args.streams
    fed_segs = args.seconds / GOP_S
    frames = round(args.seconds * bench.MEDIA["fps"])
    w("| figure | value | target | |")
    w("| --- | --: | --: | --- |")
    w("| sessions whose live playlist listed segments | %d / %d | %d | %s |"
      % (s["sessions_with_segments"], n, n, yes(s["sessions_with_segments"] == n)))
    w("| live segments seen per session | %s | ~%.0f | |"
      % (bench.fmt_stat(s["segments_per_session"], 0), fed_segs))
    w("| **segments lost** (sequence numbers never listed) | **%d** in %d sessions | 0 | %s |"
      % (s["lost"], s["lost_sessions"], yes(s["lost"] == 0)))
    w("| **segments late** (> EXTINF + %g s after the previous) | **%d** in %d sessions | 0 | %s |"
      % (args.tolerance, s["late"], s["late_sessions"], yes(s["late"] == 0)))
    w("| largest gap between two segments minus EXTINF, per session (s; includes up to "
      "%g s of poll resolution; the last segment, cut at hang-up, excluded) | %s | | |"
      % (args.poll, bench.fmt_stat(s["gap_over"], 2)))
    w("| DISCONTINUITY / ENDLIST while live | %d / %d | 0 / 0 | %s |"
      % (s["disc"], s["endlist_live"], yes(s["disc"] == 0 and s["endlist_live"] == 0)))
    w("| media received by the relay / sent, per session (API bytes_in) | %s | 1.0000 | %s |"
      % (bench.fmt_stat(s["bytes_in_ratio"], 4), yes(not s["media_loss"])))
    w("| **recordings complete** (no media lost on the way in; ENDLIST, every file, "
      "EXTINF sum, every live segment recorded) | **%d / %d** | %d | %s |"
      % (s["rec_ok"], n, n, yes(s["rec_ok"] == n)))
    w("| recording EXTINF sum (s) | %s | %g +- %g | |"
      % (bench.fmt_stat(s["rec_extinf"], 2), args.seconds, GOP_S))
    w("| ffprobe reads the recording end to end: all %d video frames (+- one GOP), "
      "no error output | %d / %d | %d | %s |"
      % (frames, s["probe_ok"], len(res.get("ffprobe", [])), len(res.get("ffprobe", [])),
         yes(s["probe_ok"] == len(res.get("ffprobe", [])))))
    if "podium_cpu_per_stream_min" in s:
        w("| Podium CPU-s per stream-minute | %.3f | (bar 1: <= 0.13) | |"
          % s["podium_cpu_per_stream_min"])
        w("| Podium CPU, cores | %.2f | | |" % (res["podium_cpu_s"] / res["wall_s"]))
    if "hwm_mib" in s:
        w("| Podium peak memory (VmRSS + segment file pages it does not show, every %.0f s) "
          "MiB / per session above idle; VmHWM MiB | %.0f / %.2f; %.0f | | |"
          % (RSS_PERIOD, res["rss_peak_kib"] / 1024, s["rss_per_session_mib"], s["hwm_mib"]))
    if "feeder_cpu_per_stream_min" in s:
        w("| feeder CPU-s per stream-minute (cores) | %.3f (%.2f) | | |"
          % (s["feeder_cpu_per_stream_min"], res["feeder_cpu_s"] / res["wall_s"]))
    w("| whole machine busy, cores of %d | %.2f | | |"
      % (meta["host"]["nproc"], res.get("machine_busy_cores", float("nan"))))
    w("| UDP datagrams dropped on Podium's SRT socket (receive buffer full) | %s | 0 | |"
      % res.get("udp_drops_podium_socket"))
    steps = res.get("udp_drop_steps") or []
    hit = [x for x in steps if x[1] > 0]
    if steps:
        worst = sorted(hit, key=lambda x: -x[1])[:5]
        w("| when: %g s steps with drops / all; the worst (s into the feed: datagrams, "
          "machine cores, Podium cores) | %d / %d%s | | |"
          % (STEP_PERIOD, len(hit), len(steps),
             "; " + ", ".join("%.1f s: %d (%.2f, %.2f)" % tuple(x) for x in
                              sorted(worst)) if worst else ""))
    w("| SRT packets lost / dropped (API, last poll while live, all sessions) | %d / %d | | |"
      % (s["srt_lost"], s["srt_dropped"]))
    f = res.get("feeder") or {}
    if f:
        w("| feeder: payloads sent, late (> %s ms), max lateness ms, send errors, "
          "SRT retransmitted, SRT too-late drops | %s, %s, %s, %s, %s, %s | | |"
          % (f.get("late_ms"), f.get("packets"), f.get("late"), f.get("max_late_ms"),
             f.get("send_errors"), f.get("srt_retrans"), f.get("srt_snd_drop")))
    lv = res.get("log_levels", {})
    w("| Podium log lines warn / error | %d / %d | | |"
      % (sum(lv.get("warn", {}).values()),
         sum(lv.get("error", {}).values()) + sum(lv.get("fatal", {}).values())))
    w("| **bar 2** | | | %s |" % ("**pass**" if s["pass"] else "**FAIL**"))
    w("")
    th = res.get("podium_threads")
    if th:
        w("Podium threads by CPU over the feed (cores): " + ", ".join(
            "%s x%d %.2f" % (c, k, v) for c, k, v in th["by_name"][:6])
          + "; busiest: " + ", ".join("%s[%d] %.2f" % (c, t, v) for t, c, v in th["busiest"][:4])
          + " (%d threads)." % th["threads"])
        w("")
    notes = []
    for level in ("error", "fatal", "warn"):
        for msg, k in sorted(lv.get(level, {}).items(), key=lambda x: -x[1])[:5]:
            notes.append("- log %s x%d: `%s`" % (level, k, msg))
    for sid, x in list(res.get("live", {}).items()):
        if x["lost"] or x["late"] or x["discontinuities"]:
            if len(notes) < 25:
                notes.append("- %s live: lost %s, late [seq, min gap, max gap, EXTINF] %s, "
                             "discontinuity before %s" % (sid, x["lost"][:6], x["late"][:3],
                                                          x["discontinuities"][:4]))
    for sid, p in list(s.get("rec_problems", {}).items())[:10]:
        notes.append("- %s recording: %s" % (sid, "; ".join(p)))
    if s.get("media_loss"):
        worst = sorted(s["media_loss"].items(), key=lambda x: -x[1])[:3]
        notes.append("- media lost before the relay (bytes sent - bytes_in) in %d sessions, "
                     "worst: %s" % (len(s["media_loss"]), ", ".join(
                         "%s %.1f%%" % (sid, 100.0 * b / s["bytes_sent_per_session"])
                         for sid, b in worst)))
    for p in res.get("ffprobe", []):
        notes.append("- ffprobe %s: rc %s, duration %s, packets %s, %d stderr lines%s"
                     % (p["sid"], p["rc"], p.get("duration"), p.get("streams"),
                        p["stderr_lines"], (" (first: `%s`)" % p["stderr_first"])
                        if p["stderr_first"] else ""))
    for p in res["problems"]:
        notes.append("- " + p)
    if meta.get("interrupted"):
        notes.append("- interrupted")
    if notes:
        w("Notes:")
        w("")
        out.extend(notes)
        w("")
    w("Raw numbers: `%s`; logs: `%s/`" % (rel(meta["json"]), meta["logs"]))
    return "\n".join(out)


def main(argv):
    args = scale_args(argv)
    now, stamp, json_path, final_logs = bench.run_paths("scale", args.json)
    src_bin = bench.ensure_built(args.podium, "--podium")
    args.feeder_src = bench.ensure_built(args.feeder, "--feeder")
    args.media_src, minfo = bench.ensure_media()
    minfo["path"] = args.media_src
    work = tempfile.mkdtemp(prefix="bench-scale-", dir=args.tmpdir)
    logdir = os.path.join(work, "logs")
    os.makedirs(logdir)
    args.media = bench.snapshot(args.media_src, os.path.join(work, os.path.basename(args.media_src)))
    args.podium_bin = os.path.join(work, "podium")
    shutil.copy2(src_bin, args.podium_bin)
    args.feeder_bin = os.path.join(work, "srt_feeder")
    shutil.copy2(args.feeder_src, args.feeder_bin)
    meta = {"date": now.isoformat(timespec="seconds"),
            "command": os.environ.get("PODIUM_BENCH_CMDLINE")
            or bench.cmdline([sys.argv[0], "scale"] + argv),
            "params": {k: getattr(args, k) for k in ("streams", "seconds", "poll", "tolerance",
                                                     "stagger", "separate_ports", "probe", "pace")},
            "host": bench.host_info(),
            "podium": dict(bench.binary_meta(src_bin), version=bench.podium_version(args.podium_bin)),
            "feeder": bench.binary_meta(args.feeder_src),
            "media": minfo, "json": json_path, "logs": rel(final_logs)}
    res = {"valid": True, "problems": []}
    procs = bench.Procs()
    log("%d sessions x %.0f s (~%.1f min); logs will be in %s"
        % (args.streams, args.seconds, (args.seconds + args.stagger + 30) / 60, meta["logs"]))
    try:
        run(args, res, work, logdir, procs)
    except RuntimeError as e:
        res["valid"] = False
        res["problems"].append(str(e))
    except (KeyboardInterrupt, bench.Interrupted) as e:
        log("interrupted (%s)" % (e or "SIGINT"))
        meta["interrupted"] = True
        res["valid"] = False
    finally:
        procs.stop_all()
    meta["host"]["loadavg_end"] = bench.loadavg()
    s = summarize(res, args)
    bench.publish_results(json_path, {"meta": meta, "summary": s, "run": res},
                          markdown(meta, res, s, args), logdir, final_logs, work, args.keep)
    return 0 if s.get("pass") and not meta.get("interrupted") else 1
