#!/usr/bin/env python3
"""Podium benchmarks (python3 stdlib only).  Called by scripts/bench.

ingest: for each N in --streams, N real-time SRT publishers feed
  (a) Podium: one `build/podium -c CONFIG` process with N sessions, and
  (b) the peer: N `ffmpeg -i srt://...?mode=listener -c copy -f hls` processes,
alternately (podium run 1, peer run 1, podium run 2, ...).  Measured on the
server side only: CPU seconds (utime+stime from /proc/PID/stat, all threads,
sampled when the feeders start and `seconds` later) and peak RSS (Podium:
VmHWM; peer: peak of the sum of the N VmRSS, sampled every 0.5 s).

Feeders (not measured) are identical for both: one
`ffmpeg -re -stream_loop -1 -i MEDIA -c copy -f mpegts srt://...` per stream,
where MEDIA is a pre-generated ~60 s 1280x720 30 fps H.264 3.3 Mbps CBR
(2 s GOP, no B-frames) + AAC 128k MPEG-TS file cached in build/bench-media/.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build")
MEDIA_DIR = os.path.join(BUILD, "bench-media")
RESULTS_DIR = os.path.join(BUILD, "bench-results")
CLK_TCK = os.sysconf("SC_CLK_TCK")

SRT_LATENCY_US = 120000
SAMPLE_PERIOD = 0.5
PODIUM_START_DEADLINE = 15.0
LISTENER_DEADLINE = 10.0
PODIUM_STOP_GRACE = 5.0  # DESIGN.md: SIGTERM -> exit 0 within 5 s

MEDIA = {
    "seconds": 60,
    "size": "1280x720",
    "fps": 30,
    "video_kbps": 3300,
    "gop": 60,
    "audio_kbps": 128,
}


def rel(path):
    """path relative to the repo when inside it, else absolute."""
    path = os.path.abspath(path)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted("signal %d" % signum)


def cmdline(argv):
    return " ".join(shlex.quote(a) for a in argv)


# --------------------------------------------------------------------------
# /proc sampling

def read_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in clock ticks, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime=14 stime=15 cutime=16 cstime=17
    return (int(fields[1]), int(fields[11]) + int(fields[12]),
            int(fields[13]) + int(fields[14]))


def read_status_kib(pid, keys=("VmRSS", "VmHWM")):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in keys:
                    out[k] = int(v.split()[0])
    except OSError:
        return None
    return out


def machine_busy_ticks():
    """Busy (non-idle, non-iowait) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]


def descendants(root_pids):
    """root pids plus every live descendant."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = read_stat(int(d))
        if st:
            children.setdefault(st[0], []).append(int(d))
    out, todo = [], list(root_pids)
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_ticks(root_pids):
    """utime+stime of the process trees (all threads, including exited
    threads, and reaped children through cutime/cstime of the roots)."""
    total = 0
    for p in descendants(root_pids):
        st = read_stat(p)
        if st:
            total += st[1] + (st[2] if p in root_pids else 0)
    return total


def rss_kib(pids):
    tot, per = 0, {}
    for p in descendants(pids):
        st = read_status_kib(p)
        if st and "VmRSS" in st:
            per[p] = st["VmRSS"]
            tot += st["VmRSS"]
    return tot, per


def hwm_kib(pids):
    out = {}
    for p in pids:
        st = read_status_kib(p)
        if st and "VmHWM" in st:
            out[p] = st["VmHWM"]
    return out


def udp_bound(port):
    """True if something listens on UDP 127.0.0.1:port (or any addr)."""
    want = ":%04X" % port
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    local = line.split()[1]
                    if local.endswith(want):
                        return True
        except OSError:
            pass
    return False


def free_udp_ports(n):
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


# --------------------------------------------------------------------------
# processes: every child is started here and stopped by its PID

class Procs:
    def __init__(self):
        self.procs = []

    def start(self, argv, log_path, name):
        f = open(log_path, "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT, start_new_session=True,
                             cwd=os.path.dirname(log_path))
        f.close()
        p.bench_name = name
        p.bench_log = log_path
        self.procs.append(p)
        return p

    @staticmethod
    def stop(procs, grace):
        """SIGTERM each (by PID), wait up to grace s, then SIGKILL.
        Returns {pid: (returncode, seconds_to_exit, killed)}."""
        res = {}
        t0 = time.monotonic()
        for p in procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in procs:
            left = max(0.0, grace - (time.monotonic() - t0))
            killed = False
            try:
                p.wait(timeout=left)
            except subprocess.TimeoutExpired:
                killed = True
                p.kill()
                p.wait()
            res[p.pid] = (p.returncode, round(time.monotonic() - t0, 2), killed)
        return res

    def stop_all(self, grace=3.0):
        alive = [p for p in self.procs if p.poll() is None]
        if alive:
            self.stop(alive, grace)
        self.procs = []


# --------------------------------------------------------------------------
# media

def media_path():
    m = MEDIA
    return os.path.join(MEDIA_DIR, "testsrc2-%s-%dfps-h264-%dk-gop%d-aac%dk-%ds.ts"
                        % (m["size"], m["fps"], m["video_kbps"], m["gop"],
                           m["audio_kbps"], m["seconds"]))


def probe(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_format",
                        "-show_streams", path], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    try:
        j = json.loads(r.stdout)
        return {
            "bytes": int(j["format"]["size"]),
            "duration_s": float(j["format"]["duration"]),
            "bit_rate": int(j["format"]["bit_rate"]),
            "streams": [s.get("codec_name") for s in j["streams"]],
        }
    except (KeyError, ValueError):
        return None


def ensure_media():
    path = media_path()
    info = probe(path) if os.path.exists(path) else None
    if info and info["streams"] == ["h264", "aac"] and info["duration_s"] > MEDIA["seconds"] - 1:
        return path, info
    os.makedirs(MEDIA_DIR, exist_ok=True)
    m = MEDIA
    tmp = path + ".tmp.ts"
    kb = "%dk" % m["video_kbps"]
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=%s:rate=%d" % (m["size"], m["fps"]),
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(m["seconds"]), "-map", "0:v", "-map", "1:a",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-b:v", kb, "-minrate", kb, "-maxrate", kb, "-bufsize", kb,
            "-x264-params", "nal-hrd=cbr",
            "-g", str(m["gop"]), "-keyint_min", str(m["gop"]), "-sc_threshold", "0",
            "-bf", "0",
            "-c:a", "aac", "-b:a", "%dk" % m["audio_kbps"], "-ac", "2",
            "-f", "mpegts", tmp]
    log("generating bench media (once): " + cmdline(argv))
    subprocess.run(argv, check=True)
    os.replace(tmp, path)
    info = probe(path)
    if not info:
        raise SystemExit("bench: generated media does not probe: " + path)
    return path, info


# --------------------------------------------------------------------------
# podium

def podium_bin(args):
    path = os.path.abspath(args.podium)
    if os.access(path, os.X_OK):
        return path
    if path != os.path.join(BUILD, "podium"):
        raise SystemExit("bench: --podium %s is not executable" % path)
    if not os.path.exists(os.path.join(ROOT, "CMakeLists.txt")):
        raise SystemExit("bench: build/podium missing and no CMakeLists.txt yet "
                         "(use --only peer to run the peer side alone)")
    log("build/podium missing: building it (Release)")
    subprocess.run([os.path.join(ROOT, "scripts", "deps"), "build"], check=True)
    subprocess.run(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release"],
                   check=True, stdout=sys.stderr)
    subprocess.run(["cmake", "--build", BUILD, "-j2"], check=True, stdout=sys.stderr)
    if not os.access(path, os.X_OK):
        raise SystemExit("bench: build finished but %s does not exist" % path)
    return path


def passphrase(k):
    return "bench-pass-%04d" % k


def podium_config(n, data_dir):
    lines = ["[server]",
             "srt_listen  = 127.0.0.1:0",
             "http_listen = 127.0.0.1:0",
             "data_dir    = %s" % data_dir,
             "[hls]",
             "segment_duration = 2.0",
             "window = 6",
             "[srt]",
             "latency_ms = %d" % (SRT_LATENCY_US // 1000)]
    for k in range(1, n + 1):
        lines += ["[session s%d]" % k,
                  "title = bench %d" % k,
                  "passphrase = %s" % passphrase(k)]
    return "\n".join(lines) + "\n"


LISTEN_RE = re.compile(r'msg="?listening"?')
FIELD_RE = re.compile(r'(\w+)=("[^"]*"|\S+)')


def podium_ports(log_path, proc, deadline):
    """Poll Podium's stderr for the listening lines: (srt_port, http_port)."""
    ports = {}
    while time.monotonic() < deadline:
        try:
            with open(log_path, errors="replace") as f:
                for line in f:
                    if not LISTEN_RE.search(line):
                        continue
                    kv = {k: v.strip('"') for k, v in FIELD_RE.findall(line)}
                    if kv.get("proto") in ("srt", "http") and ":" in kv.get("addr", ""):
                        ports[kv["proto"]] = int(kv["addr"].rsplit(":", 1)[1])
        except OSError:
            pass
        if "srt" in ports and "http" in ports:
            return ports["srt"], ports["http"]
        if proc.poll() is not None:
            raise RuntimeError("podium exited (%s) before listening" % proc.returncode)
        time.sleep(0.1)
    raise RuntimeError("podium did not log both listening lines within %.0f s (got %s)"
                       % (PODIUM_START_DEADLINE, ports))


def find_key(obj, key):
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            r = find_key(v, key)
            if r is not None:
                return r
    elif isinstance(obj, list):
        for v in obj:
            r = find_key(v, key)
            if r is not None:
                return r
    return None


def http_json(url, timeout=3.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode("utf-8", "replace"))


def log_lines(path, pattern, limit=8):
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if re.search(pattern, line):
                    out.append(line.rstrip("\n"))
    except OSError:
        pass
    return out[:limit], len(out)


# --------------------------------------------------------------------------
# one run

def du(path):
    """Bytes in the files under path right now."""
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_size
            except OSError:
                pass
    return total


def playlist_produced(path):
    """Segments produced so far per a live playlist: media sequence + entries."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
    return (int(m.group(1)) if m else 0) + text.count("#EXTINF")


def feeder_argv(media, url):
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
            "-re", "-stream_loop", "-1", "-i", media,
            "-map", "0", "-c", "copy", "-f", "mpegts", url]


def feed_url(port, k, encrypt=True):
    url = "srt://127.0.0.1:%d?mode=caller&latency=%d&streamid=#!::r=s%d,m=publish" % (
        port, SRT_LATENCY_US, k)
    return url + ("&passphrase=" + passphrase(k) if encrypt else "")


def peer_argv(port, out_dir, k, args):
    url = "srt://127.0.0.1:%d?mode=listener&latency=%d" % (port, SRT_LATENCY_US)
    if not args.peer_plain:
        url += "&passphrase=" + passphrase(k)
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", url,
            "-c", "copy", "-f", "hls", "-hls_time", "2", "-hls_list_size", "6",
            "-hls_flags", "delete_segments", os.path.join(out_dir, "index.m3u8")]


def measure(server_pids, feeders, seconds):
    """Start feeders, sample CPU at start and end and RSS every 0.5 s.
    feeders: list of callables that start one feeder each (returning Popen)."""
    rss_peak, rss_peak_per = 0, {}
    load0 = loadavg()
    m0 = machine_busy_ticks()
    c0 = cpu_ticks(server_pids)
    t0 = time.monotonic()
    fprocs = [start() for start in feeders]
    t_end = t0 + seconds
    samples, series = 0, []
    while True:
        tot, per = rss_kib(server_pids)
        if samples % 10 == 0:
            series.append([round(time.monotonic() - t0, 1), tot])
        samples += 1
        if tot > rss_peak:
            rss_peak = tot
        for p, v in per.items():
            rss_peak_per[p] = max(rss_peak_per.get(p, 0), v)
        now = time.monotonic()
        if now >= t_end:
            break
        time.sleep(min(SAMPLE_PERIOD, t_end - now))
    c1 = cpu_ticks(server_pids)
    t1 = time.monotonic()
    m1 = machine_busy_ticks()
    hwm = hwm_kib(server_pids)
    return {
        "wall_s": round(t1 - t0, 3),
        "cpu_s": (c1 - c0) / CLK_TCK,
        "rss_sum_peak_kib": rss_peak,
        "rss_peak_per_proc_kib": sorted(rss_peak_per.values()),
        "hwm_kib": sorted(hwm.values()),
        "hwm_sum_kib": sum(hwm.values()),
        "rss_samples": samples,
        "rss_sum_series_kib": series,  # [seconds since start, sum of VmRSS] every 5 s
        "loadavg_start": load0,
        # whole machine, all processes (servers, feeders and anything else)
        "machine_busy_cores": round((m1 - m0) / CLK_TCK / (t1 - t0), 3),
    }, fprocs


def first_line(path):
    try:
        with open(path, errors="replace") as f:
            return f.readline().strip()
    except OSError:
        return ""


def feeder_state(fprocs):
    dead = [(p.bench_name, p.returncode, first_line(p.bench_log))
            for p in fprocs if p.poll() is not None]
    cpu = cpu_ticks([p.pid for p in fprocs if p.poll() is None]) / CLK_TCK
    return dead, cpu


def run_podium(n, r, args, media, procs, work):
    res = {"kind": "podium", "n": n, "run": r, "valid": True, "problems": []}
    tmp = tempfile.mkdtemp(prefix="podium-n%d-r%d-" % (n, r), dir=work)
    logdir = args.logdir
    try:
        data_dir = os.path.join(tmp, "data")
        os.makedirs(data_dir)
        conf = os.path.join(tmp, "podium.ini")
        with open(conf, "w") as f:
            f.write(podium_config(n, data_dir))
        plog = os.path.join(logdir, "podium-n%d-r%d.log" % (n, r))
        res["log"] = rel(os.path.join(args.final_logdir, os.path.basename(plog)))
        server = procs.start([args.podium_bin, "-c", conf], plog, "podium")
        srt_port, http_port = podium_ports(plog, server,
                                           time.monotonic() + PODIUM_START_DEADLINE)
        res["ports"] = {"srt": srt_port, "http": http_port}

        def starter(k):
            return lambda: procs.start(
                feeder_argv(media, feed_url(srt_port, k)),
                os.path.join(logdir, "feeder-podium-n%d-r%d-s%d.log" % (n, r, k)),
                "feeder s%d" % k)

        m, fprocs = measure([server.pid], [starter(k) for k in range(1, n + 1)],
                            args.seconds)
        res.update(m)
        res["peak_rss_kib"] = m["hwm_sum_kib"]  # VmHWM of the one process
        dead, fcpu = feeder_state(fprocs)
        res["feeders_cpu_s"] = fcpu
        if dead:
            res["valid"] = False
            res["problems"].append("feeders exited early: %s" % dead)
        if server.poll() is not None:
            res["valid"] = False
            res["problems"].append("podium exited during the run (rc %s)" % server.returncode)
        else:
            segs, api = {}, {}
            for k in range(1, n + 1):
                url = "http://127.0.0.1:%d/api/v1/sessions/s%d" % (http_port, k)
                try:
                    j = http_json(url)
                    api["s%d" % k] = j
                    v = find_key(j, "segments")
                except (OSError, ValueError, urllib.error.URLError) as e:
                    v = "error: %s" % e
                if isinstance(v, list):
                    v = len(v)
                segs["s%d" % k] = v
                if not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0):
                    res["valid"] = False
                    res["problems"].append("s%d: segments=%r (%s)" % (k, v, url))
            res["segments"] = segs
            res["api"] = api
            lost = sum((find_key(j, "packets_lost") or 0) + (find_key(j, "packets_dropped") or 0)
                       for j in api.values() if isinstance(j, dict))
            if lost:
                res["problems"].append("SRT packets lost+dropped (API): %d" % lost)
        res["disk_bytes"] = du(data_dir)
        Procs.stop(fprocs, 3.0)
        stop = Procs.stop([server], PODIUM_STOP_GRACE)[server.pid]
        res["podium_exit"] = {"rc": stop[0], "seconds": stop[1], "killed": stop[2]}
        if stop[2]:
            res["problems"].append("podium did not exit within %.0f s of SIGTERM "
                                   "(SIGKILLed)" % PODIUM_STOP_GRACE)
        elif stop[0] != 0:
            res["problems"].append("podium exit status %s after SIGTERM" % stop[0])
        res["log_errors"], res["log_errors_count"] = log_lines(plog, r"level=(error|fatal)")
        res["log_warnings"], res["log_warnings_count"] = log_lines(plog, r"level=warn")
    except RuntimeError as e:
        res["valid"] = False
        res["problems"].append(str(e))
    finally:
        procs.stop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return res


def run_peer(n, r, args, media, procs, work):
    res = {"kind": "peer", "n": n, "run": r, "valid": True, "problems": []}
    tmp = tempfile.mkdtemp(prefix="peer-n%d-r%d-" % (n, r), dir=work)
    logdir = args.logdir
    try:
        ports = free_udp_ports(n)
        servers, outs = [], []
        for k in range(1, n + 1):
            out = os.path.join(tmp, "s%d" % k)
            os.makedirs(out)
            outs.append(out)
            servers.append(procs.start(
                peer_argv(ports[k - 1], out, k, args),
                os.path.join(logdir, "peer-n%d-r%d-s%d.log" % (n, r, k)), "peer s%d" % k))
        deadline = time.monotonic() + LISTENER_DEADLINE
        for p, port in zip(servers, ports):
            while not udp_bound(port):
                if p.poll() is not None:
                    raise RuntimeError("peer %s exited (%s) before listening"
                                       % (p.bench_name, p.returncode))
                if time.monotonic() > deadline:
                    raise RuntimeError("peer %s not listening on udp %d" % (p.bench_name, port))
                time.sleep(0.05)

        def starter(k):
            return lambda: procs.start(
                feeder_argv(media, feed_url(ports[k - 1], k, not args.peer_plain)),
                os.path.join(logdir, "feeder-peer-n%d-r%d-s%d.log" % (n, r, k)),
                "feeder s%d" % k)

        m, fprocs = measure([p.pid for p in servers],
                            [starter(k) for k in range(1, n + 1)], args.seconds)
        res.update(m)
        res["peak_rss_kib"] = m["rss_sum_peak_kib"]  # peak of the sum of N VmRSS
        dead, fcpu = feeder_state(fprocs)
        res["feeders_cpu_s"] = fcpu
        if dead:
            res["valid"] = False
            res["problems"].append("feeders exited early: %s" % dead)
        gone = [(p.bench_name, p.returncode) for p in servers if p.poll() is not None]
        if gone:
            res["valid"] = False
            res["problems"].append("peer ffmpeg exited during the run: %s" % gone)
        segs, produced = {}, {}
        for k, out in enumerate(outs, 1):
            c = len([f for f in os.listdir(out) if f.endswith(".ts")])
            segs["s%d" % k] = c
            produced["s%d" % k] = playlist_produced(os.path.join(out, "index.m3u8"))
            if c == 0:
                res["valid"] = False
                res["problems"].append("s%d: no .ts in %s" % (k, out))
        res["segments"] = segs
        res["segments_produced"] = produced
        res["disk_bytes"] = du(tmp)
        Procs.stop(fprocs, 3.0)
        Procs.stop(servers, 5.0)
    except RuntimeError as e:
        res["valid"] = False
        res["problems"].append(str(e))
    finally:
        procs.stop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return res


# --------------------------------------------------------------------------
# report

def fmt_stat(vals, digits):
    if not vals:
        return "n/a (0)"
    f = "%%.%df" % digits
    return "%s [%s-%s] (%d)" % (f % statistics.median(vals), f % min(vals),
                                f % max(vals), len(vals))


def fmt_ratio(a, b):
    if not a or not b:
        return "n/a"
    return "%.2f" % (statistics.median(a) / statistics.median(b))


def cpu_per_stream_min(run):
    return run["cpu_s"] / (run["n"] * run["wall_s"] / 60.0)


def summarize(runs, streams):
    rows = []
    for n in streams:
        pod = [x for x in runs if x["n"] == n and x["kind"] == "podium" and x["valid"]]
        peer = [x for x in runs if x["n"] == n and x["kind"] == "peer" and x["valid"]]
        rows.append({
            "n": n,
            "podium_cpu": [cpu_per_stream_min(x) for x in pod],
            "peer_cpu": [cpu_per_stream_min(x) for x in peer],
            "podium_rss": [x["peak_rss_kib"] / 1024.0 for x in pod],
            "peer_rss": [x["peak_rss_kib"] / 1024.0 for x in peer],
        })
    return rows


def markdown(meta, runs, rows):
    out = []
    w = out.append
    w("# Podium ingest benchmark")
    w("")
    w("- date: %s" % meta["date"])
    w("- command: `%s`" % meta["command"])
    w("- host: %s, %d CPUs (%s), kernel %s; load average before %s, after %s"
      % (meta["host"]["hostname"], meta["host"]["nproc"], meta["host"]["cpu"],
         meta["host"]["kernel"], meta["host"]["loadavg_start"],
         meta["host"].get("loadavg_end", "?")))
    busy = [x["machine_busy_cores"] for x in runs if "machine_busy_cores" in x]
    if busy:
        w("- whole machine busy during the measured windows (all processes: servers, "
          "feeders, other work): median %.2f [%.2f-%.2f] of %d cores"
          % (statistics.median(busy), min(busy), max(busy), meta["host"]["nproc"]))
    pm = meta["podium"]
    w("- podium: `%s` (%s, %s build, binary of %s, sha256 %s; work tree at start: %s)"
      % (pm["binary"], pm["version"], pm["build_type"], pm.get("built"),
         (pm.get("sha256") or "-")[:12], pm.get("tree", "?")))
    w("- media: `%s` %.1f s, %.2f Mbit/s (%s), looped"
      % (rel(meta["media"]["path"]), meta["media"]["duration_s"],
         meta["media"]["bit_rate"] / 1e6, "+".join(meta["media"]["streams"])))
    w("- feeder, one per stream (identical for both%s, not measured): `%s`"
      % (" except no passphrase for the peer" if meta["params"]["peer_plain"] else "",
         meta["feeder_cmd"]))
    w("- peer, one per stream: `%s`" % meta["peer_cmd"])
    w("- %d s per run, runs alternate podium/peer; CPU = utime+stime of the server "
      "process(es), all threads; Podium RSS = VmHWM; ffmpeg RSS = peak of the sum "
      "of the N VmRSS sampled every %.1f s" % (meta["params"]["seconds"], SAMPLE_PERIOD))
    w("- figures: median [min-max] (valid runs)")
    w("")
    w("| N | Podium CPU-s / stream-min | ffmpeg CPU-s / stream-min | ratio "
      "| Podium peak RSS MiB | ffmpeg peak RSS MiB (sum) | ratio |")
    w("| --: | --: | --: | --: | --: | --: | --: |")
    for row in rows:
        w("| %d | %s | %s | %s | %s | %s | %s |" % (
            row["n"], fmt_stat(row["podium_cpu"], 3), fmt_stat(row["peer_cpu"], 3),
            fmt_ratio(row["podium_cpu"], row["peer_cpu"]),
            fmt_stat(row["podium_rss"], 1), fmt_stat(row["peer_rss"], 1),
            fmt_ratio(row["podium_rss"], row["peer_rss"])))
    w("")
    disk = []
    for n in sorted({x["n"] for x in runs}):
        parts = []
        for kind, label in (("podium", "Podium"), ("peer", "ffmpeg")):
            v = [x["disk_bytes"] / 1e6 for x in runs
                 if x["n"] == n and x["kind"] == kind and x["valid"] and "disk_bytes" in x]
            if v:
                parts.append("%s %.1f MB" % (label, statistics.median(v)))
        if parts:
            disk.append("N=%d: %s" % (n, ", ".join(parts)))
    if disk:
        w("Files on disk at the end of a run (median; Podium: data_dir, ffmpeg: "
          "its HLS dirs): " + "; ".join(disk) + ".")
        w("")
    notes = []
    for x in runs:
        tag = "%s N=%d run %d" % (x["kind"], x["n"], x["run"])
        if not x["valid"]:
            notes.append("- INVALID %s: %s%s" % (tag, "; ".join(x["problems"]),
                                                 " (log: %s)" % x["log"] if x.get("log") else ""))
        elif x["problems"]:
            notes.append("- %s: %s" % (tag, "; ".join(x["problems"])))
        if x.get("log_errors_count"):
            notes.append("- %s: %d error line(s) in %s, first: `%s`"
                         % (tag, x["log_errors_count"], x.get("log"), x["log_errors"][0]))
    if notes:
        w("Notes:")
        w("")
        out.extend(notes)
        w("")
    w("Raw numbers: `%s`" % rel(meta["json"]))
    return "\n".join(out)


def host_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"hostname": platform.node(), "nproc": os.cpu_count(), "cpu": cpu,
            "kernel": platform.release(), "loadavg_start": loadavg()}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def build_type(path):
    """CMAKE_BUILD_TYPE of the build dir holding the binary, if any."""
    try:
        with open(os.path.join(os.path.dirname(path), "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    return line.split("=", 1)[1].strip() or "(none)"
    except (OSError, TypeError):
        pass
    return "?"


def git_describe():
    try:
        r = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def podium_version(path):
    if not path:
        return "not run"
    try:
        r = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5)
        return (r.stdout or r.stderr).strip().splitlines()[0] if (r.stdout or r.stderr) else "?"
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "?"


# --------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(prog="scripts/bench ingest",
                                 description="Podium vs one ffmpeg per stream: "
                                 "CPU and peak RSS for N real-time SRT publishers.")
    ap.add_argument("--streams", help="comma-separated N values (default 1,4,16)")
    ap.add_argument("--seconds", type=float, help="measured seconds per run (default 60)")
    ap.add_argument("--runs", type=int, help="runs per side and N (default 3)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: --seconds 15 --runs 1 --streams 1,4 "
                    "(explicit options still win)")
    ap.add_argument("--only", choices=("podium", "peer"), help="run one side only")
    ap.add_argument("--podium", default=os.path.join(BUILD, "podium"),
                    help="podium binary (default build/podium; built if missing)")
    ap.add_argument("--peer-plain", action="store_true",
                    help="peer listeners without SRT encryption (default: the "
                    "same per-stream passphrase as Podium's sessions, so both "
                    "sides decrypt the same AES stream)")
    ap.add_argument("--tmpdir", default=None, help="where the work directory goes (default $TMPDIR or /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (podium data, peer HLS output, logs)")
    ap.add_argument("--json", help="result file (default build/bench-results/ingest-<timestamp>.json)")
    a = ap.parse_args(argv)
    q = a.quick
    a.streams = [int(s) for s in (a.streams or ("1,4" if q else "1,4,16")).split(",") if s]
    a.seconds = a.seconds if a.seconds is not None else (15.0 if q else 60.0)
    a.runs = a.runs if a.runs is not None else (1 if q else 3)
    if not a.streams or min(a.streams) < 1 or a.runs < 1 or a.seconds <= 0:
        ap.error("streams, runs and seconds must be positive")
    return a


def snapshot(src, dst):
    """Hard link (or copy) src to dst, so rebuilding or wiping build/ during a
    long benchmark changes nothing under it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def sha256(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def save_results(meta, runs, rows, work_logs):
    """(Re)create the result directory and write JSON and logs into it."""
    os.makedirs(os.path.dirname(meta["json"]), exist_ok=True)
    with open(meta["json"], "w") as f:
        json.dump({"meta": meta, "summary": rows, "runs": runs}, f, indent=1)
    final = os.path.join(ROOT, meta["logs"])
    shutil.copytree(work_logs, final, dirs_exist_ok=True)


def ingest(argv):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    now = datetime.datetime.now().astimezone()
    stamp = now.strftime("%Y%m%d-%H%M%S")
    json_path = os.path.abspath(args.json or os.path.join(RESULTS_DIR, "ingest-%s.json" % stamp))
    final_logs = os.path.join(RESULTS_DIR, "ingest-%s-logs" % stamp)

    src_bin = None if args.only == "peer" else podium_bin(args)
    media_src, minfo = ensure_media()
    minfo["path"] = media_src
    work = tempfile.mkdtemp(prefix="bench-ingest-", dir=args.tmpdir)
    runs, procs, meta = [], Procs(), {}
    try:
        args.logdir = os.path.join(work, "logs")
        args.final_logdir = final_logs
        os.makedirs(args.logdir)
        media = snapshot(media_src, os.path.join(work, os.path.basename(media_src)))
        args.podium_bin = None
        if src_bin:
            args.podium_bin = os.path.join(work, "podium")
            shutil.copy2(src_bin, args.podium_bin)
        meta.update({
            "date": now.isoformat(timespec="seconds"),
            "command": os.environ.get("PODIUM_BENCH_CMDLINE")
            or cmdline([sys.argv[0]] + ["ingest"] + argv),
            "params": {"streams": args.streams, "seconds": args.seconds, "runs": args.runs,
                       "only": args.only, "peer_plain": args.peer_plain},
            "host": host_info(),
            "podium": {"binary": src_bin and rel(src_bin),
                       "sha256": src_bin and sha256(args.podium_bin),
                       "version": podium_version(args.podium_bin),
                       "build_type": build_type(src_bin),
                       "tree": git_describe(),
                       "built": src_bin and datetime.datetime.fromtimestamp(
                           os.stat(src_bin).st_mtime).astimezone().isoformat(timespec="seconds")},
            "media": minfo,
            "feeder_cmd": cmdline(feeder_argv(rel(media_src),
                                              feed_url(9000, 1))).replace("9000", "PORT"),
            "peer_cmd": cmdline(peer_argv(9000, "OUT", 1, args)).replace("9000", "PORT"),
            "json": json_path,
            "logs": rel(final_logs),
        })
        total = len(args.streams) * args.runs * (1 if args.only else 2)
        log("%d runs of %.0f s (~%.0f min); logs will be in %s"
            % (total, args.seconds, total * (args.seconds + 6) / 60, meta["logs"]))
        for n in args.streams:
            for r in range(1, args.runs + 1):
                for kind in ("podium", "peer"):
                    if args.only and kind != args.only:
                        continue
                    fn = run_podium if kind == "podium" else run_peer
                    x = fn(n, r, args, media, procs, work)
                    runs.append(x)
                    log("%-6s N=%-2d run %d: cpu %.2f s over %.1f s, %.3f cpu-s/stream-min, "
                        "peak rss %.1f MiB, segments %s%s" % (
                            kind, n, r, x.get("cpu_s", float("nan")),
                            x.get("wall_s", float("nan")),
                            cpu_per_stream_min(x) if "cpu_s" in x else float("nan"),
                            x.get("peak_rss_kib", 0) / 1024.0,
                            ",".join(str(v) for v in x.get("segments", {}).values()),
                            "" if x["valid"] else "  INVALID: " + "; ".join(x["problems"])))
                    time.sleep(1.0)
    except (KeyboardInterrupt, Interrupted) as e:
        log("interrupted (%s): reporting the runs done so far" % (e or "SIGINT"))
        meta["interrupted"] = True
    finally:
        procs.stop_all()
        if "json" in meta:
            meta["host"]["loadavg_end"] = loadavg()
            rows = summarize(runs, args.streams)
            save_results(meta, runs, rows, args.logdir)
            print(markdown(meta, runs, rows), flush=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log("kept " + work)
    bad = [x for x in runs if not x["valid"]]
    return 1 if bad or meta.get("interrupted") else 0


def main():
    if len(sys.argv) < 2 or sys.argv[1] != "ingest":
        sub = sys.argv[1] if len(sys.argv) > 1 else ""
        print("bench: %s: not implemented yet" % (sub or "(no subcommand)"), file=sys.stderr)
        return 2
    return ingest(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
