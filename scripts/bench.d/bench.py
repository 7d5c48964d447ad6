#!/usr/bin/env python3
"""Podium benchmarks (python3 stdlib only).  Called by scripts/bench.

ingest: for each N in --streams, N real-time SRT publishers feed
  (a) Podium: one `build/podium -c CONFIG` process with N sessions, and
  (b) the peer: N `ffmpeg -i srt://...?mode=listener -c copy -f hls` processes,
alternately (podium run 1, peer run 1, podium run 2, ...).  Measured on the
server side only: CPU seconds (utime+stime from /proc/PID/stat, all threads,
sampled when the feeders start and `seconds` later) and peak RSS (Podium:
VmHWM, or the peak of VmRSS plus the pages of its segment files (memfds,
or unlinked files in data_dir) that RSS does not show, sampled every 0.5 s, whichever is higher; peer: peak of the
sum of the N VmRSS, sampled every 0.5 s).

Feeders (not measured) are identical for both: one
`ffmpeg -re -stream_loop -1 -i MEDIA -c copy -f mpegts srt://...` per stream,
where MEDIA is a pre-generated ~60 s 1280x720 30 fps H.264 3.3 Mbps CBR
(2 s GOP, no B-frames) + AAC 128k MPEG-TS file cached in build/bench-media/.

pipeline: instructions (valgrind --tool=callgrind, Ir of all threads) of
  build/tests/pipeline_driver (Podium's demux -> segmenter -> live window +
  recording, fed from a file in 1316-byte reads) and of
  `ffmpeg -i FILE -c copy -f hls -hls_time 2 -hls_list_size 6` on the 60 s file
  and on a 600 s file (the 60 s one looped with -stream_loop 9 -c copy);
  per media-second = (Ir(600 s) - Ir(60 s)) / 540 s.  Plus Podium's top
  functions (callgrind_annotate) with their marginal cost per media-second.

memory: one Podium process, N sessions, each fed over SRT by
  `ffmpeg -readrate 8 -stream_loop -1 -i MEDIA -c copy -t MINUTES*60 -f mpegts`;
  VmRSS sampled every second, the live window sized from the playlist (HEAD of
  each segment); RSS at 10/50/100 % of the session, max, flatness, and RSS per
  session against live window bytes + 2 MiB.

all: ingest, pipeline and memory with their defaults.
"""

import argparse
import contextlib
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
import threading
import time
import urllib.error
import urllib.parse
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
    """Sum and per-process VmRSS, each with its segment files' pages that
    RSS does not show (Podium's segments; ffmpeg has none)."""
    tot, per = 0, {}
    for p in descendants(pids):
        st = read_status_kib(p)
        if st and "VmRSS" in st:
            per[p] = plus_segment_kib(p, st["VmRSS"])
            tot += per[p]
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
    # per process: two benches started side by side both generate it
    tmp = "%s.tmp%d.ts" % (path, os.getpid())
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
    return ensure_built(args.podium, "--podium")


def passphrase(k):
    return "bench-pass-%04d" % k


def podium_config(n, data_dir, latency_ms=SRT_LATENCY_US // 1000):
    lines = ["[server]",
             "srt_listen  = 127.0.0.1:0",
             "http_listen = 127.0.0.1:0",
             "data_dir    = %s" % data_dir,
             "[hls]",
             "segment_duration = 2.0",
             "window = 6",
             "[srt]",
             "latency_ms = %d" % latency_ms]
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

        viewers = [Viewer(http_port, "s%d" % k, 1.0) for k in range(1, n + 1)
                   for _ in range(args.viewers)]
        for v in viewers:
            v.start()
        try:
            m, fprocs = measure([server.pid], [starter(k) for k in range(1, n + 1)],
                                args.seconds)
        finally:
            for v in viewers:
                v.stop.set()
            for v in viewers:
                v.join(5.0)
        res.update(m)
        if viewers:
            res["viewer_segments"] = sum(len(v.got) for v in viewers)
            res["viewer_errors"] = sum(v.errors for v in viewers)
            if res["viewer_errors"]:
                res["problems"].append("viewers: %d failed requests" % res["viewer_errors"])
        # VmHWM misses the pages of segments that were never mapped
        res["peak_rss_kib"] = max(m["hwm_sum_kib"], m["rss_sum_peak_kib"])
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


@contextlib.contextmanager
def run_guard(res, procs, tmp, keep):
    """The end of every run: a RuntimeError or a timed-out wait makes it
    invalid (with why), and whatever it started is stopped and its temp dir
    removed. Yields a list for what procs does not hold (latency's Feeder):
    each is stop()ped first."""
    held = []
    try:
        yield held
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        res["valid"] = False
        res["problems"].append(str(e))
    finally:
        for x in held:
            x.stop()
        procs.stop_all()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def floor_argv(args, creds):
    argv = [args.floor_bin, "--latency", str(SRT_LATENCY_US // 1000)]
    mode = {"blocking": ["--blocking"], "epoll": []}.get(args.floor_mode)
    if mode is None and args.floor_mode.startswith("batch"):
        mode = ["--batch", args.floor_mode[5:]]
    elif mode is None:   # pollMS
        mode = ["--poll", args.floor_mode[4:]]
    return argv + mode + [creds]


def sink_port(sink, out):
    """The port srt_sink prints once listening (its log out)."""
    deadline = time.monotonic() + LISTENER_DEADLINE
    while True:
        with open(out, errors="replace") as f:
            m = re.search(r"^port=(\d+)$", f.read(), re.M)
        if m:
            return int(m.group(1))
        if sink.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("srt_sink did not start (rc %s, log %s)" % (sink.poll(), rel(out)))
        time.sleep(0.05)


def run_floor(n, r, args, media, procs, work):
    """libsrt alone: srt_sink (--floor-mode: one epoll thread for all
    connections, or one thread per connection blocked in srt_recvmsg as
    Podium's publishers) with the same sessions and feeders."""
    res = {"kind": "floor", "n": n, "run": r, "valid": True, "problems": [],
           "floor_mode": args.floor_mode}
    tmp = tempfile.mkdtemp(prefix="floor-n%d-r%d-" % (n, r), dir=work)
    with run_guard(res, procs, tmp, args.keep):
        creds = os.path.join(tmp, "sessions")
        with open(creds, "w") as f:
            f.writelines("s%d %s\n" % (k, passphrase(k)) for k in range(1, n + 1))
        out = os.path.join(args.logdir, "floor-n%d-r%d.log" % (n, r))
        res["log"] = rel(os.path.join(args.final_logdir, os.path.basename(out)))
        sink = procs.start(floor_argv(args, creds), out, "srt_sink")
        port = sink_port(sink, out)

        def starter(k):
            return lambda: procs.start(
                feeder_argv(media, feed_url(port, k)),
                os.path.join(args.logdir, "feeder-floor-n%d-r%d-s%d.log" % (n, r, k)),
                "feeder s%d" % k)

        m, fprocs = measure([sink.pid], [starter(k) for k in range(1, n + 1)], args.seconds)
        res.update(m)
        res["peak_rss_kib"] = max(m["hwm_kib"]) if m["hwm_kib"] else m["rss_sum_peak_kib"]
        dead, res["feeders_cpu_s"] = feeder_state(fprocs)
        if dead:
            res["valid"] = False
            res["problems"].append("feeders exited early: %s" % dead)
        Procs.stop(fprocs, 3.0)
        Procs.stop([sink], 5.0)
        with open(out, errors="replace") as f:
            summary = [l.strip() for l in f if l.startswith("srt_sink:")]
        res["summary"] = summary[0] if summary else None
        if not summary or "connections=%d " % n not in summary[0]:
            res["valid"] = False
            res["problems"].append("srt_sink did not see %d connections: %s" % (n, summary))
        else:
            # a floor that lost packets would be cheaper than a correct receiver
            counts = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", summary[0]))
            res["sink_counts"] = counts
            if counts.get("lost", 0) or counts.get("dropped", 0):
                res["problems"].append("SRT packets lost+dropped (srt_sink): %d"
                                       % (counts.get("lost", 0) + counts.get("dropped", 0)))
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
        floor = [x for x in runs if x["n"] == n and x["kind"] == "floor" and x["valid"]]
        rows.append({
            "n": n,
            "floor_cpu": [cpu_per_stream_min(x) for x in floor],
            "podium_cpu": [cpu_per_stream_min(x) for x in pod],
            "peer_cpu": [cpu_per_stream_min(x) for x in peer],
            "podium_rss": [x["peak_rss_kib"] / 1024.0 for x in pod],
            "floor_rss": [x["peak_rss_kib"] / 1024.0 for x in floor],
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
    if meta["params"].get("viewers"):
        got = [x.get("viewer_segments", 0) for x in runs if x.get("kind") == "podium"]
        w("- viewers (Podium only): %d per session, each GETting the live playlist every "
          "second and each new segment once; segments downloaded per run: %s"
          % (meta["params"]["viewers"], got))
    w("- %d s per run, runs alternate podium/peer; CPU = utime+stime of the server "
      "process(es), all threads; Podium RSS = VmHWM or the peak of VmRSS + its segment "
      "files' pages RSS does not show, whichever is higher; ffmpeg RSS = peak of the sum "
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
    if any(row["floor_cpu"] for row in rows):
        how = {"epoll": "one thread drains every connection through srt_epoll_uwait",
               "blocking": "one thread per connection blocked in srt_recvmsg, as Podium"}
        how.update(("poll%d" % ms, "one thread reading every connection without blocking "
                    "every %d ms" % ms) for ms in (5, 10, 20))
        how.update(("batch%d" % ms, "one thread per connection reading it dry every %d ms "
                    "(blocking socket, SRTO_RCVTIMEO 0)" % ms) for ms in (5, 10, 20))
        w("libsrt alone (`%s`: the same listener, passphrases, SRT latency with TSBPD "
          "and feeders; %s; the payload discarded), alternating with the runs above. "
          "Bar 1 asks Podium for <= 0.25 x ffmpeg; a floor above that puts the bar "
          "below what libsrt itself costs:" % (meta["floor_cmd"], how[meta["params"]["floor_mode"]]))
        w("")
        w("| N | libsrt floor CPU-s / stream-min | floor / ffmpeg | bar 1: 0.25 x ffmpeg "
          "| Podium - floor | Podium / floor | floor peak RSS MiB |")
        w("| --: | --: | --: | --: | --: | --: | --: |")
        for row in rows:
            f, p, q = row["floor_cpu"], row["podium_cpu"], row["peer_cpu"]
            above = "%.3f" % (statistics.median(p) - statistics.median(f)) if f and p else "n/a"
            bar = "%.3f" % (0.25 * statistics.median(q)) if q else "n/a"
            w("| %d | %s | %s | %s | %s | %s | %s |" % (
                row["n"], fmt_stat(f, 3), fmt_ratio(f, q), bar, above, fmt_ratio(p, f),
                fmt_stat(row["floor_rss"], 1)))
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
    ap.add_argument("--only", choices=("podium", "peer", "floor"), help="run one side only")
    ap.add_argument("--floor", action="store_true",
                    help="a third side: libsrt alone (build/tests/srt_sink: the same "
                    "listener, passphrases and feeders, payload discarded), to show "
                    "libsrt's own CPU per stream")
    ap.add_argument("--floor-mode", choices=("epoll", "blocking", "poll5", "poll10", "poll20",
                                               "batch5", "batch10", "batch20"),
                    help="how srt_sink reads (implies --floor): epoll, one thread "
                    "for all connections (default), or blocking, one thread per "
                    "connection as Podium's ingest, or pollMS, one thread reading "
                    "every connection without blocking every MS milliseconds, or "
                    "batchMS, one thread per connection reading it dry every MS "
                    "milliseconds")
    ap.add_argument("--podium", default=os.path.join(BUILD, "podium"),
                    help="podium binary (default build/podium; built if missing)")
    ap.add_argument("--peer-plain", action="store_true",
                    help="peer listeners without SRT encryption (default: the "
                    "same per-stream passphrase as Podium's sessions, so both "
                    "sides decrypt the same AES stream)")
    ap.add_argument("--viewers", type=int, default=0,
                    help="Podium side only: attendees per session, each polling the live "
                    "playlist every second and GETting each new segment once, as a "
                    "player does (default 0; serving them is in Podium's CPU, the viewers' "
                    "own is not)")
    ap.add_argument("--tmpdir", default=None, help="where the work directory goes (default $TMPDIR or /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (podium data, peer HLS output, logs)")
    ap.add_argument("--json", help="result file (default build/bench-results/ingest-<timestamp>.json)")
    a = ap.parse_args(argv)
    q = a.quick
    a.floor = a.floor or a.only == "floor" or a.floor_mode is not None
    a.floor_mode = a.floor_mode or "epoll"
    a.streams = [int(s) for s in (a.streams or ("1,4" if q else "1,4,16")).split(",") if s]
    a.seconds = a.seconds if a.seconds is not None else (15.0 if q else 60.0)
    a.runs = a.runs if a.runs is not None else (1 if q else 3)
    if not a.streams or min(a.streams) < 1 or a.runs < 1 or a.seconds <= 0 or a.viewers < 0:
        ap.error("streams, runs and seconds must be positive, viewers not negative")
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

    src_bin = None if args.only in ("peer", "floor") else podium_bin(args)
    sink_bin = args.floor and ensure_built(os.path.join(BUILD, "tests", "srt_sink"),
                                           "srt_sink")
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
        args.floor_bin = sink_bin and snapshot(sink_bin, os.path.join(work, "srt_sink"))
        meta.update({
            "date": now.isoformat(timespec="seconds"),
            "command": os.environ.get("PODIUM_BENCH_CMDLINE")
            or cmdline([sys.argv[0]] + ["ingest"] + argv),
            "params": {"streams": args.streams, "seconds": args.seconds, "runs": args.runs,
                       "only": args.only, "peer_plain": args.peer_plain,
                       "viewers": args.viewers,
                       "floor": args.floor, "floor_mode": args.floor_mode},
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
            "floor_cmd": sink_bin and cmdline(floor_argv(args, "SESSIONS")).replace(
                args.floor_bin, rel(sink_bin)),
            "json": json_path,
            "logs": rel(final_logs),
        })
        kinds = [k for k in ("podium", "peer", "floor") if k != "floor" or args.floor]
        total = len(args.streams) * args.runs * (1 if args.only else len(kinds))
        log("%d runs of %.0f s (~%.0f min); logs will be in %s"
            % (total, args.seconds, total * (args.seconds + 6) / 60, meta["logs"]))
        for n in args.streams:
            for r in range(1, args.runs + 1):
                for kind in kinds:
                    if args.only and kind != args.only:
                        continue
                    fn = {"podium": run_podium, "peer": run_peer, "floor": run_floor}[kind]
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


# --------------------------------------------------------------------------
# shared by pipeline and memory

def stamp_now():
    now = datetime.datetime.now().astimezone()
    return now, now.strftime("%Y%m%d-%H%M%S")


def run_paths(kind, json_arg):
    """For one benchmark run: stop cleanly on SIGTERM/SIGHUP, and name the
    result file and its log directory. (now, stamp, json_path, logs_dir)"""
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    now, stamp = stamp_now()
    json_path = os.path.abspath(json_arg or os.path.join(RESULTS_DIR, "%s-%s.json" % (kind, stamp)))
    return now, stamp, json_path, os.path.splitext(json_path)[0] + "-logs"


def publish_results(json_path, obj, text, logdir, final_logs, work, keep):
    """Raw numbers to json_path, the table next to it and on stdout, the
    logs kept; the work directory removed unless keep."""
    write_json(json_path, obj)
    shutil.copytree(logdir, final_logs, dirs_exist_ok=True)
    write_md(json_path, text)
    print(text, flush=True)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log("kept " + work)


_built = False


def ensure_built(path, what):
    """path, checked executable. The default build/ binaries are brought up
    to date first (an incremental Release build, once per bench process), so
    a benchmark never measures a stale binary."""
    global _built
    path = os.path.abspath(path)
    if not path.startswith(BUILD + os.sep):
        if not os.access(path, os.X_OK):
            raise SystemExit("bench: %s %s is not executable" % (what, path))
        return path
    if not _built:
        log("building build/ (Release, incremental)")
        subprocess.run([os.path.join(ROOT, "scripts", "deps"), "build"], check=True)
        subprocess.run(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release"],
                       check=True, stdout=sys.stderr)
        subprocess.run(["cmake", "--build", BUILD, "-j2"], check=True, stdout=sys.stderr)
        _built = True
    if not os.access(path, os.X_OK):
        raise SystemExit("bench: build finished but %s does not exist" % path)
    return path


def binary_meta(path):
    return {"binary": rel(path), "sha256": sha256(path),
            "build_type": build_type(os.path.join(os.path.dirname(path), "..", "podium")
                                     if os.path.basename(os.path.dirname(path)) == "tests"
                                     else path),
            "tree": git_describe(),
            "built": datetime.datetime.fromtimestamp(
                os.stat(path).st_mtime).astimezone().isoformat(timespec="seconds")}


def header_lines(title, meta):
    h = meta["host"]
    out = ["# " + title, "",
           "- date: %s" % meta["date"],
           "- command: `%s`" % meta["command"],
           "- host: %s, %d CPUs (%s), kernel %s; load average before %s, after %s"
           % (h["hostname"], h["nproc"], h["cpu"], h["kernel"], h["loadavg_start"],
              h.get("loadavg_end", "?"))]
    return out


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def write_md(json_path, text):
    md = os.path.splitext(json_path)[0] + ".md"
    with open(md, "w") as f:
        f.write(text + "\n")
    return md


# --------------------------------------------------------------------------
# pipeline: instructions per media-second under callgrind

LONG_LOOPS = 10  # the 600 s file = the 60 s file played 10 times (-stream_loop 9)


def ensure_long_media(short_path, short_info):
    """The 60 s file looped LONG_LOOPS times (stream copy), cached next to it."""
    path = short_path.replace("-%ds.ts" % MEDIA["seconds"],
                              "-%ds.ts" % (MEDIA["seconds"] * LONG_LOOPS))
    want = short_info["duration_s"] * LONG_LOOPS
    # ffmpeg 5.1's -stream_loop leaves a timestamp gap of ~0.2-0.8 s at each
    # wrap (no packets in it): the span is ~1% longer than the media, which
    # is why the marginal media-seconds are counted from the short file
    slack = max(2.0, 0.02 * want)
    info = probe(path) if os.path.exists(path) else None
    if info and info["streams"] == ["h264", "aac"] and abs(info["duration_s"] - want) < slack:
        return path, info
    tmp = "%s.tmp%d.ts" % (path, os.getpid())
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-nostdin",
            "-stream_loop", str(LONG_LOOPS - 1), "-i", short_path,
            "-map", "0", "-c", "copy", "-f", "mpegts", tmp]
    log("generating long bench media (once): " + cmdline(argv))
    subprocess.run(argv, check=True)
    os.replace(tmp, path)
    info = probe(path)
    if not info or abs(info["duration_s"] - want) > slack:
        raise SystemExit("bench: %s: unexpected duration %s" % (path, info))
    return path, info


def peer_pipeline_argv(media, out_dir):
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", media,
            "-c", "copy", "-f", "hls", "-hls_time", "2", "-hls_list_size", "6",
            os.path.join(out_dir, "index.m3u8")]


def callgrind_total(out_file):
    """Total Ir of a callgrind output file (all threads)."""
    total = None
    with open(out_file, errors="replace") as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                v = int(line.split()[1])
                total = v if total is None else max(total, v)
    return total


def valgrind_env():
    """The environment for programs under valgrind: tests/valgrind/hwy_timer.c
    preloaded into both sides (it says why), checked on ffprobe first."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = ensure_built(os.path.join(BUILD, "tests", "libhwy_timer_shim.so"),
                                     "valgrind preload")
    p = subprocess.run(["valgrind", "-q", "--tool=none", "ffprobe", "-version"], env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, errors="replace")
    if p.returncode != 0:
        raise SystemExit("bench: valgrind cannot run ffprobe on this machine (exit %s):\n%s"
                         % (p.returncode, p.stderr[-2000:]))
    return env


def run_callgrind(kind, label, argv, media, args, work, r):
    res = {"kind": kind, "file": label, "run": r, "valid": True, "problems": []}
    tmp = tempfile.mkdtemp(prefix="cg-%s-%s-r%d-" % (kind, label, r), dir=work)
    out = os.path.join(args.logdir, "callgrind.out.%s-%s-r%d" % (kind, label, r))
    logf = os.path.join(args.logdir, "%s-%s-r%d.log" % (kind, label, r))
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    cmd = argv(media, data)
    vg = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd
    res["cmd"] = cmdline(cmd)
    t0 = time.monotonic()
    with open(logf, "wb") as lf:
        p = subprocess.Popen(vg, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                             cwd=tmp, start_new_session=True, env=args.valgrind_env)
        args.running = p
        try:
            rc = p.wait()
        finally:
            args.running = None
    res["wall_s"] = round(time.monotonic() - t0, 1)
    res["rc"] = rc
    res["log"] = rel(os.path.join(args.final_logdir, os.path.basename(logf)))
    if rc != 0:
        res["valid"] = False
        res["problems"].append("exit status %s" % rc)
    try:
        res["instructions"] = callgrind_total(out)
    except OSError as e:
        res["instructions"] = None
        res["problems"].append("no callgrind output: %s" % e)
    if not res["instructions"]:
        res["valid"] = False
    if kind == "podium":
        m = re.findall(r"^segments=(\d+)", open(logf, errors="replace").read(), re.M)
        res["segments"] = int(m[-1]) if m else None
        res["log_warnings"], res["log_warnings_count"] = log_lines(logf, r"level=warn", 3)
        res["log_errors"], res["log_errors_count"] = log_lines(logf, r"level=(error|fatal)", 3)
    else:
        res["segments"] = len([f for f in os.listdir(data) if f.endswith(".ts")])
    res["disk_bytes"] = du(data)
    if not res["segments"]:
        res["valid"] = False
        res["problems"].append("no segments")
    res["callgrind_out"] = out
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return res


FN_LINE_RE = re.compile(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$")
# process-entry wrappers that sit above everything in an inclusive listing
WRAPPER_RE = re.compile(r"\(below main\)|__libc_start_main|libc_start_call_main|"
                        r"ld-linux[^ ]*\.so|:start_thread |:clone3? |:main \[")


def annotate(out_file, inclusive):
    """All functions of callgrind_annotate, biggest first: ([(Ir, pct, name)], argv).
    Names lose the (temporary) directory of the binary."""
    argv = ["callgrind_annotate", "--inclusive=%s" % ("yes" if inclusive else "no"),
            "--threshold=100", out_file]
    r = subprocess.run(argv, capture_output=True, text=True)
    rows, started = [], False
    for line in r.stdout.splitlines():
        if not started:
            started = "file:function" in line
            continue
        m = FN_LINE_RE.match(line)
        if m:
            name = re.sub(r"\[/\S*/([^/\]]+)\]", r"[\1]", m.group(3).strip())
            rows.append((int(m.group(1).replace(",", "")), float(m.group(2)), name))
        elif rows and not line.strip():
            break
    return rows, argv


def profile_text(long_run, short_run, dt, final_logs):
    """Top 15 functions of Podium's long run, inclusive and self, with the
    marginal cost per media-second from the long - short difference."""
    out, raw = [], []
    lo = os.path.join(final_logs, os.path.basename(long_run["callgrind_out"]))
    short = {}

    def table(title, rows, wrappers_note):
        t = ["### Podium %s run: %s" % (long_run["file"], title), ""]
        if wrappers_note:
            t += ["Process-entry wrappers (ld.so entry, below main, __libc_start_main, "
                  "main, start_thread, clone) left out.", ""]
        t.append("| # | Ir (%s run) | %% of total | marginal Ir / media-s | function |"
                 % long_run["file"])
        t.append("| --: | --: | --: | --: | --- |")
        for i, (ir, pct, name) in enumerate(rows, 1):
            marg = (ir - short[name]) / dt if name in short else None
            t.append("| %d | %s | %.1f | %s | `%s` |" % (
                i, "{:,}".format(ir), pct, fmt_ir(marg), name))
        t.append("")
        return t
    for inclusive in (True, False):
        rows, argv = annotate(long_run["callgrind_out"], inclusive)
        short.clear()
        if short_run:
            short.update({name: ir for ir, _, name in annotate(short_run["callgrind_out"], inclusive)[0]})
        cmd = cmdline(argv[:-1] + [rel(lo)])
        raw.append("`%s` (first 15 lines, unfiltered):\n\n```\n%s\n```\n" % (
            cmd, "\n".join("%s (%5.2f%%)  %s" % ("{:,}".format(ir), pct, name)
                           for ir, pct, name in rows[:15])))
        tables = []
        if inclusive:
            rows = [x for x in rows if not WRAPPER_RE.search(x[2])]
            tables.append(("Podium's own functions (pipeline_driver), by inclusive instructions",
                           [x for x in rows if x[2].endswith("[pipeline_driver]")][:15]))
        kind = "inclusive" if inclusive else "self (exclusive)"
        tables.insert(0, ("top %d functions by %s instructions" % (min(15, len(rows)), kind),
                          rows[:15]))
        for title, rows in tables:
            out.extend(table(title, rows, inclusive and "functions" in title and "top" in title))
    out.append("marginal = (Ir(%s) - Ir(%s)) / %.1f s per function; `???:0x...` are "
               "static functions of the Debian FFmpeg libraries (no debug symbols)."
               % (long_run["file"], short_run["file"] if short_run else "?", dt))
    out.append("")
    return "\n".join(out), "\n".join(raw)


def pipeline_args(argv):
    ap = argparse.ArgumentParser(prog="scripts/bench pipeline",
                                 description="Instructions per media-second (callgrind) of "
                                 "Podium's pipeline_driver and of `ffmpeg -c copy -f hls`, "
                                 "marginal cost between a 60 s and a 600 s file.")
    ap.add_argument("--runs", type=int, default=1,
                    help="runs per side and file (default 1: callgrind counts are "
                    "deterministic, so repeats only confirm; a 600 s run takes minutes)")
    ap.add_argument("--only", choices=("podium", "peer"), help="run one side only")
    ap.add_argument("--driver", default=os.path.join(BUILD, "tests", "pipeline_driver"),
                    help="pipeline_driver binary (default build/tests/pipeline_driver; "
                    "built if missing)")
    ap.add_argument("--tmpdir", default=None, help="work directory parent (default $TMPDIR or /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", help="result file (default build/bench-results/pipeline-<timestamp>.json)")
    a = ap.parse_args(argv)
    if a.runs < 1:
        ap.error("--runs must be positive")
    return a


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def pipeline(argv):
    args = pipeline_args(argv)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        raise SystemExit("bench: valgrind missing (scripts/deps bench)")
    args.valgrind_env = valgrind_env()
    now, stamp = stamp_now()
    json_path = os.path.abspath(args.json or os.path.join(RESULTS_DIR, "pipeline-%s.json" % stamp))
    base = os.path.splitext(json_path)[0]
    final_logs = base + "-logs"
    driver = None if args.only == "peer" else ensure_built(args.driver, "--driver")
    short, sinfo = ensure_media()
    long_, linfo = ensure_long_media(short, sinfo)
    sinfo["path"], linfo["path"] = short, long_
    files = [("%ds" % round(sinfo["duration_s"]), short, sinfo),
             ("%ds" % round(linfo["duration_s"]), long_, linfo)]
    work = tempfile.mkdtemp(prefix="bench-pipeline-", dir=args.tmpdir)
    args.logdir = os.path.join(work, "logs")
    args.final_logdir = final_logs
    os.makedirs(args.logdir)
    vg = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    ffv = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    meta = {"date": now.isoformat(timespec="seconds"),
            "command": os.environ.get("PODIUM_BENCH_CMDLINE")
            or cmdline([sys.argv[0], "pipeline"] + argv),
            "params": {"runs": args.runs, "only": args.only},
            "host": host_info(), "valgrind": vg, "ffmpeg": ffv,
            "driver": binary_meta(driver) if driver else None,
            "media": {label: info for label, _, info in files},
            "podium_cmd": "LD_PRELOAD=%s valgrind --tool=callgrind %s FILE DATA_DIR" % (
                rel(args.valgrind_env["LD_PRELOAD"]), rel(driver) if driver else "pipeline_driver"),
            "peer_cmd": "LD_PRELOAD=%s valgrind --tool=callgrind " % rel(
                args.valgrind_env["LD_PRELOAD"]) + cmdline(
                peer_pipeline_argv("FILE", "OUTDIR")),
            "json": json_path, "logs": rel(final_logs)}
    runs = []
    args.running = None
    drv_copy = None
    if driver:
        drv_copy = os.path.join(work, "pipeline_driver")
        shutil.copy2(driver, drv_copy)
    sides = [("podium", lambda m, d: [drv_copy, m, d]),
             ("peer", lambda m, d: peer_pipeline_argv(m, d))]
    profile = None
    try:
        n = args.runs * len(files) * (1 if args.only else 2)
        log("%d callgrind runs (the %s ones take about a minute each under callgrind); logs in %s"
            % (n, files[1][0], meta["logs"]))
        for r in range(1, args.runs + 1):
            for label, path, info in files:
                for kind, argvf in sides:
                    if args.only and kind != args.only:
                        continue
                    x = run_callgrind(kind, label, argvf, path, args, work, r)
                    x["media_s"] = info["duration_s"]
                    runs.append(x)
                    log("%-6s %5s run %d: %s Ir in %.0f s wall, segments %s%s" % (
                        kind, label, r, "{:,}".format(x["instructions"] or 0), x["wall_s"],
                        x["segments"], "" if x["valid"] else "  INVALID: " + "; ".join(x["problems"])))
    except (KeyboardInterrupt, Interrupted) as e:
        log("interrupted (%s): reporting the runs done so far" % (e or "SIGINT"))
        meta["interrupted"] = True
        if args.running is not None and args.running.poll() is None:
            args.running.kill()
            args.running.wait()
    meta["host"]["loadavg_end"] = loadavg()
    dt = sinfo["duration_s"] * (LONG_LOOPS - 1)
    summary = {"marginal_media_s": dt}
    for kind in ("podium", "peer"):
        i_s = med([x["instructions"] for x in runs if x["kind"] == kind and x["valid"]
                   and x["file"] == files[0][0]])
        i_l = med([x["instructions"] for x in runs if x["kind"] == kind and x["valid"]
                   and x["file"] == files[1][0]])
        summary[kind] = {"instr_short": i_s, "instr_long": i_l,
                         "per_media_s": (i_l - i_s) / dt if i_s and i_l else None,
                         "startup_estimate": (i_s - (i_l - i_s) / dt * sinfo["duration_s"])
                         if i_s and i_l else None}
    pm, fm = summary["podium"]["per_media_s"], summary["peer"]["per_media_s"]
    summary["ratio"] = pm / fm if pm and fm else None
    pl = [x for x in runs if x["kind"] == "podium" and x["valid"] and x["file"] == files[1][0]]
    ps = [x for x in runs if x["kind"] == "podium" and x["valid"] and x["file"] == files[0][0]]
    raw = None
    if pl:
        profile, raw = profile_text(pl[0], ps[0] if ps else None, dt, final_logs)
        prof_path = base + "-podium-profile.md"
        meta["profile"] = rel(prof_path)
    for x in runs:
        x["callgrind_out"] = rel(os.path.join(final_logs, os.path.basename(x["callgrind_out"])))
    write_json(json_path, {"meta": meta, "summary": summary, "runs": runs})
    shutil.copytree(args.logdir, final_logs, dirs_exist_ok=True)
    if profile:
        with open(prof_path, "w") as f:
            f.write("# Podium pipeline_driver callgrind profile (%s)\n\n%s\n## Raw "
                    "callgrind_annotate\n\n%s" % (meta["date"], profile, raw))
    text = pipeline_markdown(meta, summary, runs, files, profile)
    write_md(json_path, text)
    print(text, flush=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log("kept " + work)
    bad = [x for x in runs if not x["valid"]]
    return 1 if bad or meta.get("interrupted") else 0


def fmt_ir(v):
    return "{:,}".format(int(round(v))) if v is not None else "n/a"


def pipeline_markdown(meta, summary, runs, files, profile):
    out = header_lines("Podium pipeline benchmark (instructions per media-second)", meta)
    w = out.append
    d = meta.get("driver")
    if d:
        w("- podium: `%s` (%s build, binary of %s, sha256 %s; work tree at start: %s)"
          % (d["binary"], d["build_type"], d["built"], d["sha256"][:12], d["tree"]))
    w("- %s; %s" % (meta["valgrind"], meta["ffmpeg"]))
    for label, path, info in files:
        w("- media %s: `%s` %.2f s, %.2f Mbit/s, %.1f MB" % (
            label, rel(path), info["duration_s"], info["bit_rate"] / 1e6, info["bytes"] / 1e6))
    w("- podium: `%s` (demux in 1316-byte reads -> segmenter -> live window 6 x 2 s "
      "in memory + recording on disk)" % meta["podium_cmd"])
    w("- peer: `%s`" % meta["peer_cmd"])
    w("- instructions = callgrind Ir of the whole process, all threads; per media-second = "
      "(Ir(%s) - Ir(%s)) / %.1f s, so start-up and teardown cancel out; callgrind counts "
      "are deterministic, runs=%d (median if more)"
      % (files[1][0], files[0][0], summary["marginal_media_s"], meta["params"]["runs"]))
    w("")
    w("| | Podium | ffmpeg | Podium / ffmpeg |")
    w("| --- | --: | --: | --: |")
    p, f = summary["podium"], summary["peer"]

    def ratio(a, b):
        return "%.3f" % (a / b) if a and b else "n/a"
    w("| **instructions per media-second** | **%s** | **%s** | **%s** (target <= 0.5) |" % (
        fmt_ir(p["per_media_s"]), fmt_ir(f["per_media_s"]),
        ratio(p["per_media_s"], f["per_media_s"])))
    w("| total instructions, %s file | %s | %s | %s |" % (
        files[0][0], fmt_ir(p["instr_short"]), fmt_ir(f["instr_short"]),
        ratio(p["instr_short"], f["instr_short"])))
    w("| total instructions, %s file | %s | %s | %s |" % (
        files[1][0], fmt_ir(p["instr_long"]), fmt_ir(f["instr_long"]),
        ratio(p["instr_long"], f["instr_long"])))
    w("| fixed cost (start-up + teardown, extrapolated) | %s | %s | |" % (
        fmt_ir(p["startup_estimate"]), fmt_ir(f["startup_estimate"])))
    w("")
    notes = []
    for x in runs:
        tag = "%s %s run %d" % (x["kind"], x["file"], x["run"])
        if not x["valid"]:
            notes.append("- INVALID %s: %s (log: %s)" % (tag, "; ".join(x["problems"]), x["log"]))
        if x.get("log_errors_count"):
            notes.append("- %s: %d error line(s), first: `%s`"
                         % (tag, x["log_errors_count"], x["log_errors"][0]))
    segs = ", ".join("%s %s: %s segments, %.0f MB on disk, %.0f s under callgrind" % (
        x["kind"], x["file"], x["segments"], x["disk_bytes"] / 1e6, x["wall_s"]) for x in runs)
    w("Runs: " + segs + ".")
    w("")
    if notes:
        w("Notes:")
        w("")
        out.extend(notes)
        w("")
    if profile:
        w(profile)
        w("Profile: `%s`; callgrind files: `%s/`" % (meta["profile"], meta["logs"]))
        w("")
    w("Raw numbers: `%s`" % rel(meta["json"]))
    return "\n".join(out)


# --------------------------------------------------------------------------
# memory: Podium RSS over a long session fed faster than real time

def memory_feeder_argv(media, url, rate, seconds):
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
            "-readrate", str(rate), "-stream_loop", "-1", "-i", media,
            "-map", "0", "-c", "copy", "-t", "%.3f" % seconds, "-f", "mpegts", url]


class HeadRequest(urllib.request.Request):
    def get_method(self):
        return "HEAD"


def podium_segment_home(log_path):
    """Where Podium keeps its live segments, from its start-up log line:
    data_dir's page cache, or memfds and why."""
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                if "live segments in data_dir" in line:
                    return "data_dir's page cache (unlinked files)"
                if "live segments in memfds" in line:
                    why = re.search(r'why="([^"]*)"', line)
                    return "memfds (%s)" % (why.group(1) if why else "?")
    except OSError:
        pass
    return "?"


def segment_file(name):
    """Whether a descriptor's or mapping's target is one of Podium's live
    segments: a memfd, or an unlinked file in data_dir (O_TMPFILE names
    itself "#inode (deleted)")."""
    if name.startswith("/memfd:"):
        return "shmem"
    base = name.rsplit("/", 1)[-1]
    if base.startswith("#") and base.endswith(" (deleted)"):
        return "file"
    return None


def segment_kib(pid):
    """(KiB, KiB mapped shmem, KiB mapped file): the pages of every segment
    file the process holds (memfds, and unlinked files in data_dir whose
    pages sit in the page cache), by descriptor or by mapping, each file
    once; and how many of them its mappings have resident, which VmRSS
    counts already (a memfd's in RssShmem, a disk file's in RssFile). A
    segment is written by write() and its read-only mapping rarely touched,
    so most of its pages are in the first figure only."""
    mapped = {"shmem": 0, "file": 0}
    ranges, inodes = {}, set()
    try:
        with open("/proc/%d/smaps" % pid) as f:
            kind = None
            for line in f:
                head = line.split(None, 5)
                if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:
                    kind = segment_file(head[5].rstrip("\n")) if len(head) == 6 else None
                    if kind:
                        ranges.setdefault(int(head[4]), head[0])
                elif kind and line.startswith("Rss:"):
                    mapped[kind] += int(line.split()[1])
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return 0, 0, 0
    total = 0
    paths = ["/proc/%d/fd/%s" % (pid, fd) for fd in fds]
    paths += ["/proc/%d/map_files/%s" % (pid, r) for r in ranges.values()]
    for path in paths:
        try:
            if not segment_file(os.readlink(path)):
                continue
            st = os.stat(path)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in inodes:
            continue
        inodes.add((st.st_dev, st.st_ino))
        total += st.st_blocks * 512
    return total // 1024, mapped["shmem"], mapped["file"]


def plus_segment_kib(pid, rss_kib, file_rss=True):
    """An RSS figure of pid plus the pages of its segment files that it
    does not show; file_rss: whether the figure counts file-backed pages
    (VmRSS does, RssAnon + RssShmem does not)."""
    held, shmem, file = segment_kib(pid)
    return rss_kib - shmem - (file if file_rss else 0) + held


def session_memory_kib(pid, st):
    """Anonymous + shared-memory RSS + the segment pages RSS does not show:
    every byte a live session can cost, wherever its segments live (heap,
    memfd or data_dir's page cache)."""
    return plus_segment_kib(pid, st.get("RssAnon", 0) + st.get("RssShmem", 0), file_rss=False)


class Viewer(threading.Thread):
    """An attendee: polls the live playlist and GETs every new segment once,
    like a player at the live edge (at the feed rate)."""

    def __init__(self, http_port, sid, period):
        super().__init__(daemon=True)
        self.base = "http://127.0.0.1:%d/live/%s/" % (http_port, sid)
        self.period, self.stop, self.got, self.errors = period, threading.Event(), set(), 0

    def run(self):
        live = False                     # the playlist is a 404 until the first segment
        while not self.stop.wait(self.period):
            try:
                with urllib.request.urlopen(self.base + "index.m3u8", timeout=3.0) as r:
                    text = r.read().decode("utf-8", "replace")
                live = True
                for u in [l.strip() for l in text.splitlines() if l.strip() and not l.startswith("#")]:
                    if u in self.got:
                        continue
                    with urllib.request.urlopen(self.base + u, timeout=5.0) as r:
                        r.read()
                    self.got.add(u)
            except (OSError, ValueError, urllib.error.URLError):
                self.errors += live


def playlist_uris(http_port, sid):
    """Absolute URLs of the segments the live playlist lists."""
    base = "http://127.0.0.1:%d/live/%s/index.m3u8" % (http_port, sid)
    with urllib.request.urlopen(base, timeout=3.0) as r:
        text = r.read().decode("utf-8", "replace")
    return [urllib.parse.urljoin(base, l.strip()) for l in text.splitlines()
            if l.strip() and not l.startswith("#")]


def segment_size(url, cache=None):
    """Bytes of one listed segment, by HEAD (GET when HEAD gives no
    Content-Length). A listed segment never changes: cache maps URL -> size."""
    if cache is not None and url in cache:
        return cache[url]
    size = None
    try:
        with urllib.request.urlopen(HeadRequest(url), timeout=3.0) as r:
            cl = r.headers.get("Content-Length")
            size = int(cl) if cl is not None else None
    except (OSError, ValueError, urllib.error.URLError):
        size = None
    if size is None:
        with urllib.request.urlopen(url, timeout=3.0) as r:
            size = len(r.read())
    if cache is not None:
        cache[url] = size
    return size


def window_bytes(http_port, sid):
    """(segments, bytes) of the live window: the playlist's segments, sized
    by HEAD."""
    uris = playlist_uris(http_port, sid)
    return len(uris), sum(segment_size(u) for u in uris)


def paired_overhead_kib(http_port, sids, pid, mem_idle, cache):
    """Session memory above idle minus the live windows of all sessions, per
    session, at one instant: (KiB, windows KiB per session), or None when a
    segment was listed while measuring (the two would not match). The
    playlists are read before and after the memory sample; listed segments
    are immutable, so equal playlists mean the sizes and the sample agree."""
    before = [playlist_uris(http_port, sid) for sid in sids]
    win = sum(segment_size(u, cache) for uris in before for u in uris)
    st = read_status_kib(pid, RSS_KEYS)
    if st is None:
        return None
    mem = session_memory_kib(pid, st)
    if [playlist_uris(http_port, sid) for sid in sids] != before:
        return None
    live = set(u for uris in before for u in uris)
    for u in [u for u in cache if u not in live]:
        del cache[u]
    n = len(sids)
    return (mem - mem_idle - win / 1024.0) / n, win / 1024.0 / n


def at_fraction(series, t_total, frac):
    """RSS of the sample closest to frac of the session."""
    if not series:
        return None
    want = frac * t_total
    return min(series, key=lambda s: abs(s[0] - want))[1]


def memory_args(argv):
    ap = argparse.ArgumentParser(prog="scripts/bench memory",
                                 description="Podium RSS over a long SRT session fed "
                                 "faster than real time (the 60 s media looped).")
    ap.add_argument("--minutes", type=float, default=160.0,
                    help="session length in media minutes (default 160)")
    ap.add_argument("--streams", type=int, default=1, help="concurrent sessions (default 1)")
    ap.add_argument("--rate", type=float, default=8.0,
                    help="feed speed, x real time (ffmpeg -readrate; default 8)")
    ap.add_argument("--viewers", type=int, default=0,
                    help="attendees per session fetching every segment (default 0)")
    ap.add_argument("--podium", default=os.path.join(BUILD, "podium"),
                    help="podium binary (default build/podium; built if missing)")
    ap.add_argument("--floor", action="store_true",
                    help="then libsrt alone (tests/bench/srt_sink, a thread blocked per "
                    "connection), the same sessions fed at --rate and at 1x: what the "
                    "feed rate costs libsrt itself")
    ap.add_argument("--floor-seconds", type=float, default=60.0,
                    help="wall seconds per floor run (default 60)")
    ap.add_argument("--sink", default=os.path.join(BUILD, "tests", "srt_sink"),
                    help="srt_sink binary for --floor (default build/tests/srt_sink)")
    ap.add_argument("--tmpdir", default=None, help="work directory parent (default $TMPDIR or /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (incl. recordings)")
    ap.add_argument("--json", help="result file (default build/bench-results/memory-<timestamp>.json)")
    a = ap.parse_args(argv)
    if a.minutes <= 0 or a.streams < 1 or a.rate <= 0 or a.viewers < 0:
        ap.error("minutes, streams and rate must be positive")
    if a.floor_seconds < 20:
        ap.error("--floor-seconds must be at least 20 (the first 10 s are not counted)")
    return a


MEM_FLOOR_SKIP_S = 10.0


def memory_floor(args, media, rate, work, logdir, procs):
    """libsrt alone: srt_sink taking args.streams sessions fed at rate for
    args.floor_seconds of wall time; its VmRSS every second, the first
    MEM_FLOOR_SKIP_S left out (connections and buffers settling)."""
    res = {"rate": rate, "valid": True, "problems": []}
    tmp = tempfile.mkdtemp(prefix="floor-x%g-" % rate, dir=work)
    with run_guard(res, procs, tmp, False):
        creds = os.path.join(tmp, "sessions")
        with open(creds, "w") as f:
            f.writelines("s%d %s\n" % (k, passphrase(k)) for k in range(1, args.streams + 1))
        out = os.path.join(logdir, "floor-x%g.log" % rate)
        sink = procs.start([args.sink_bin, "--blocking", "--latency", str(SRT_LATENCY_US // 1000),
                            creds], out, "srt_sink")
        port = sink_port(sink, out)
        t0 = time.monotonic()
        fprocs = [procs.start(memory_feeder_argv(media, feed_url(port, k), rate,
                                                 rate * args.floor_seconds),
                              os.path.join(logdir, "feeder-floor-x%g-s%d.log" % (rate, k)),
                              "feeder s%d" % k) for k in range(1, args.streams + 1)]
        rss = []
        while any(p.poll() is None for p in fprocs):
            if time.monotonic() - t0 > args.floor_seconds * 1.5 + 30:
                raise RuntimeError("floor feeders still running after %.0f s" % (time.monotonic() - t0))
            st = read_status_kib(sink.pid, ("VmRSS",))
            if st is None:
                raise RuntimeError("srt_sink exited (log %s)" % rel(out))
            if time.monotonic() - t0 >= MEM_FLOOR_SKIP_S:
                rss.append(st["VmRSS"])
            time.sleep(MEM_SAMPLE_PERIOD)
        bad = [(p.bench_name, p.returncode) for p in fprocs if p.returncode != 0]
        if bad or not rss:
            raise RuntimeError("floor at %gx: feeders failed %s, %d samples" % (rate, bad, len(rss)))
        res.update({"rss_median_kib": statistics.median(rss), "rss_max_kib": max(rss),
                    "samples": len(rss)})
    return res


MEM_SAMPLE_PERIOD = 1.0
RSS_KEYS = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")
MEM_WINDOW_POLL = 10.0
MEM_PAIR_POLL = 2.0
FLAT_TOLERANCE = 0.10
SLACK_KIB = 2048


def memory(argv):
    args = memory_args(argv)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    now, stamp = stamp_now()
    json_path = os.path.abspath(args.json or os.path.join(RESULTS_DIR, "memory-%s.json" % stamp))
    final_logs = os.path.splitext(json_path)[0] + "-logs"
    src_bin = ensure_built(args.podium, "--podium")
    sink_bin = args.floor and ensure_built(args.sink, "--sink")
    media_src, minfo = ensure_media()
    minfo["path"] = media_src
    n = args.streams
    seconds = args.minutes * 60.0
    work = tempfile.mkdtemp(prefix="bench-memory-", dir=args.tmpdir)
    logdir = os.path.join(work, "logs")
    os.makedirs(logdir)
    media = snapshot(media_src, os.path.join(work, os.path.basename(media_src)))
    pbin = os.path.join(work, "podium")
    shutil.copy2(src_bin, pbin)
    args.sink_bin = sink_bin and snapshot(sink_bin, os.path.join(work, "srt_sink"))
    meta = {"date": now.isoformat(timespec="seconds"),
            "command": os.environ.get("PODIUM_BENCH_CMDLINE")
            or cmdline([sys.argv[0], "memory"] + argv),
            "params": {"minutes": args.minutes, "streams": n, "rate": args.rate,
                       "viewers": args.viewers, "floor": args.floor,
                       "floor_seconds": args.floor_seconds},
            "host": host_info(),
            "podium": dict(binary_meta(src_bin), version=podium_version(pbin)),
            "media": minfo,
            "feeder_cmd": cmdline(memory_feeder_argv(rel(media_src), feed_url(9000, 1),
                                                     args.rate, seconds)).replace("9000", "PORT"),
            "json": json_path, "logs": rel(final_logs)}
    res = {"valid": True, "problems": []}
    procs = Procs()
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir)
    series, windows, pairs, api = [], [], [], {}
    try:
        conf = os.path.join(work, "podium.ini")
        with open(conf, "w") as f:
            f.write(podium_config(n, data_dir))
        plog = os.path.join(logdir, "podium.log")
        res["log"] = rel(os.path.join(final_logs, "podium.log"))
        server = procs.start([pbin, "-c", conf], plog, "podium")
        srt_port, http_port = podium_ports(plog, server, time.monotonic() + PODIUM_START_DEADLINE)
        time.sleep(1.0)
        idle = read_status_kib(server.pid, RSS_KEYS)
        res["rss_idle_kib"] = idle["VmRSS"]
        res["rss_idle_detail_kib"] = idle
        res["session_mem_idle_kib"] = session_memory_kib(server.pid, idle)
        viewers = [Viewer(http_port, "s%d" % k, 2.0 / args.rate / 2)
                   for k in range(1, n + 1) for _ in range(args.viewers)]
        log("podium idle RSS %.1f MiB; feeding %d x %.0f media-min at %gx (~%.1f min wall)"
            % (res["rss_idle_kib"] / 1024, n, args.minutes, args.rate, seconds / args.rate / 60))
        t0 = time.monotonic()
        fprocs = [procs.start(memory_feeder_argv(media, feed_url(srt_port, k), args.rate, seconds),
                              os.path.join(logdir, "feeder-s%d.log" % k), "feeder s%d" % k)
                  for k in range(1, n + 1)]
        for v in viewers:
            v.start()
        next_win = t0 + MEM_WINDOW_POLL
        fill_t = window_fill_s(args.rate)
        next_pair, sids, size_cache = t0, ["s%d" % k for k in range(1, n + 1)], {}
        deadline = t0 + seconds / args.rate * 1.5 + 60
        while True:
            st = read_status_kib(server.pid, RSS_KEYS)
            t = time.monotonic() - t0
            if st is None or server.poll() is not None:
                res["valid"] = False
                res["problems"].append("podium exited during the session (rc %s)" % server.poll())
                break
            series.append([round(t, 2), st["VmRSS"]])
            mem = session_memory_kib(server.pid, st)
            if mem > res.get("session_mem_max_kib", 0):
                res["session_mem_max_kib"] = mem
                # memfd_unmapped: segment pages (memfds or data_dir's page
                # cache) that RSS does not show; the key kept its old name
                res["session_mem_max_detail_kib"] = dict(st, memfd_unmapped=mem - st.get(
                    "RssAnon", 0) - st.get("RssShmem", 0))
            if not res.get("rss_max_detail_kib") or st["VmRSS"] >= res["rss_max_detail_kib"]["VmRSS"]:
                res["rss_max_detail_kib"] = st
            if t >= fill_t and time.monotonic() >= next_pair:
                next_pair = time.monotonic() + MEM_PAIR_POLL
                try:
                    o = paired_overhead_kib(http_port, sids, server.pid,
                                            res["session_mem_idle_kib"], size_cache)
                    if o is None:
                        res["pair_discarded"] = res.get("pair_discarded", 0) + 1
                    else:
                        pairs.append([round(t, 1), round(o[0], 1), round(o[1], 1)])
                except (OSError, ValueError, urllib.error.URLError):
                    res["pair_discarded"] = res.get("pair_discarded", 0) + 1
            if time.monotonic() >= next_win:
                next_win += MEM_WINDOW_POLL
                try:
                    segs, b = window_bytes(http_port, "s1")
                    windows.append([round(t, 1), segs, b])
                except (OSError, ValueError, urllib.error.URLError) as e:
                    windows.append([round(t, 1), None, "error: %s" % e])
                # API snapshot while publishing (bitrate, target duration)
                # (kept only while every session still has its publisher)
                try:
                    snap = {"s%d" % k: http_json("http://127.0.0.1:%d/api/v1/sessions/s%d"
                                                 % (http_port, k)) for k in range(1, n + 1)}
                    if all(isinstance(j, dict) and j.get("publisher") for j in snap.values()):
                        api = snap
                except (OSError, ValueError, urllib.error.URLError):
                    pass
            if all(p.poll() is not None for p in fprocs):
                break
            if time.monotonic() > deadline:
                res["valid"] = False
                res["problems"].append("feeders still running after %.0f s" % (deadline - t0))
                break
            time.sleep(MEM_SAMPLE_PERIOD)
        t_end = time.monotonic() - t0
        for v in viewers:
            v.stop.set()
        res["viewer_segments"] = [len(v.got) for v in viewers]
        res["viewer_errors"] = sum(v.errors for v in viewers)
        res["session_wall_s"] = round(t_end, 1)
        res["effective_rate"] = round(seconds / t_end, 2)
        bad = [(p.bench_name, p.returncode, first_line(p.bench_log)) for p in fprocs
               if p.returncode not in (0, None)]
        if bad:
            res["valid"] = False
            res["problems"].append("feeders failed: %s" % bad)
        if server.poll() is None:
            st = read_status_kib(server.pid)
            res["hwm_kib"] = st and st.get("VmHWM")
            try:
                final = {"s%d" % k: http_json("http://127.0.0.1:%d/api/v1/sessions/s%d"
                                              % (http_port, k)) for k in range(1, n + 1)}
                res["api_end"] = final
            except (OSError, ValueError, urllib.error.URLError) as e:
                res["problems"].append("API at end: %s" % e)
        res["api_during"] = api
        lost = sum((find_key(j, "packets_lost") or 0) + (find_key(j, "packets_dropped") or 0)
                   for j in api.values() if isinstance(j, dict))
        if lost:
            res["problems"].append("SRT packets lost+dropped (API, last poll while "
                                   "publishing): %d" % lost)
        rec = [find_key(j.get("recording", {}), "segments") for j in res.get("api_end", {}).values()
               if isinstance(j, dict)]
        res["recording_segments"] = rec
        res["disk_bytes"] = du(data_dir)
        stop = Procs.stop([server], PODIUM_STOP_GRACE)[server.pid]
        res["podium_exit"] = {"rc": stop[0], "seconds": stop[1], "killed": stop[2]}
        if stop[2]:
            res["problems"].append("podium did not exit within %.0f s of SIGTERM" % PODIUM_STOP_GRACE)
        elif stop[0] != 0:
            res["problems"].append("podium exit status %s after SIGTERM" % stop[0])
        res["log_errors"], res["log_errors_count"] = log_lines(plog, r"level=(error|fatal)")
        res["log_warnings"], res["log_warnings_count"] = log_lines(plog, r"level=warn")
        res["segments_in"] = podium_segment_home(plog)
        if args.floor:
            res["floor"] = []
            for rate in (args.rate, 1.0):
                log("libsrt alone (srt_sink): %d session(s) at %gx for %.0f s"
                    % (n, rate, args.floor_seconds))
                res["floor"].append(memory_floor(args, media, rate, work, logdir, procs))
    except RuntimeError as e:
        res["valid"] = False
        res["problems"].append(str(e))
    except (KeyboardInterrupt, Interrupted) as e:
        log("interrupted (%s): reporting what was sampled" % (e or "SIGINT"))
        meta["interrupted"] = True
    finally:
        procs.stop_all()
    meta["host"]["loadavg_end"] = loadavg()
    res["rss_series_kib"] = series
    res["window_polls"] = windows
    res["paired_polls"] = pairs
    summary = memory_summary(res, series, windows, api, args)
    write_json(json_path, {"meta": meta, "summary": summary, "run": res})
    shutil.copytree(logdir, final_logs, dirs_exist_ok=True)
    text = memory_markdown(meta, summary, res, args)
    write_md(json_path, text)
    print(text, flush=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log("kept " + work)
    return 1 if not res["valid"] or meta.get("interrupted") else 0


def window_fill_s(rate):
    """Wall seconds until the live window is full: window x segment_duration
    media seconds (podium_config's 6 x 2.0), plus one segment of slack."""
    return (6 + 1) * 2.0 / rate


def memory_summary(res, series, windows, api, args):
    s = {}
    if not series:
        return s
    t_total = series[-1][0]
    fill_t = window_fill_s(args.rate)
    start_flat = max(fill_t, 0.10 * t_total)
    after = [v for t, v in series if t >= start_flat]
    s["rss_at_10pct_kib"] = at_fraction(series, t_total, 0.10)
    s["rss_at_50pct_kib"] = at_fraction(series, t_total, 0.50)
    s["rss_at_100pct_kib"] = series[-1][1]
    s["rss_max_kib"] = max(v for _, v in series)
    s["rss_idle_kib"] = res.get("rss_idle_kib")
    s["hwm_kib"] = res.get("hwm_kib")
    s["flat_from_s"] = round(start_flat, 1)
    if after:
        lo, hi = min(after), max(after)
        s["flat_spread"] = (hi - lo) / lo
        s["flat"] = s["flat_spread"] <= FLAT_TOLERANCE
    good = [w for w in windows if isinstance(w[2], int)]
    if good:
        s["window_bytes_max"] = max(w[2] for w in good)
        s["window_bytes_median"] = statistics.median(w[2] for w in good)
        s["window_segments"] = statistics.median(w[1] for w in good)
    j = api.get("s1") if isinstance(api, dict) else None
    if isinstance(j, dict):
        br, td = find_key(j, "bitrate_bps"), find_key(j, "target_duration")
        if br and td:
            s["window_bytes_from_api"] = br / 8.0 * td * 6
    n = args.streams
    s["rss_per_session_kib"] = s["rss_max_kib"] / n
    if s["rss_idle_kib"]:
        s["rss_marginal_per_session_kib"] = (s["rss_max_kib"] - s["rss_idle_kib"]) / n
    if "window_bytes_max" in s:
        s["budget_kib"] = s["window_bytes_max"] / 1024.0 + SLACK_KIB
    pairs = res.get("paired_polls") or []
    if pairs:
        over = [p[1] for p in pairs]
        s["paired_n"] = len(over)
        s["paired_discarded"] = res.get("pair_discarded", 0)
        s["paired_over_max_kib"] = max(over)
        s["paired_over_median_kib"] = statistics.median(over)
        s["paired_window_median_kib"] = statistics.median(p[2] for p in pairs)
    if res.get("session_mem_max_kib") is not None and res.get("session_mem_idle_kib") is not None:
        s["session_mem_per_session_kib"] = (res["session_mem_max_kib"]
                                            - res["session_mem_idle_kib"]) / n
    return s


def mib(kib):
    return "%.1f" % (kib / 1024.0) if kib is not None else "n/a"


def memory_markdown(meta, s, res, args):
    out = header_lines("Podium memory benchmark (RSS over a long session)", meta)
    w = out.append
    pm = meta["podium"]
    w("- podium: `%s` (%s, %s build, binary of %s, sha256 %s; work tree at start: %s); "
      "config: segment_duration 2.0, window 6, one data_dir (recording on)"
      % (pm["binary"], pm["version"], pm["build_type"], pm["built"], pm["sha256"][:12], pm["tree"]))
    w("- Podium's live segments: %s, their pages counted whether mapped or not"
      % res.get("segments_in", "?"))
    w("- media: `%s` %.1f s, %.2f Mbit/s, looped to %.0f media-min per session"
      % (rel(meta["media"]["path"]), meta["media"]["duration_s"],
         meta["media"]["bit_rate"] / 1e6, args.minutes))
    w("- feeder, one per session (not measured): `%s`" % meta["feeder_cmd"])
    w("- %d session(s) fed over SRT at %gx real time: %.0f media-s in %.0f s wall "
      "(effective %.2fx); VmRSS of the Podium process sampled every %.0f s; "
      "live window sized from the playlist (HEAD of each segment) every %.0f s"
      % (args.streams, args.rate, args.minutes * 60, res.get("session_wall_s", 0),
         res.get("effective_rate", 0), MEM_SAMPLE_PERIOD, MEM_WINDOW_POLL))
    w("- flat = (max - min) / min of the samples from %.0f s wall on (10%% of the session, "
      "after the window filled) <= %d%%" % (s.get("flat_from_s", 0), FLAT_TOLERANCE * 100))
    w("")
    w("| sessions | media min | idle RSS MiB | RSS 10% | RSS 50% | RSS 100% | RSS max "
      "| VmHWM | flat after fill |")
    w("| --: | --: | --: | --: | --: | --: | --: | --: | --- |")
    flat = ("yes" if s.get("flat") else "NO") + (" (spread %.1f%%)" % (100 * s["flat_spread"])
                                                 if "flat_spread" in s else "")
    w("| %d | %.0f | %s | %s | %s | %s | %s | %s | %s |" % (
        args.streams, args.minutes, mib(s.get("rss_idle_kib")), mib(s.get("rss_at_10pct_kib")),
        mib(s.get("rss_at_50pct_kib")), mib(s.get("rss_at_100pct_kib")),
        mib(s.get("rss_max_kib")), mib(s.get("hwm_kib")), flat if s else "n/a"))
    w("")
    w("| per session | MiB |")
    w("| --- | --: |")
    w("| live window bytes (playlist + HEAD, max of polls; %s segments) | %s |" % (
        "%g" % s["window_segments"] if "window_segments" in s else "?",
        "%.2f" % (s["window_bytes_max"] / 1048576.0) if "window_bytes_max" in s else "n/a"))
    if "window_bytes_from_api" in s:
        w("| live window from the API (bitrate_bps / 8 x target_duration x 6) | %.2f |"
          % (s["window_bytes_from_api"] / 1048576.0))
    w("| **budget: window bytes + 2 MiB** | **%s** |" % mib(s.get("budget_kib")))
    w("| RSS max / sessions (whole process) | %s |" % mib(s.get("rss_per_session_kib")))
    w("| (RSS max - idle RSS) / sessions | %s |" % mib(s.get("rss_marginal_per_session_kib")))
    mx, idle = res.get("rss_max_detail_kib") or {}, res.get("rss_idle_detail_kib") or {}
    if "RssAnon" in mx and "RssAnon" in idle:
        w("| at the RSS max: anonymous (heap, SRT buffers) / file-backed (code) RSS, "
          "whole process | %s / %s |" % (mib(mx["RssAnon"]), mib(mx["RssFile"])))
        w("| (anonymous RSS at max - idle anonymous RSS) / sessions | %s |"
          % mib((mx["RssAnon"] - idle["RssAnon"]) / args.streams))
    if "session_mem_per_session_kib" in s:
        d = res.get("session_mem_max_detail_kib", {})
        w("| **(anonymous + shmem RSS + segment pages RSS does not show) at its max - idle, / "
          "sessions** (at the max: anon %s, shmem %s, segment pages not in RSS %s MiB, whole "
          "process) | **%s** |"
          % (mib(d.get("RssAnon")), mib(d.get("RssShmem")), mib(d.get("memfd_unmapped")),
             mib(s["session_mem_per_session_kib"])))
    if "paired_n" in s:
        w("| **same instant, every %.0f s after the window filled: session memory above idle "
          "minus the live windows of all sessions (playlists read before and after the sample), "
          "/ sessions, max [median] of %d polls (%d skipped: a segment was listed meanwhile)** "
          "| **%s [%s]** (window %s) |"
          % (MEM_PAIR_POLL, s["paired_n"], s["paired_discarded"], mib(s["paired_over_max_kib"]),
             mib(s["paired_over_median_kib"]), mib(s["paired_window_median_kib"])))
    if args.viewers:
        w("| viewers per session (each GETs every segment) / segments fetched each / errors "
          "| %d / %s / %d |" % (args.viewers, ",".join(str(x) for x in res.get("viewer_segments", [])),
                                res.get("viewer_errors", 0)))
    w("")
    if "budget_kib" in s:
        verdict = []
        for key, label in (("rss_per_session_kib", "whole-process RSS per session"),
                           ("rss_marginal_per_session_kib", "RSS above idle per session"),
                           ("session_mem_per_session_kib",
                            "session memory (anon + shmem + segment pages not in RSS) above idle")):
            if s.get(key) is not None:
                verdict.append("%s %s the budget (%.1f vs %.1f MiB)" % (
                    label, "within" if s[key] <= s["budget_kib"] else "OVER",
                    s[key] / 1024, s["budget_kib"] / 1024))
        if "paired_over_max_kib" in s:
            verdict.append("at the same instant, session memory above the live window %s "
                           "2 MiB (%.2f MiB at most)" % (
                               "within" if s["paired_over_max_kib"] <= SLACK_KIB else "OVER",
                               s["paired_over_max_kib"] / 1024))
        w("Verdict: " + "; ".join(verdict) + ".")
        w("")
    fl = [x for x in res.get("floor", []) if x.get("valid") and "rss_median_kib" in x]
    if len(fl) == 2:
        grow = (fl[0]["rss_median_kib"] - fl[1]["rss_median_kib"]) / args.streams
        w("libsrt alone (`tests/bench/srt_sink --blocking`, the same listener, passphrases and "
          "SRT latency, the payload discarded), %d session(s), %.0f s each way, VmRSS median "
          "[max] after the first %.0f s: **%.0f [%.0f] KiB at %gx, %.0f [%.0f] KiB at 1x: the "
          "feed rate costs libsrt itself %+.0f KiB per session** (its receive buffer holds the "
          "packets of the SRT latency, %g times as many at %gx)."
          % (args.streams, args.floor_seconds, MEM_FLOOR_SKIP_S,
             fl[0]["rss_median_kib"], fl[0]["rss_max_kib"], fl[0]["rate"],
             fl[1]["rss_median_kib"], fl[1]["rss_max_kib"], grow,
             fl[0]["rate"], fl[0]["rate"]))
        w("")
    for x in res.get("floor", []):
        if not x.get("valid"):
            w("libsrt alone at %gx: INVALID: %s" % (x["rate"], "; ".join(x["problems"])))
            w("")
    w("Recording: %s segments, %.0f MB in data_dir at the end; Podium exit: %s." % (
        ",".join(str(x) for x in res.get("recording_segments", [])) or "?",
        res.get("disk_bytes", 0) / 1e6, res.get("podium_exit", "?")))
    w("")
    notes = []
    if not res["valid"]:
        notes.append("- INVALID: %s (log: %s)" % ("; ".join(res["problems"]), res.get("log")))
    elif res["problems"]:
        notes.append("- " + "; ".join(res["problems"]))
    if res.get("log_errors_count"):
        notes.append("- %d error line(s) in %s, first: `%s`"
                     % (res["log_errors_count"], res.get("log"), res["log_errors"][0]))
    if res.get("log_warnings_count"):
        notes.append("- %d warning line(s) in %s, first: `%s`"
                     % (res["log_warnings_count"], res.get("log"), res["log_warnings"][0]))
    if meta.get("interrupted"):
        notes.append("- interrupted before the end of the session")
    if notes:
        w("Notes:")
        w("")
        out.extend(notes)
        w("")
    w("Raw numbers (RSS every second): `%s`" % rel(meta["json"]))
    return "\n".join(out)


# --------------------------------------------------------------------------
# latency: frame leaving the publisher -> its part/segment downloadable

LAT_WARMUP_S = 2.0
LAT_STEADY_S = 6.0  # ffmpeg's input probe (analyzeduration 5 s) is over by then
LAT_POLL_S = 0.005
PART_RE = re.compile(r'#EXT-X-PART:(.*)')
ATTR_RE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
PART_URI_RE = re.compile(r'(\d+)\.(\d+)\.m4s$')
LAT_KINDS = ("podium", "podium-ts", "peer", "floor", "floor-ll")
SEG_URI_RE = re.compile(r'(\d+)\.(?:m4s|ts)$')


def latency_args(argv):
    ap = argparse.ArgumentParser(
        prog="scripts/bench latency",
        description="End-to-end latency, frame leaving the publisher -> its part "
        "(Podium LL-HLS) / segment (ffmpeg -f hls) downloadable, same feeder.")
    ap.add_argument("--seconds", type=float, default=30.0, help="media seconds per run (default 30)")
    ap.add_argument("--runs", type=int, default=2, help="runs per side, alternating (default 2)")
    ap.add_argument("--warmup", type=float, default=LAT_WARMUP_S,
                    help="media seconds excluded at the start (default %g)" % LAT_WARMUP_S)
    ap.add_argument("--only", choices=LAT_KINDS, help="run one side only")
    ap.add_argument("--podium", default=os.path.join(BUILD, "podium"),
                    help="podium binary (default build/podium; built if missing)")
    ap.add_argument("--sink", default=os.path.join(BUILD, "tests", "srt_sink"),
                    help="libsrt alone, the floor run: tests/bench/srt_sink (default "
                    "build/tests/srt_sink; built if missing)")
    ap.add_argument("--tmpdir", default=None, help="where the work directory goes")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", help="result file (default build/bench-results/latency-<timestamp>.json)")
    a = ap.parse_args(argv)
    if a.runs < 1 or a.warmup < 0 or a.seconds <= a.warmup + 2:
        ap.error("runs must be >= 1 and seconds > warmup + 2")
    return a


def latency_config(data_dir, ts=False):
    """LL-HLS (fMP4 parts), or with ts classic HLS: TS segments of 1 s, the
    same as the peer's."""
    hls = ["format = ts"] if ts else ["format = fmp4", "part_duration = 0.2"]
    return "\n".join(["[server]",
                      "srt_listen  = 127.0.0.1:0",
                      "http_listen = 127.0.0.1:0",
                      "data_dir    = %s" % data_dir,
                      "[hls]"] + hls + [
                      "segment_duration = 1",
                      "window = 12",
                      "[srt]",
                      "latency_ms = %d" % (SRT_LATENCY_US // 1000),
                      "[session s1]",
                      "title = bench latency",
                      "passphrase = %s" % passphrase(1)]) + "\n"


def latency_feeder_argv(url, seconds):
    """Live encode (same for both sides); -progress on stdout for T0."""
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
            "-f", "lavfi", "-i", "sine=sample_rate=48000",
            "-t", "%g" % seconds,
            "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
            "-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-progress", "pipe:1", "-stats_period", "0.1",
            "-f", "mpegts", url]


def latency_tee_argv(urls, seconds):
    """The same encode, each packet sent to every url in turn (tee muxer)."""
    argv = latency_feeder_argv(urls[0], seconds)[:-3]
    return argv + ["-map", "0:v", "-map", "1:a", "-f", "tee",
                   "|".join("[f=mpegts]" + u for u in urls)]


def latency_peer_argv(port, out_dir):
    url = "srt://127.0.0.1:%d?mode=listener&latency=%d&passphrase=%s" % (
        port, SRT_LATENCY_US, passphrase(1))
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", url,
            "-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
            os.path.join(out_dir, "index.m3u8")]


class Feeder:
    """The feeder ffmpeg with its -progress stdout read by a thread:
    T0 = min over progress blocks of (monotonic arrival - out_time), i.e. the
    tightest upper bound of the wall time of media time 0 leaving ffmpeg
    (a block is printed after the packets up to out_time were written)."""

    def __init__(self, argv, log_path):
        import threading
        self.t_start = time.monotonic()
        err = open(log_path, "ab")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=err, start_new_session=True)
        err.close()
        self.log_path = log_path
        self.t0 = None
        self.first_progress = None  # (arrival - start, out_time) of the first block
        self.blocks = 0
        self.th = threading.Thread(target=self._read, daemon=True)
        self.th.start()

    def _read(self):
        for raw in self.p.stdout:
            now = time.monotonic()
            line = raw.decode("ascii", "replace").strip()
            if not line.startswith("out_time_us="):
                continue
            try:
                ot = int(line.split("=", 1)[1]) / 1e6
            except ValueError:
                continue  # N/A before the first packet
            if ot <= 0:
                continue
            self.blocks += 1
            if self.first_progress is None:
                self.first_progress = (round(now - self.t_start, 4), ot)
            est = now - ot
            if self.t0 is None or est < self.t0:
                self.t0 = est

    def stop(self):
        Procs.stop([self.p], 3.0)
        self.th.join(timeout=2.0)


def parse_attrs(s):
    return {k: v.strip('"') for k, v in ATTR_RE.findall(s)}


def follow_podium(http_port, feeder, stop_at):
    """Blocking reloads on the preload-hinted part; {(seq, i): [dur, T_avail]},
    {seq: EXTINF}, counters."""
    base = "http://127.0.0.1:%d/live/s1/index.m3u8" % http_port
    parts, extinf, st = {}, {}, {"requests": 0, "blocking": 0, "errors": 0}
    hint = None
    fed_end = None
    while time.monotonic() < stop_at:
        if feeder.p.poll() is not None:
            fed_end = fed_end or time.monotonic()
            if time.monotonic() - fed_end > 2.0:  # last parts are out by then
                break
        url = base + ("?_HLS_msn=%d&_HLS_part=%d" % hint if hint else "")
        try:
            with urllib.request.urlopen(url, timeout=max(0.5, min(5.0, stop_at - time.monotonic()))) as r:
                text = r.read().decode("utf-8", "replace")
            now = time.monotonic()
        except urllib.error.HTTPError as e:
            st["errors"] += 1
            if e.code not in (404, 503):
                st["last_error"] = "HTTP %d" % e.code
            time.sleep(LAT_POLL_S)
            continue
        except (OSError, urllib.error.URLError) as e:
            st["errors"] += 1
            st["last_error"] = str(e)
            time.sleep(LAT_POLL_S)
            if feeder.p.poll() is not None:
                break
            continue
        st["requests"] += 1
        st["blocking"] += hint is not None
        last_extinf = None
        new_hint = None
        for line in text.splitlines():
            m = PART_RE.match(line)
            if m:
                a = parse_attrs(m.group(1))
                u = PART_URI_RE.search(a.get("URI", ""))
                if u:
                    key = (int(u.group(1)), int(u.group(2)))
                    if key not in parts:
                        parts[key] = [float(a.get("DURATION", 0)), now]
                continue
            if line.startswith("#EXTINF:"):
                last_extinf = float(line[8:].split(",")[0])
            elif line.startswith("#EXT-X-PRELOAD-HINT:"):
                u = PART_URI_RE.search(parse_attrs(line[20:]).get("URI", ""))
                if u:
                    new_hint = (int(u.group(1)), int(u.group(2)))
            elif line and not line.startswith("#") and last_extinf is not None:
                u = SEG_URI_RE.search(line.strip())
                if u:
                    extinf.setdefault(int(u.group(1)), last_extinf)
                last_extinf = None
        if new_hint is None:
            time.sleep(LAT_POLL_S)
        elif new_hint == hint:
            time.sleep(LAT_POLL_S)  # hold ended without the part (publisher gone?)
        hint = new_hint
    return parts, extinf, st


def podium_samples(parts, extinf, t0):
    """[(t_end, T_avail - (T0 + t_end))] for every part, t_end = media end time
    since the stream start (EXTINF of earlier segments + this segment's parts)."""
    if not parts:
        return [], {}
    seqs = sorted({s for s, _ in parts} | set(extinf))
    first = seqs[0]
    out, start, holes = [], 0.0, 0
    for s in seqs:
        idx = sorted(i for q, i in parts if q == s)
        if idx and idx != list(range(idx[-1] + 1)):
            holes += 1
        acc = start
        for i in idx:
            d, t = parts[(s, i)]
            acc += d
            out.append((round(acc, 4), t - (t0 + acc)))
        seg = extinf.get(s)
        if seg is None:
            seg = sum(parts[(s, i)][0] for i in idx)
        start += seg
    return out, {"first_seq": first, "segments": len(seqs), "parts": len(parts),
                 "segments_with_part_holes": holes}


def read_file_text(path):
    """A playlist file as text; "" while missing or half written."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return ""
    return text if text.endswith("\n") else ""


def read_url_text(url):
    try:
        with urllib.request.urlopen(url, timeout=2.0) as r:
            return r.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError):
        return ""


def follow_peer(read_text, feeder, stop_at):
    """Poll a playlist every 5 ms (read_text() -> its text or ""):
    [(uri, EXTINF, T_avail)], T_avail = the first poll listing the segment.
    Ends at ENDLIST after the feeder, or 2 s after it (live playlists)."""
    segs, seen = [], set()
    fed_end = None
    while time.monotonic() < stop_at:
        text = read_text()
        now = time.monotonic()
        dur = None
        for line in text.splitlines():
            if line.startswith("#EXTINF:"):
                dur = float(line[8:].split(",")[0])
            elif line and not line.startswith("#") and dur is not None:
                if line not in seen:
                    seen.add(line)
                    segs.append((line.strip(), dur, now))
                dur = None
        if feeder.p.poll() is not None:
            fed_end = fed_end or now
            if "#EXT-X-ENDLIST" in text or now - fed_end > 2.0:
                break
        time.sleep(LAT_POLL_S)
    return segs


def peer_samples(segs, t0):
    out, acc = [], 0.0
    for _, d, t in segs:
        acc += d
        out.append((round(acc, 4), t - (t0 + acc)))
    return out


def feeder_result(res, feeder):
    res["feeder_rc"] = feeder.p.returncode
    res["t0_from_start_s"] = round(feeder.t0 - feeder.t_start, 4) if feeder.t0 else None
    res["first_progress"] = feeder.first_progress
    res["progress_blocks"] = feeder.blocks
    if feeder.t0 is None:
        res["valid"] = False
        res["problems"].append("no -progress output from the feeder (log %s)"
                               % rel(feeder.log_path))
    elif feeder.p.returncode not in (0, None):
        res["problems"].append("feeder exit %s: %s" % (feeder.p.returncode,
                                                       first_line(feeder.log_path)))


def lat_start_podium(args, procs, tmp, ts, plog):
    """Podium with latency_config(ts) in tmp, its log plog: (proc, SRT port,
    HTTP port)."""
    data_dir = os.path.join(tmp, "data")
    os.makedirs(data_dir)
    conf = os.path.join(tmp, "podium.ini")
    with open(conf, "w") as f:
        f.write(latency_config(data_dir, ts))
    server = procs.start([args.podium_bin, "-c", conf], plog, "podium")
    srt_port, http_port = podium_ports(plog, server, time.monotonic() + PODIUM_START_DEADLINE)
    return server, srt_port, http_port


def follow_live(http_port, feeder, seconds, ts):
    """Podium's live playlist until the feeder is done. ts: the segments
    [(uri, EXTINF, T_avail)], polled every 5 ms; else (parts, EXTINFs) by
    blocking reloads (follow_podium). Returns (that, counters)."""
    stop_at = time.monotonic() + seconds + 10.0
    if ts:
        url = "http://127.0.0.1:%d/live/s1/index.m3u8" % http_port
        segs = follow_peer(lambda: read_url_text(url), feeder, stop_at)
        return segs, {"segments": len(segs)}
    parts, extinf, st = follow_podium(http_port, feeder, stop_at)
    return (parts, extinf), st


def lat_run_podium(r, args, procs, work, kind="podium"):
    """kind podium: LL-HLS parts by blocking reloads; podium-ts: TS segments,
    the playlist polled every 5 ms like the peer's file."""
    ts = kind == "podium-ts"
    res = {"kind": kind, "run": r, "valid": True, "problems": []}
    tmp = tempfile.mkdtemp(prefix="lat-%s-r%d-" % (kind, r), dir=work)
    with run_guard(res, procs, tmp, args.keep) as held:
        plog = os.path.join(args.logdir, "%s-r%d.log" % (kind, r))
        res["log"] = rel(os.path.join(args.final_logdir, os.path.basename(plog)))
        server, srt_port, http_port = lat_start_podium(args, procs, tmp, ts, plog)
        res["ports"] = {"srt": srt_port, "http": http_port}
        time.sleep(0.5)
        feeder = Feeder(latency_feeder_argv(feed_url(srt_port, 1), args.seconds),
                        os.path.join(args.logdir, "feeder-%s-r%d.log" % (kind, r)))
        held.append(feeder)
        got, st = follow_live(http_port, feeder, args.seconds, ts)
        feeder.p.wait(timeout=5)
        res["http"] = st
        feeder_result(res, feeder)
        if feeder.t0 is not None and ts:
            res["samples"] = peer_samples(got, feeder.t0)
            if got:
                res["first_segment_s"] = got[0][2] - feeder.t0
        elif feeder.t0 is not None:
            samples, info = podium_samples(*got, feeder.t0)
            res.update(info)
            res["samples"] = samples
        if not res.get("samples"):
            res["valid"] = False
            res["problems"].append("no %s seen (%s)" % ("segments" if ts else "parts", st))
        if server.poll() is not None:
            res["valid"] = False
            res["problems"].append("podium exited during the run (rc %s)" % server.returncode)
        stop = Procs.stop([server], PODIUM_STOP_GRACE)[server.pid]
        res["podium_exit"] = {"rc": stop[0], "seconds": stop[1], "killed": stop[2]}
        res["log_errors"], res["log_errors_count"] = log_lines(plog, r"level=(error|fatal)")
        res["log_warnings"], res["log_warnings_count"] = log_lines(plog, r"level=warn")
    return res


def lat_run_peer(r, args, procs, work):
    res = {"kind": "peer", "run": r, "valid": True, "problems": []}
    tmp = tempfile.mkdtemp(prefix="lat-peer-r%d-" % r, dir=work)
    with run_guard(res, procs, tmp, args.keep) as held:
        port = free_udp_ports(1)[0]
        out = os.path.join(tmp, "hls")
        os.makedirs(out)
        server = procs.start(latency_peer_argv(port, out),
                             os.path.join(args.logdir, "peer-r%d.log" % r), "peer")
        deadline = time.monotonic() + LISTENER_DEADLINE
        while not udp_bound(port):
            if server.poll() is not None:
                raise RuntimeError("peer exited (%s) before listening" % server.returncode)
            if time.monotonic() > deadline:
                raise RuntimeError("peer not listening on udp %d" % port)
            time.sleep(0.05)
        time.sleep(0.5)
        feeder = Feeder(latency_feeder_argv(feed_url(port, 1), args.seconds),
                        os.path.join(args.logdir, "feeder-peer-r%d.log" % r))
        held.append(feeder)
        stop_at = time.monotonic() + args.seconds + 10.0
        path = os.path.join(out, "index.m3u8")
        segs = follow_peer(lambda: read_file_text(path), feeder, stop_at)
        feeder.p.wait(timeout=5)
        feeder_result(res, feeder)
        res["segments"] = len(segs)
        if feeder.t0 is not None:
            res["samples"] = peer_samples(segs, feeder.t0)
            if segs:
                res["first_segment_s"] = segs[0][2] - feeder.t0
        if not res.get("samples"):
            res["valid"] = False
            res["problems"].append("no segments seen in %s" % out)
        Procs.stop([server], 5.0)
    return res


def read_frames(path):
    """srt_sink --frames lines "<monotonic s> <PTS> <key>" -> [(t_end, handed
    over at, key)], t_end = PTS - the first keyframe's (media time 0, where
    the first segment begins), in seconds; frames before it left out."""
    with open(path) as f:
        rows = [(float(a), int(b), c == "1") for a, b, c in (line.split() for line in f if line.strip())]
    first = next((i for i, r in enumerate(rows) if r[2]), None)
    if first is None:
        return []
    p0 = rows[first][1]
    return [(((pts - p0) % (1 << 33)) / 90000.0, t, key) for t, pts, key in rows[first:]]


def nearest(frames, t_end, tol):
    """The frame whose t_end is within tol of t_end, or None."""
    f = min(frames, key=lambda k: abs(k[0] - t_end), default=None)
    return f if f is not None and abs(f[0] - t_end) < tol else None


def beside_samples(segs, frames):
    """Podium's TS segments [(uri, EXTINF, T_avail)] against the frames
    libsrt handed srt_sink from the same feeder: per segment, T_avail - when
    its closing keyframe (the one at its cumulative EXTINF) was handed over."""
    keys = [f for f in frames if f[2]]
    out, acc = [], 0.0
    for _, d, t in segs:
        acc += d
        k = nearest(keys, acc, 0.02)
        if k is not None:
            out.append((round(acc, 4), t - k[1]))
    return out


def beside_part_samples(parts, extinf, frames):
    """Podium's LL-HLS parts (follow_podium) against the same frames: per
    part, T_avail - when the frame that closes it was handed over. Each
    segment's start is snapped to its keyframe, so rounded EXTINFs do not
    add up; a part ends at its segment's start + the parts so far."""
    keys = [f for f in frames if f[2]]
    frame_s = min((b[0] - a[0] for a, b in zip(frames, frames[1:]) if b[0] > a[0]), default=0.033)
    by_seg = {}
    for q, i in sorted(parts):
        by_seg.setdefault(q, []).append(parts[(q, i)])
    out, start = [], 0.0
    for s in sorted(set(by_seg) | set(extinf)):
        k = nearest(keys, start, 0.02)
        if k is not None:
            start = k[0]
        acc = start
        for d, t in by_seg.get(s, []):
            acc += d
            f = nearest(frames, acc, frame_s / 2)
            if f is not None:
                out.append((round(acc, 4), t - f[1]))
        seg = extinf.get(s)
        start += seg if seg is not None else sum(d for d, _ in by_seg.get(s, []))
    return out


def lat_run_floor(r, args, procs, work, kind="floor"):
    """Podium beside libsrt alone (srt_sink, a thread blocked per connection
    as Podium's), one feeder sending the same packets to both (ffmpeg's tee
    muxer). floor: TS segments, per segment the time from libsrt handing
    over the first TS packet of its closing keyframe, the earliest any server
    on libsrt could list it, to Podium listing it; floor-ll: LL-HLS parts by
    blocking reloads, per part the same from the frame that closes it. No T0
    is involved."""
    ts = kind == "floor"
    res = {"kind": kind, "run": r, "valid": True, "problems": []}
    tmp = tempfile.mkdtemp(prefix="lat-%s-r%d-" % (kind, r), dir=work)
    with run_guard(res, procs, tmp, args.keep) as held:
        plog = os.path.join(args.logdir, "%s-podium-r%d.log" % (kind, r))
        server, srt_port, http_port = lat_start_podium(args, procs, tmp, ts, plog)
        creds = os.path.join(tmp, "sessions")
        with open(creds, "w") as f:
            f.write("s1 %s\n" % passphrase(1))
        frames_path = os.path.join(tmp, "frames")
        out = os.path.join(args.logdir, "%s-r%d.log" % (kind, r))
        sink = procs.start([args.sink_bin, "--blocking", "--latency", str(SRT_LATENCY_US // 1000),
                            "--frames", frames_path, creds], out, "srt_sink")
        port = sink_port(sink, out)
        time.sleep(0.5)
        feeder = Feeder(latency_tee_argv([feed_url(srt_port, 1), feed_url(port, 1)], args.seconds),
                        os.path.join(args.logdir, "feeder-%s-r%d.log" % (kind, r)))
        held.append(feeder)
        got, _ = follow_live(http_port, feeder, args.seconds, ts)
        feeder.p.wait(timeout=5)
        feeder_result(res, feeder)
        Procs.stop([sink], 3.0)
        frames = read_frames(frames_path)
        if ts:
            res["samples"] = beside_samples(got, frames)
            if got and frames:
                res["first_segment_s"] = got[0][2] - frames[0][1]
            seen = "%d segments" % len(got)
        else:
            res["samples"] = beside_part_samples(*got, frames)
            seen = "%d parts" % len(got[0])
        if not res["samples"]:
            res["valid"] = False
            res["problems"].append("no %s matched a frame: %s, %d frames (log %s)"
                                   % ("segment" if ts else "part", seen, len(frames), rel(out)))
        Procs.stop([server], PODIUM_STOP_GRACE)
    return res


def pctl(vals, q):
    """q-quantile, linear interpolation between closest ranks."""
    v = sorted(vals)
    if not v:
        return None
    k = (len(v) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def kept(samples, warmup):
    """Samples after the warm-up, without the last one (closed by the end of
    the stream, not by the next frame)."""
    return [l for t, l in samples[:-1] if t > warmup]


def lat_stats(runs, kind, warmup):
    sel = [x for x in runs if x["kind"] == kind and x["valid"] and x.get("samples")]
    vals = [l for x in sel for l in kept(x["samples"], warmup)]
    per_run = [statistics.median(kept(x["samples"], warmup) or [float("nan")]) for x in sel]
    if not vals:
        return None
    return {"median": statistics.median(vals), "p95": pctl(vals, 0.95),
            "min": min(vals), "max": max(vals), "n": len(vals), "runs": len(sel),
            "run_medians": per_run}


def latency_markdown(meta, runs, summ):
    out = header_lines("Podium latency benchmark (publisher -> downloadable)", meta)
    w = out.append
    pm = meta["podium"]
    if pm:
        w("- podium: `%s` (%s, %s build, binary of %s, sha256 %s; work tree at start: %s); "
          "config: format fmp4, segment_duration 1, part_duration 0.2, window 12 (LL-HLS) "
          "or format ts, segment_duration 1 (TS), SRT latency %d ms"
          % (pm["binary"], pm["version"], pm["build_type"], pm["built"], pm["sha256"][:12],
             pm["tree"], SRT_LATENCY_US // 1000))
    w("- feeder (same for both, live x264 encode): `%s`" % meta["feeder_cmd"])
    w("- peer: `%s`" % meta["peer_cmd"])
    w("- T0 (wall time of media time 0 leaving the feeder) = min over the feeder's "
      "-progress blocks (every 0.1 s) of (arrival time - out_time); median T0 - process "
      "start: %s s" % meta.get("t0_offset_median", "?"))
    w("- Podium: blocking playlist reloads on the PRELOAD-HINT part "
      "(`index.m3u8?_HLS_msn=M&_HLS_part=P`); T_avail = when the reply listing the part "
      "arrives; t_end = EXTINF of earlier segments + DURATION of this segment's parts "
      "so far. Podium TS: playlist polled over HTTP every 5 ms; peer: playlist file "
      "polled every 5 ms; T_avail = first poll listing the segment; t_end = cumulative "
      "EXTINF, so a TS/peer sample is the time from the segment's closing keyframe "
      "leaving the feeder to the segment being listed.")
    wu = meta["params"]["warmup_s"]
    w("- latency = T_avail - (T0 + t_end), per part (Podium) / segment (ffmpeg); "
      "%d run(s) x %g s per side, alternating; all samples of all valid runs pooled; "
      "excluded: media before the warm-up and the last part/segment of each run "
      "(closed by the end of the stream)" % (meta["params"]["runs"], meta["params"]["seconds"]))
    w("- Podium TS after libsrt hands over (bar 5): one feeder sends the same packets to "
      "Podium (TS) and to libsrt alone, `tests/bench/srt_sink --blocking --frames` (a "
      "thread blocked per connection, as Podium's), which notes when libsrt hands over "
      "each video keyframe's first TS packet: the earliest any server on libsrt could "
      "list the segment that keyframe closes. Sample = first poll listing the segment "
      "(every 5 ms) - that moment for its closing keyframe; no T0 involved. Feeder: "
      "the command above with `-map 0:v -map 1:a -f tee '[f=mpegts]PODIUM|[f=mpegts]SINK'`. "
      "Podium LL-HLS after libsrt hands over: the same with LL-HLS parts (blocking "
      "reloads), per part from the frame that closes it")
    w("- second block: after %g s of media, once ffmpeg's input probe "
      "(analyzeduration, 5 s by default) is over: the peer writes nothing during the probe, "
      "then its first segments all at once" % LAT_STEADY_S)
    w("")
    w("| server | media after | unit | median ms | p95 ms | [min-max] ms | samples (runs) "
      "| per-run medians ms |")
    w("| --- | --: | --- | --: | --: | --: | --: | --- |")
    for key, after in (("all", wu), ("steady", max(wu, LAT_STEADY_S))):
        for kind, label, unit in (("podium", "Podium LL-HLS", "part 0.2 s"),
                                  ("podium-ts", "Podium HLS (TS)", "segment 1 s"),
                                  ("peer", "ffmpeg -f hls", "segment 1 s"),
                                  ("floor", "Podium TS after libsrt hands over", "closing keyframe"),
                                  ("floor-ll", "Podium LL-HLS after libsrt hands over", "closing frame")):
            s = summ[key].get(kind)
            if not s:
                w("| %s | %g s | %s | n/a | n/a | n/a | 0 | |" % (label, after, unit))
                continue
            w("| %s | %g s | %s | %.0f | %.0f | [%.0f-%.0f] | %d (%d) | %s |" % (
                label, after, unit, s["median"] * 1e3, s["p95"] * 1e3, s["min"] * 1e3,
                s["max"] * 1e3, s["n"], s["runs"],
                ", ".join("%.0f" % (v * 1e3) for v in s["run_medians"])))
        q = summ[key].get("peer")
        for kind, label in (("podium", "LL-HLS"), ("podium-ts", "TS")):
            p = summ[key].get(kind)
            if p and q and p["median"] > 0 and p["p95"] > 0:
                w("| **ratio ffmpeg / Podium %s** | %g s | | **%.2f** | **%.2f** | | | |"
                  % (label, after, q["median"] / p["median"], q["p95"] / p["p95"]))
    w("")
    first = summ.get("first_segment_s", {})
    if any(first.values()):
        w("First segment listed, after the first keyframe left the feeder (media time 0), "
          "per run, s: Podium TS %s; ffmpeg %s. (Includes the SRT latency, %d ms; "
          "segment_duration 1 s.) **Podium TS beside libsrt alone: the first segment listed "
          "%s s after libsrt handed over the first keyframe** (bar 5: segment_duration + 0.1 s)."
          % (", ".join("%.3f" % v for v in first.get("podium-ts", [])) or "n/a",
             ", ".join("%.3f" % v for v in first.get("peer", [])) or "n/a",
             SRT_LATENCY_US // 1000,
             ", ".join("%.3f" % v for v in first.get("floor", [])) or "n/a"))
        w("")
    notes = []
    for x in runs:
        tag = "%s run %d" % (x["kind"], x["run"])
        if not x["valid"]:
            notes.append("- INVALID %s: %s" % (tag, "; ".join(x["problems"])))
        elif x["problems"]:
            notes.append("- %s: %s" % (tag, "; ".join(x["problems"])))
        if x.get("segments_with_part_holes"):
            notes.append("- %s: %d segment(s) with missing parts" % (tag, x["segments_with_part_holes"]))
        if x.get("log_errors_count"):
            notes.append("- %s: %d error line(s) in %s, first: `%s`"
                         % (tag, x["log_errors_count"], x.get("log"), x["log_errors"][0]))
    if notes:
        w("Notes:")
        w("")
        out.extend(notes)
        w("")
    w("Raw numbers (every sample: [t_end s, latency s]): `%s`" % rel(meta["json"]))
    return "\n".join(out)


def latency(argv):
    args = latency_args(argv)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    now, stamp = stamp_now()
    json_path = os.path.abspath(args.json or os.path.join(RESULTS_DIR, "latency-%s.json" % stamp))
    final_logs = os.path.splitext(json_path)[0] + "-logs"
    src_bin = None if args.only == "peer" else ensure_built(args.podium, "--podium")
    sink_bin = None if args.only not in (None, "floor", "floor-ll") else ensure_built(args.sink, "--sink")
    work = tempfile.mkdtemp(prefix="bench-latency-", dir=args.tmpdir)
    args.logdir = os.path.join(work, "logs")
    args.final_logdir = final_logs
    os.makedirs(args.logdir)
    args.podium_bin = None
    if src_bin:
        args.podium_bin = os.path.join(work, "podium")
        shutil.copy2(src_bin, args.podium_bin)
    args.sink_bin = sink_bin and snapshot(sink_bin, os.path.join(work, "srt_sink"))
    meta = {"date": now.isoformat(timespec="seconds"),
            "command": os.environ.get("PODIUM_BENCH_CMDLINE")
            or cmdline([sys.argv[0], "latency"] + argv),
            "params": {"seconds": args.seconds, "runs": args.runs, "only": args.only,
                       "warmup_s": args.warmup, "steady_after_s": max(args.warmup, LAT_STEADY_S)},
            "host": host_info(),
            "podium": src_bin and dict(binary_meta(src_bin), version=podium_version(args.podium_bin)),
            "feeder_cmd": cmdline(latency_feeder_argv(feed_url(9000, 1), args.seconds))
            .replace("9000", "PORT"),
            "peer_cmd": cmdline(latency_peer_argv(9000, "OUT")).replace("9000", "PORT"),
            "json": json_path, "logs": rel(final_logs)}
    runs, procs = [], Procs()
    log("%d run(s) of %.0f s per side (~%.0f min); logs will be in %s"
        % (args.runs, args.seconds,
           args.runs * (1 if args.only else len(LAT_KINDS)) * (args.seconds + 8) / 60,
           meta["logs"]))
    try:
        for r in range(1, args.runs + 1):
            for kind in LAT_KINDS:
                if args.only and kind != args.only:
                    continue
                if kind == "peer":
                    x = lat_run_peer(r, args, procs, work)
                elif kind in ("floor", "floor-ll"):
                    x = lat_run_floor(r, args, procs, work, kind)
                else:
                    x = lat_run_podium(r, args, procs, work, kind)
                runs.append(x)
                vals = kept(x.get("samples", []), args.warmup)
                log("%-9s run %d: %d samples, median %s ms, T0 - start %s s%s" % (
                    kind, r, len(vals),
                    "%.0f" % (statistics.median(vals) * 1e3) if vals else "n/a",
                    x.get("t0_from_start_s"),
                    "" if x["valid"] else "  INVALID: " + "; ".join(x["problems"])))
                time.sleep(1.0)
    except (KeyboardInterrupt, Interrupted) as e:
        log("interrupted (%s): reporting the runs done so far" % (e or "SIGINT"))
        meta["interrupted"] = True
    finally:
        procs.stop_all()
    meta["host"]["loadavg_end"] = loadavg()
    offs = [x["t0_from_start_s"] for x in runs if x.get("t0_from_start_s") is not None]
    meta["t0_offset_median"] = round(statistics.median(offs), 3) if offs else None
    summ = {key: {k: lat_stats(runs, k, after) for k in LAT_KINDS}
            for key, after in (("all", args.warmup), ("steady", max(args.warmup, LAT_STEADY_S)))}
    summ["first_segment_s"] = {
        k: [round(x["first_segment_s"], 3) for x in runs
            if x["kind"] == k and x["valid"] and "first_segment_s" in x]
        for k in ("podium-ts", "peer", "floor")}
    write_json(json_path, {"meta": meta, "summary": summ, "runs": runs})
    shutil.copytree(args.logdir, final_logs, dirs_exist_ok=True)
    text = latency_markdown(meta, runs, summ)
    write_md(json_path, text)
    print(text, flush=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log("kept " + work)
    return 1 if any(not x["valid"] for x in runs) or meta.get("interrupted") else 0


# --------------------------------------------------------------------------

# `all` must fit in 30 minutes on the 2-core machine: shorter runs than each
# subcommand's defaults, every figure still a median of several runs.
ALL_PLAN = (
    ("pipeline", []),                                        # ~5 min
    ("ingest", ["--streams", "16", "--seconds", "20", "--runs", "3", "--floor"]),  # ~4 min
    # the conference case: every session watched, its segments sent by sendfile
    ("ingest", ["--streams", "16", "--seconds", "20", "--runs", "3", "--only", "podium",
                "--viewers", "1"]),                          # ~1.5 min
    ("serve", ["--runs", "3", "--seconds", "8"]),            # ~4 min
    ("latency", ["--seconds", "30", "--runs", "2"]),         # ~6.5 min
    ("memory", ["--minutes", "20", "--floor"]),              # ~5 min
    ("scale", ["--seconds", "120"]),                         # ~4 min
)


def run_all(argv):
    if argv:
        print("bench: all takes no options (runs %s with shorter settings; run a "
              "subcommand alone for its defaults)" % ", ".join(n for n, _ in ALL_PLAN),
              file=sys.stderr)
        return 2
    rc = 0
    for name, args in ALL_PLAN:
        log("=== all: %s %s ===" % (name, " ".join(args)))
        os.environ["PODIUM_BENCH_CMDLINE"] = "scripts/bench all (%s %s)" % (name, " ".join(args))
        try:
            r = SUBCOMMANDS[name](list(args))
        except SystemExit as e:
            r = e.code if isinstance(e.code, int) else 1
            if not isinstance(e.code, int):
                print(e.code, file=sys.stderr)
        print("", flush=True)
        rc = rc or r
    return rc


SUBCOMMANDS = {"ingest": lambda a: ingest(a), "pipeline": lambda a: pipeline(a),
               "memory": lambda a: memory(a), "latency": lambda a: latency(a),
               "all": lambda a: run_all(a),
               # separate modules; they import this one for the shared helpers
               "scale": lambda a: __import__("scale").main(a),
               "serve": lambda a: __import__("serve").main(a)}


def main():
    sub = sys.argv[1] if len(sys.argv) > 1 else ""
    if sub not in SUBCOMMANDS:
        print("bench: %s: not implemented yet" % (sub or "(no subcommand)"), file=sys.stderr)
        return 2
    return SUBCOMMANDS[sub](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())

