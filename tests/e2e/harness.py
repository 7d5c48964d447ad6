"""Shared harness for Podium end-to-end tests (Python 3 stdlib only).

Every test file does:

    import harness as h
    def main(t):            # t is a harness.Test
        pod = t.podium(sessions={...})
        ...
    h.run(main, tools=["ffmpeg", "ffprobe"])

Rules the harness enforces:
- no sleep is used as synchronisation: wait_for() polls a condition against a
  deadline and raises with a message naming what it waited for;
- every process started is tracked and killed by PID at exit (never by name);
- each podium is stopped with SIGTERM at the end and must exit 0 within 5 s
  (ASan leak reports make the exit code non-zero);
- on failure the tail of every podium log (and of the publishers' logs) is
  printed.

Environment:
  PODIUM_BIN            path to the podium binary (default: <repo>/build/podium)
  PODIUM_TIMEOUT_SCALE  multiply every deadline (default 1; e.g. 2 for slow hosts)
  PODIUM_E2E_KEEP=1     keep the temporary directory even when the test passes
"""

import atexit
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCALE = float(os.environ.get("PODIUM_TIMEOUT_SCALE", "1") or "1")
SIGTERM_EXIT_DEADLINE = 5.0  # contract: exits 0 within 5 s (not scaled)


class TestFailure(Exception):
    """A check failed; the message says what was expected and what happened."""


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)
    return cond


def note(msg):
    print("[e2e %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def scaled(seconds):
    return seconds * SCALE


def wait_for(cond, timeout, what, interval=0.1):
    """Poll cond() until it returns a truthy value (returned) or the deadline.

    Exceptions other than TestFailure raised by cond count as "not yet" (the
    last one is quoted in the failure message). timeout is scaled by
    PODIUM_TIMEOUT_SCALE."""
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except TestFailure:
            raise
        except Exception as e:  # noqa: BLE001 - polling: remember, retry
            last_exc = e
        if time.monotonic() >= deadline:
            extra = " (last error: %r)" % (last_exc,) if last_exc else ""
            fail("timed out after %.1f s waiting for %s%s" % (timeout, what, extra))
        time.sleep(interval)


# ---------------------------------------------------------------- processes

_procs = []          # (Popen, name, logpath)
_procs_lock = threading.Lock()


def spawn(cmd, name, log_path=None, stdin=None, cwd=None):
    """Start a tracked process (in cwd); stdout+stderr go to log_path (or DEVNULL)."""
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    try:
        p = subprocess.Popen(cmd, stdin=stdin if stdin is not None else subprocess.DEVNULL, cwd=cwd,
                             stdout=out, stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL)
    finally:
        if log_path:
            out.close()
    with _procs_lock:
        _procs.append((p, name, log_path))
    return p


def kill_proc(p, sig=signal.SIGKILL):
    """Send sig to exactly this PID if it is still running, then reap it."""
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
    if sig == signal.SIGKILL:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _kill_all():
    with _procs_lock:
        procs = list(_procs)
    for p, _name, _log in procs:
        kill_proc(p, signal.SIGKILL)


atexit.register(_kill_all)


def wait_exit(p, timeout, what):
    """Wait until process p exits; return its exit code."""
    try:
        return p.wait(timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        fail("timed out after %.1f s waiting for %s (pid %d) to exit"
             % (scaled(timeout), what, p.pid))


def run_capture(cmd, timeout, what, cwd=None):
    """Run a short-lived tool to completion (in cwd); return (rc, stdout, stderr)."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=cwd)
    with _procs_lock:
        _procs.append((p, what, None))
    try:
        out, err = p.communicate(timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        kill_proc(p)
        fail("%s did not finish within %.1f s: %s" % (what, scaled(timeout), " ".join(cmd)))
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def tail(path, n=40):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return "<cannot read %s: %s>" % (path, e)
    return "\n".join(lines[-n:])


# ---------------------------------------------------------------- logfmt

_LOGFMT_RE = re.compile(r'([A-Za-z0-9_.\-]+)=("(?:[^"\\]|\\.)*"|[^ \t]*)')


def parse_logfmt(line):
    """'a=1 msg="x y" b=2' -> {'a': '1', 'msg': 'x y', 'b': '2'}."""
    fields = {}
    for m in _LOGFMT_RE.finditer(line):
        k, v = m.group(1), m.group(2)
        if v.startswith('"') and v.endswith('"') and len(v) >= 2:
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        fields[k] = v
    return fields


# ---------------------------------------------------------------- HTTP

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name) if self.headers is not None else None

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            fail("response body is not JSON (%s): %r" % (e, self.body[:300]))

    def __repr__(self):
        return "<HTTP %s %r>" % (self.status, self.body[:120])


def http(method, url, data=None, headers=None, timeout=5.0):
    """One HTTP request; 4xx/5xx are returned, not raised. Connection errors raise."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with _opener.open(req, timeout=scaled(timeout)) as r:
            return Resp(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        body = e.read() if e.fp is not None else b""
        return Resp(e.code, e.headers, body)


def max_age(cache_control):
    m = re.search(r'(?:^|[,\s])max-age\s*=\s*"?(\d+)', cache_control or "")
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- playlists

class Segment:
    def __init__(self, seq, duration, uri, disc, pdt, extinf_text):
        self.seq = seq
        self.duration = duration
        self.uri = uri
        self.disc = disc          # preceded by #EXT-X-DISCONTINUITY
        self.pdt = pdt            # datetime or None
        self.extinf_text = extinf_text
        self.dnum = None          # discontinuity number (DISCONTINUITY-SEQUENCE based)

    def __repr__(self):
        return "<seg %d %.3fs%s>" % (self.seq, self.duration, " DISC" if self.disc else "")


def parse_pdt(value):
    v = value.strip()
    if v.endswith("Z") or v.endswith("z"):
        v = v[:-1] + "+00:00"
    # Python < 3.11 fromisoformat wants exactly 3 or 6 fraction digits.
    m = re.match(r'^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?([+-]\d{2}:?\d{2})$', v)
    if not m:
        raise ValueError("not an ISO 8601 date-time with offset: %r" % value)
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    off = m.group(3)
    if ":" not in off:
        off = off[:3] + ":" + off[3:]
    return datetime.datetime.fromisoformat("%s.%s%s" % (m.group(1), frac, off))


class Playlist:
    """A parsed media playlist; .problems lists every RFC 8216/contract violation."""

    def __init__(self, text):
        self.text = text
        self.problems = []
        self.version = None
        self.target = None
        self.media_seq = None
        self.disc_seq = None
        self.endlist = False
        self.segments = []
        self.pdt_count = 0
        self._parse()

    def _p(self, msg):
        self.problems.append(msg)

    def _parse(self):
        lines = [l.strip() for l in self.text.splitlines()]
        lines = [l for l in lines if l]
        if not lines or lines[0] != "#EXTM3U":
            self._p("first line is not #EXTM3U")
        pending_dur = None
        pending_text = None
        pending_disc = False
        pending_pdt = None
        raw = []  # (duration, text, uri, disc, pdt)
        for l in lines[1:]:
            if l.startswith("#EXT-X-VERSION:"):
                self.version = self._int(l)
            elif l.startswith("#EXT-X-TARGETDURATION:"):
                self.target = self._int(l)
            elif l.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                self.media_seq = self._int(l)
            elif l.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
                self.disc_seq = self._int(l)
            elif l == "#EXT-X-DISCONTINUITY":
                pending_disc = True
            elif l.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                self.pdt_count += 1
                try:
                    pending_pdt = parse_pdt(l.split(":", 1)[1])
                except ValueError as e:
                    self._p(str(e))
            elif l.startswith("#EXTINF:"):
                val = l[len("#EXTINF:"):].split(",", 1)[0]
                pending_text = val
                try:
                    pending_dur = float(val)
                except ValueError:
                    self._p("bad EXTINF %r" % l)
                    pending_dur = -1.0
            elif l == "#EXT-X-ENDLIST":
                self.endlist = True
            elif l.startswith("#"):
                continue  # other tags/comments
            else:
                if pending_dur is None:
                    self._p("URI %r without #EXTINF" % l)
                    continue
                raw.append((pending_dur, pending_text, l, pending_disc, pending_pdt))
                pending_dur, pending_text, pending_disc, pending_pdt = None, None, False, None
        if pending_dur is not None:
            self._p("#EXTINF at the end without a URI")
        for name, v in (("#EXT-X-VERSION", self.version), ("#EXT-X-TARGETDURATION", self.target),
                        ("#EXT-X-MEDIA-SEQUENCE", self.media_seq),
                        ("#EXT-X-DISCONTINUITY-SEQUENCE", self.disc_seq)):
            if v is None:
                self._p("missing %s" % name)
        if self.pdt_count == 0 and raw:
            self._p("no #EXT-X-PROGRAM-DATE-TIME")
        base = self.media_seq if self.media_seq is not None else 0
        dnum = self.disc_seq if self.disc_seq is not None else 0
        for i, (dur, text, uri, disc, pdt) in enumerate(raw):
            seq = base + i
            if disc:
                dnum += 1
            s = Segment(seq, dur, uri, disc, pdt, text)
            s.dnum = dnum
            self.segments.append(s)
            path = urllib.parse.urlsplit(uri).path
            if os.path.basename(path) != "%d.ts" % seq:
                self._p("segment #%d has URI %r, expected %d.ts (sequence number)" % (i, uri, seq))
            if self.target is not None:
                if not dur > 0:
                    self._p("%d.ts: EXTINF %s is not > 0" % (seq, text))
                if int(dur + 0.5) > self.target:
                    self._p("%d.ts: EXTINF %s rounds to more than TARGETDURATION %d (RFC 8216 4.3.3.1)"
                            % (seq, text, self.target))
                elif dur > self.target + 0.001:
                    self._p("%d.ts: EXTINF %s exceeds TARGETDURATION %d" % (seq, text, self.target))
        prev = None
        for s in self.segments:
            if s.pdt is not None and prev is not None and s.pdt < prev:
                self._p("PROGRAM-DATE-TIME goes back at %d.ts" % s.seq)
            if s.pdt is not None:
                prev = s.pdt
        for a, b in zip(self.segments, self.segments[1:]):
            # gross mismatches only: the date of b should be the date of a plus a's duration
            if a.pdt is not None and b.pdt is not None and not b.disc:
                gap = (b.pdt - a.pdt).total_seconds() - a.duration
                if abs(gap) > 1.0:
                    self._p("PROGRAM-DATE-TIME of %d.ts is %.3f s off %d.ts's date + EXTINF (no DISCONTINUITY)"
                            % (b.seq, gap, a.seq))

    def _int(self, line):
        try:
            return int(line.split(":", 1)[1])
        except ValueError:
            self._p("bad integer in %r" % line)
            return None

    def seqs(self):
        return [s.seq for s in self.segments]


# ---------------------------------------------------------------- podium

class Podium:
    """A podium process started from a config written here; with adhoc=True
    it is started without one (`podium` in its folder: embedded defaults,
    fixed ports, data in ./data, any session id) and the other arguments
    are unused."""
    def __init__(self, test, name, sessions, segment_duration=1.0, window=6,
                 latency_ms=120, close_after=60, extra_ini="", server_ini="", adhoc=False):
        self.test = test
        self.name = name
        self.dir = os.path.join(test.tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.data_dir = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "podium.log")
        self.conf_path = os.path.join(self.dir, "podium.ini")
        self.sessions = dict(sessions)   # id -> {"title", "passphrase"[, "speakers", "format", "starts"]}
        self.segment_duration = float(segment_duration)
        self.window = int(window)
        self.proc = None
        self.srt_port = None
        self.http_port = None
        self.stopped = False
        if adhoc:
            self.conf_path = None
            self.segment_duration, self.window = 2.0, 6   # the embedded defaults
            return
        lines = ["[server]",
                 "srt_listen  = 127.0.0.1:0",
                 "http_listen = 127.0.0.1:0",
                 "data_dir    = %s" % self.data_dir,
                 server_ini,
                 "[hls]",
                 "segment_duration = %s" % segment_duration,
                 "window = %d" % window,
                 "[srt]",
                 "latency_ms = %d" % latency_ms,
                 "[recording]",
                 "close_after = %d" % close_after]
        for sid, s in self.sessions.items():
            lines += ["[session %s]" % sid,
                      "title = %s" % s.get("title", sid),
                      "passphrase = %s" % s["passphrase"]]
            lines += ["%s = %s" % (k, s[k]) for k in ("speakers", "format", "starts", "track") if k in s]
        text = "\n".join(lines) + "\n" + extra_ini
        with open(self.conf_path, "w") as f:
            f.write(text)

    # -- lifecycle
    def start(self):
        cmd = [self.test.bin] + (["-c", self.conf_path] if self.conf_path else [])
        note("starting %s: %s (in %s)" % (self.name, " ".join(cmd), self.dir))
        self.proc = spawn(cmd, "podium " + self.name, log_path=self.log_path, cwd=self.dir)

        def ports():
            if self.proc.poll() is not None:
                fail("podium exited with code %s during startup" % self.proc.returncode)
            found = {}
            for f in self.log_records():
                if f.get("msg") == "listening" and f.get("level") == "info" and "proto" in f:
                    m = re.match(r'^(.*):(\d+)$', f.get("addr", ""))
                    if m:
                        found[f["proto"]] = int(m.group(2))
            return found if "srt" in found and "http" in found else None

        found = wait_for(ports, 10, 'both msg="listening" lines (proto=srt, proto=http) in %s'
                         % self.log_path)
        self.srt_port, self.http_port = found["srt"], found["http"]
        check(self.srt_port > 0 and self.http_port > 0,
              "listening lines report port 0 (srt=%d http=%d): the real port must be logged"
              % (self.srt_port, self.http_port))
        wait_for(lambda: self.get("/healthz").status == 200, 10, "GET /healthz == 200")
        note("%s up: srt=%d http=%d" % (self.name, self.srt_port, self.http_port))
        return self

    def stop(self, sig=signal.SIGTERM):
        """SIGTERM (or sig, e.g. SIGINT); must exit 0 within 5 s. Returns the
        seconds from the signal to the exit (None if already stopped)."""
        if self.proc is None or self.stopped:
            return None
        self.stopped = True
        name = signal.Signals(sig).name
        if self.proc.poll() is not None:
            fail("podium %s died before %s with exit code %s" % (self.name, name, self.proc.returncode))
        t0 = time.monotonic()
        os.kill(self.proc.pid, sig)
        try:
            rc = self.proc.wait(timeout=SIGTERM_EXIT_DEADLINE)
        except subprocess.TimeoutExpired:
            kill_proc(self.proc)
            fail("podium %s did not exit within %.0f s of %s (killed)" % (self.name, SIGTERM_EXIT_DEADLINE, name))
        took = time.monotonic() - t0
        check(rc == 0, "podium %s exited with code %d after %s, expected 0 "
                       "(ASan/LSan reports make the exit code non-zero; see log)" % (self.name, rc, name))
        note("%s stopped cleanly on %s (exit 0 after %.2f s)" % (self.name, name, took))
        return took

    def assert_running(self):
        if self.proc.poll() is not None:
            fail("podium %s is not running (exit code %s)" % (self.name, self.proc.returncode))

    # -- logs
    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_records(self):
        return [parse_logfmt(l) for l in self.log_text().splitlines() if "=" in l]

    def log_lines_matching(self, pred):
        out = []
        for l in self.log_text().splitlines():
            f = parse_logfmt(l)
            if pred(f, l):
                out.append(l)
        return out

    def warn_peer_lines(self):
        """Log lines at level warn (or error) naming a 127.0.0.1 peer."""
        return self.log_lines_matching(
            lambda f, l: f.get("level") in ("warn", "warning", "error")
            and ("peer=127.0.0.1" in l or f.get("peer", "").startswith("127.0.0.1")))

    # -- URLs
    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    def get(self, path, **kw):
        return http("GET", self.url(path), **kw)

    def request(self, method, path, **kw):
        return http(method, self.url(path), **kw)

    def counters(self, *names):
        """The values of unlabelled (or fully labelled, as written) samples
        in one /metrics response, read with the organizer token. The
        response counts itself as a 2xx only after it was written, and its
        connection as one handed to libmicrohttpd before."""
        r = self.get("/metrics", headers=self.admin_auth())
        check(r.status == 200, "/metrics -> %d" % r.status)
        out = []
        for name in names:
            m = re.search(r'(?m)^%s (\d+)$' % re.escape(name), r.body.decode())
            check(m is not None, "no %s in /metrics" % name)
            out.append(int(m.group(1)))
        return out

    HTTP_SHARE = ("podium_http_connections_total", "podium_http_connections_handed_over_total",
                  "podium_http_livesend_responses_total",
                  'podium_http_responses_total{status="2xx"}')

    def note_http_share(self, before, who):
        """Notes how much of the HTTP traffic since before (counters of
        HTTP_SHARE) livesend kept: connections, those handed over, its
        responses of all 2xx."""
        after = self.counters(*self.HTTP_SHARE)
        # less this /metrics' own connection (counted, handed over) and the
        # first one's 2xx (counted once it was written)
        conns, handed, fast, ok = (a - b for a, b in zip(after, before))
        note("%s: %d connections, %d handed to libmicrohttpd; livesend sent %d of %d 2xx "
             "responses" % (who, conns - 1, handed - 1, fast, ok - 1))

    def admin_auth(self):
        """Authorization header with the organizer token: the configured
        admin_token, or the one Podium generated in data_dir/admin.token."""
        m = re.search(r"^admin_token[ \t]*=[ \t]*(\S+)", self.config_text(), re.M)
        if m:
            tok = m.group(1)
        else:
            with open(os.path.join(self.data_dir, "admin.token")) as f:
                tok = f.read().strip()
        return {"Authorization": "Bearer " + tok}

    def config_text(self):
        if self.conf_path is None:
            return ""
        with open(self.conf_path) as f:
            return f.read()

    def api(self, sid, organizer=False):
        """Session JSON as an attendee sees it, or with organizer=True as the
        organizer (with the publisher's address)."""
        r = self.get("/api/v1/sessions/%s" % sid, headers=self.admin_auth() if organizer else None)
        check(r.status == 200, "GET /api/v1/sessions/%s -> %d, expected 200" % (sid, r.status))
        return r.json()

    def srt_url(self, sid, passphrase=None, streamid=None):
        """ffmpeg caller URL; streamid defaults to the access-control form."""
        if streamid is None:
            streamid = "#!::r=%s,m=publish" % sid
        if passphrase is None and sid in self.sessions:
            passphrase = self.sessions[sid]["passphrase"]
        u = "srt://127.0.0.1:%d?mode=caller&latency=120000&streamid=%s" % (self.srt_port, streamid)
        if passphrase:
            u += "&passphrase=%s" % passphrase
        return u

    # -- media
    def publish(self, sid, duration=8, passphrase=None, streamid=None, **kw):
        url = self.srt_url(sid, passphrase=passphrase, streamid=streamid)
        return self.test.publisher(url, duration=duration, label=sid, **kw)

    def watch(self, sid, **kw):
        w = PlaylistWatcher(self, sid, **kw)
        self.test.watchers.append(w)
        return w.start()


# ---------------------------------------------------------------- publishers

# glibc's heap checks abort a process with one of these as its last line.
GLIBC_HEAP_ABORTS = ("corrupted ", "double free", "free(): ", "malloc(): ", "munmap_chunk(): ",
                     "realloc(): ")


class Publisher:
    def __init__(self, proc, label, log_path, cmd, duration=None):
        self.proc = proc
        self.label = label
        self.log_path = log_path
        self.cmd = cmd
        self.duration = duration
        self.started = time.monotonic()

    @property
    def pid(self):
        return self.proc.pid

    def poll(self):
        return self.proc.poll()

    def kill(self):
        kill_proc(self.proc, signal.SIGKILL)

    def wait(self, timeout):
        return wait_exit(self.proc, timeout, "publisher %s" % self.label)

    def wait_ok(self, timeout):
        rc = self.wait(timeout)
        log = self.log()
        last = ([line for line in log.splitlines() if line.strip()] or [""])[-1]
        ran = time.monotonic() - self.started
        # ffmpeg 5.1 with libsrt (Debian 12) once aborted on glibc's heap
        # check while tearing down after sending all its media (e2e_reconnect,
        # 2026-11-28; the same test passed the 6 runs after): a crash of the
        # client, not something the relay did. Any other exit, or an abort
        # before its duration was up, fails.
        if (rc == -signal.SIGABRT and self.duration and ran >= self.duration
                and last.startswith(GLIBC_HEAP_ABORTS)):
            note("publisher %s: ffmpeg aborted at exit after %.1f s of its %g s (%r), "
                 "a crash in the client's teardown; counted as finished" % (self.label, ran, self.duration, last))
            return
        check(rc == 0, "publisher %s exited with %d, expected 0; its log:\n%s" % (self.label, rc, log))

    def log(self):
        return tail(self.log_path, 15)


def make_media(path, args, what, timeout=120):
    """Writes path (MPEG-TS) with ffmpeg from args (inputs and codec options); fails the test if
    ffmpeg does. Returns path."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"] + list(args) + \
        ["-f", "mpegts", path]
    rc, _, err = run_capture(cmd, timeout, "ffmpeg generating %s" % what)
    check(rc == 0, "generating %s failed (exit %d): %s" % (path, rc, err[-600:]))
    return path


def ffmpeg_cmd(url, duration=8, video=True, audio=True, gop=30, size="640x360", rate=30,
               input_file=None, extra_out=(), copy=False, pre_input=()):
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error"]
    if input_file:
        cmd += list(pre_input) + ["-re", "-i", input_file]
    else:
        if video:
            cmd += ["-re", "-f", "lavfi", "-i", "testsrc2=size=%s:rate=%d" % (size, rate)]
        if audio:
            cmd += ["-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    if duration is not None:
        cmd += ["-t", str(duration)]
    if copy:
        cmd += ["-c", "copy", "-copyinkf"]
    else:
        if video:
            cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                    "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
                    "-pix_fmt", "yuv420p"]
        if audio:
            cmd += ["-c:a", "aac", "-b:a", "96k"]
    cmd += list(extra_out)
    cmd += ["-f", "mpegts", url]
    return cmd


# ---------------------------------------------------------------- probing

def ffprobe_json(args, timeout=20, what="ffprobe"):
    rc, out, err = run_capture(["ffprobe", "-v", "error", "-of", "json"] + args, timeout, what)
    if rc != 0:
        fail("%s failed (exit %d): %s" % (what, rc, err.strip()[-800:]))
    try:
        return json.loads(out or "{}")
    except ValueError:
        fail("%s printed invalid JSON: %r" % (what, out[:300]))


def probe_streams(path):
    j = ffprobe_json(["-show_streams", "-show_format", path], what="ffprobe %s" % path)
    return j.get("streams", []), j.get("format", {})


_seg_info = {}
_seg_info_lock = threading.Lock()


def segment_info(path):
    """One ffprobe per segment file (cached): streams, format and the first packets."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)  # a file rewritten in place is probed again
    with _seg_info_lock:
        if key in _seg_info:
            return _seg_info[key]
    j = ffprobe_json(["-show_streams", "-show_format", "-show_packets", "-read_intervals", "%+#120", path],
                     what="ffprobe %s" % path)
    with _seg_info_lock:
        _seg_info[key] = j
    return j


def check_segment(path, video=True, audio=True, vcodec="h264", acodec="aac", first_key=True,
                  decode_first=False, audio_may_be_empty=False):
    """Segment is valid MPEG-TS with exactly the wanted stream kinds; its video starts
    on a keyframe (first_key); decode_first: the first decoded frame is a keyframe too.
    audio_may_be_empty: the audio stream is listed but may carry no frame (a publisher's
    segment cut at its hang-up, shorter than the lag of its audio behind its video)."""
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) > 0 and len(data) % 188 == 0 and data[0] == 0x47,
          "%s is not MPEG-TS (size %d, first byte %r)" % (path, len(data), data[:1]))
    j = segment_info(path)
    streams, fmt = j.get("streams", []), j.get("format", {})
    kinds = sorted(s.get("codec_type") for s in streams)
    v = [s for s in streams if s.get("codec_type") == "video"]
    a = [s for s in streams if s.get("codec_type") == "audio"]
    if video:
        check(len(v) == 1 and v[0].get("codec_name") == vcodec,
              "%s: expected one %s video stream, ffprobe found %s" % (path, vcodec, kinds))
        if first_key:  # without a leading keyframe (SPS/PPS) ffprobe cannot size the picture
            check(int(v[0].get("width") or 0) > 0, "%s: video stream has no dimensions" % path)
    else:
        check(not v, "%s: expected no video stream, ffprobe found %s" % (path, kinds))
    if audio:
        check(len(a) == 1 and a[0].get("codec_name") == acodec,
              "%s: expected one %s audio stream, ffprobe found %s" % (path, acodec, kinds))
        empty = not [p for p in j.get("packets", []) if p.get("codec_type") == "audio"]
        if audio_may_be_empty and empty:
            note("%s: audio stream listed without a frame (cut at the publisher's hang-up)" % path)
        else:
            check(int(a[0].get("sample_rate") or 0) > 0, "%s: audio stream has no sample rate" % path)
    else:
        check(not a, "%s: expected no audio stream, ffprobe found %s" % (path, kinds))
    if video and first_key:
        vp = [p for p in j.get("packets", []) if p.get("codec_type") == "video"]
        check(vp, "%s: no video packet among the first 120 packets" % path)
        check("K" in vp[0].get("flags", ""),
              "%s: first video packet is not a keyframe (flags=%r): segment does not start on a keyframe"
              % (path, vp[0].get("flags")))
    if video and decode_first:
        check_first_frame_decodes_as_key(path)
    return streams, fmt


def check_starts_with_keyframe(path):
    """First video packet carries the keyframe flag and the first decoded frame is a keyframe."""
    j = ffprobe_json(["-select_streams", "v:0", "-show_packets", "-read_intervals", "%+#1",
                      "-show_entries", "packet=pts,dts,flags", path],
                     what="ffprobe first packet of %s" % path)
    pk = j.get("packets", [])
    check(pk, "%s: no video packet" % path)
    check("K" in pk[0].get("flags", ""),
          "%s: first video packet is not a keyframe (flags=%r): does not start on a keyframe"
          % (path, pk[0].get("flags")))
    check_first_frame_decodes_as_key(path)


def check_first_frame_decodes_as_key(path):
    """ffprobe -show_frames -read_intervals %+#1 -select_streams v: key_frame=1.
    (Alone this would skip undecodable leading non-keyframes; check_segment's
    packet-flag check is the strict one.)"""
    j = ffprobe_json(["-select_streams", "v:0", "-show_frames", "-read_intervals", "%+#1",
                      "-show_entries", "frame=key_frame,pict_type,pts", path],
                     what="ffprobe first frame of %s" % path)
    fr = j.get("frames", [])
    check(fr, "%s: first video frame could not be decoded" % path)
    check(int(fr[0].get("key_frame", 0)) == 1,
          "%s: first decoded video frame has key_frame=%s" % (path, fr[0].get("key_frame")))


def closed_copy(watcher, pl, dest):
    """Write a local VOD copy (with #EXT-X-ENDLIST) of playlist pl using the
    watcher's downloaded segments; return its path."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:%d" % pl.target,
             "#EXT-X-MEDIA-SEQUENCE:%d" % pl.media_seq, "#EXT-X-PLAYLIST-TYPE:VOD"]
    for s in pl.segments:
        path = watcher.segment_path(s.seq)
        check(path, "segment %d.ts of the final playlist was never downloaded" % s.seq)
        if s.disc:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append("#EXTINF:%s," % s.extinf_text)
        lines.append(os.path.basename(path))
    lines.append("#EXT-X-ENDLIST")
    with open(dest, "w") as f:
        f.write("\n".join(lines) + "\n")
    return dest


# ---------------------------------------------------------------- playlist watcher

class PlaylistWatcher:
    """Polls /live/<sid>/index.m3u8 in a thread, validates each playlist and the
    invariants across polls, and downloads every segment as soon as it is listed.

    Cross-poll invariants: TARGETDURATION constant; MEDIA-SEQUENCE and
    DISCONTINUITY-SEQUENCE never decrease; the newest segment number never
    decreases; a given segment number keeps its EXTINF, its discontinuity flag
    and its discontinuity number; once the window has slid it holds exactly
    `window` segments; the playlist never disappears once served; no ENDLIST."""

    def __init__(self, pod, sid, interval=0.2, allow_endlist=False, check_durations=True):
        self.pod = pod
        self.sid = sid
        self.interval = interval
        self.allow_endlist = allow_endlist
        self.check_durations = check_durations
        self.dir = os.path.join(pod.dir, "dl-" + sid)
        os.makedirs(self.dir, exist_ok=True)
        self.lock = threading.Lock()
        self.errors = []
        self.polls = 0              # successful (200) playlist fetches
        self.attempts = 0
        self.first_target = None
        self.first_media_seq = None
        self.last = None            # last Playlist
        self.last_text = None
        self.history = []           # (monotonic, media_seq, newest_seq, n)
        self.segs = {}              # seq -> Segment (first observation)
        self.paths = {}             # seq -> local path
        self.seen_200 = False
        self.first_bad_text = None  # first playlist that had a problem
        self.content_types = set()
        self.cache_controls = set()
        self._stop = threading.Event()
        self._thread = None

    def url(self):
        return self.pod.url("/live/%s/index.m3u8" % self.sid)

    def start(self):
        self._thread = threading.Thread(target=self._run, name="watch-" + self.sid, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=15)
        seqs = self.seen_seqs()
        note("watcher %s: %d polls, %d segments seen (%s), TARGETDURATION %s, discontinuities before %r, %d problems"
             % (self.sid, self.polls, len(seqs), "%d..%d" % (seqs[0], seqs[-1]) if seqs else "-",
                self.first_target, self.disc_seqs(), len(self.errors)))

    def _err(self, msg, playlist_text=None):
        with self.lock:
            if len(self.errors) < 50 and msg not in self.errors:
                self.errors.append(msg)
            if playlist_text is not None and self.first_bad_text is None:
                self.first_bad_text = playlist_text

    def _append_locked(self, msg):
        if len(self.errors) < 50 and msg not in self.errors:
            self.errors.append(msg)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as e:  # noqa: BLE001 - reported by assert_ok
                self._err("poll error: %r" % (e,))
            self._stop.wait(self.interval)

    def poll_once(self):
        self.attempts += 1
        r = http("GET", self.url())
        if r.status == 404:
            if self.seen_200:
                self._err("playlist answered 404 after it had been served")
            return
        if r.status != 200:
            self._err("playlist answered %d" % r.status)
            return
        self.seen_200 = True
        self.content_types.add(r.header("Content-Type"))
        self.cache_controls.add(r.header("Cache-Control"))
        text = r.body.decode("utf-8", "replace")
        pl = Playlist(text)
        for p in pl.problems:
            self._err(p, text)
        if pl.endlist and not self.allow_endlist:
            self._err("unexpected #EXT-X-ENDLIST in live playlist")
        if len(pl.segments) == 0:
            self._err("playlist served with 200 but no segments")
        if len(pl.segments) > self.pod.window:
            self._err("playlist has %d segments, window is %d" % (len(pl.segments), self.pod.window))
        with self.lock:
            prev = self.last
            if self.first_target is None:
                self.first_target = pl.target
                self.first_media_seq = pl.media_seq
        if pl.target != self.first_target:
            self._err("TARGETDURATION changed from %s to %s" % (self.first_target, pl.target))
        if prev is not None and pl.media_seq is not None and prev.media_seq is not None:
            if pl.media_seq < prev.media_seq:
                self._err("MEDIA-SEQUENCE decreased from %d to %d" % (prev.media_seq, pl.media_seq))
            if (pl.disc_seq is not None and prev.disc_seq is not None
                    and pl.disc_seq < prev.disc_seq):
                self._err("DISCONTINUITY-SEQUENCE decreased from %d to %d" % (prev.disc_seq, pl.disc_seq))
            if prev.segments and pl.segments and pl.segments[-1].seq < prev.segments[-1].seq:
                self._err("newest segment number decreased from %d to %d"
                          % (prev.segments[-1].seq, pl.segments[-1].seq))
        if (pl.media_seq is not None and self.first_media_seq is not None
                and pl.media_seq > self.first_media_seq and len(pl.segments) != self.pod.window):
            self._err("window slid (MEDIA-SEQUENCE %d) but playlist has %d segments, window is %d"
                      % (pl.media_seq, len(pl.segments), self.pod.window))
        new = []
        with self.lock:
            for s in pl.segments:
                old = self.segs.get(s.seq)
                if old is None:
                    self.segs[s.seq] = s
                    new.append(s)
                    continue
                if old.extinf_text != s.extinf_text:
                    self._append_locked("%d.ts: EXTINF changed from %s to %s" % (s.seq, old.extinf_text, s.extinf_text))
                if old.disc != s.disc:
                    self._append_locked("%d.ts: #EXT-X-DISCONTINUITY flag changed from %s to %s"
                                       % (s.seq, old.disc, s.disc))
                if old.dnum != s.dnum:
                    self._append_locked("%d.ts: discontinuity number changed from %d to %d "
                                       "(DISCONTINUITY-SEQUENCE not kept consistent with removed tags)"
                                       % (s.seq, old.dnum, s.dnum))
        for s in new:
            self._download(s)
        with self.lock:
            self.last = pl
            self.last_text = text
            self.polls += 1
            self.history.append((time.monotonic(), pl.media_seq,
                                 pl.segments[-1].seq if pl.segments else None, len(pl.segments)))

    def _download(self, s):
        url = urllib.parse.urljoin(self.url(), s.uri)
        r = http("GET", url, timeout=10)
        if r.status != 200:
            self._err("segment %s listed in the playlist answered %d" % (s.uri, r.status))
            return
        ct = r.header("Content-Type")
        if ct != "video/mp2t":
            self._err("segment %s Content-Type %r, expected video/mp2t" % (s.uri, ct))
        if not r.body or len(r.body) % 188 != 0 or r.body[0] != 0x47:
            self._err("segment %s is not MPEG-TS (%d bytes)" % (s.uri, len(r.body)))
        path = os.path.join(self.dir, "%d.ts" % s.seq)
        with open(path, "wb") as f:
            f.write(r.body)
        with self.lock:
            self.paths[s.seq] = path

    # -- queries (thread-safe)
    def segment_path(self, seq):
        with self.lock:
            return self.paths.get(seq)

    def seen_seqs(self):
        with self.lock:
            return sorted(self.segs)

    def downloaded(self):
        with self.lock:
            return sorted(self.paths)

    def newest(self):
        with self.lock:
            if self.last is None or not self.last.segments:
                return None
            return self.last.segments[-1].seq

    def count(self):
        with self.lock:
            return len(self.segs)

    def disc_seqs(self):
        with self.lock:
            return sorted(q for q, s in self.segs.items() if s.disc)

    def snapshot(self):
        with self.lock:
            return self.last, self.last_text, self.polls

    def wait_segments(self, n, timeout, what=None):
        """Wait until at least n distinct segments have been seen and downloaded."""
        wait_for(lambda: (self.pod.assert_running() or True) and len(self.downloaded()) >= n
                 and self.count() >= n,
                 timeout, what or "%d segments of %s" % (n, self.sid))

    def wait_polls(self, n, timeout=10):
        start = self.polls
        wait_for(lambda: self.polls >= start + n, timeout, "%d more playlist polls of %s" % (n, self.sid))

    def assert_ok(self):
        with self.lock:
            errs = list(self.errors)
        if errs:
            more = "\n  (%d more)" % (len(errs) - 15) if len(errs) > 15 else ""
            bad = "\nfirst playlist with a problem:\n%s" % self.first_bad_text if self.first_bad_text else ""
            fail("playlist checks for session %s failed:\n  - %s%s%s"
                 % (self.sid, "\n  - ".join(errs[:15]), more, bad))

    def check_durations_against(self, seg_dur, gop, exempt_last=True):
        """Non-final segments last between seg_dur-0.5 and seg_dur+gop (cut at the first
        keyframe at/after seg_dur). The last segment before a discontinuity and the
        newest segment may be shorter."""
        with self.lock:
            segs = [self.segs[q] for q in sorted(self.segs)]
        bad = []
        for i, s in enumerate(segs):
            nxt = segs[i + 1] if i + 1 < len(segs) else None
            short_ok = nxt is None or nxt.disc
            if s.duration > seg_dur + gop + 0.05:
                bad.append("%d.ts EXTINF %.3f > %.3f (segment_duration %.1f + GOP %.1f)"
                           % (s.seq, s.duration, seg_dur + gop, seg_dur, gop))
            if not short_ok and s.duration < seg_dur - 0.5:
                bad.append("%d.ts EXTINF %.3f < segment_duration %.1f - 0.5" % (s.seq, s.duration, seg_dur))
        if bad:
            fail("segment durations of %s out of range:\n  - %s" % (self.sid, "\n  - ".join(bad)))


def first_pts(path, kind="video", n=10):
    """Smallest PTS (90 kHz, mod 2^33) among the first n packets of that kind, or None."""
    pk = [p for p in segment_info(path).get("packets", []) if p.get("codec_type") == kind]
    pts = [int(p["pts"]) for p in pk[:n] if p.get("pts") not in (None, "N/A")]
    return (min(pts) % (1 << 33)) if pts else None


def check_timestamp_continuity(w, video=True, tolerance=0.25):
    """Between consecutive segments without #EXT-X-DISCONTINUITY, the next segment
    starts where the previous one ended (start + EXTINF, modulo the 33-bit wrap):
    no unannounced timestamp jump."""
    seqs = w.downloaded()
    starts = {}
    for q in seqs:
        starts[q] = first_pts(w.segment_path(q), "video" if video else "audio")
    bad = []
    for a, b in zip(seqs, seqs[1:]):
        if b != a + 1 or w.segs[b].disc or starts[a] is None or starts[b] is None:
            continue
        expect = starts[a] + int(round(w.segs[a].duration * 90000))
        diff = ((starts[b] - expect + (1 << 32)) % (1 << 33)) - (1 << 32)
        if abs(diff) > tolerance * 90000:
            bad.append("%d.ts starts at pts %d, expected %d (%d.ts start + EXTINF %s): jump of %+.3f s "
                       "without #EXT-X-DISCONTINUITY" % (b, starts[b], expect % (1 << 33), a,
                                                        w.segs[a].extinf_text, diff / 90000.0))
    if bad:
        fail("timestamp continuity of %s:\n  - %s" % (w.sid, "\n  - ".join(bad)))


class PacedSender:
    """Sends MPEG-TS bytes over SRT at the media's pace through srt-live-transmit
    (what an encoder does, without ffmpeg's muxer deciding what to send): start()
    (once connected), then wait_sent(), then close(). Pacing sleeps keep the rate,
    they synchronise nothing."""

    def __init__(self, test, pod, sid, data, seconds, chunk=1316):
        self.data, self.seconds, self.chunk = data, float(seconds), chunk
        self.pod, self.sid = pod, sid
        url = "srt://127.0.0.1:%d?streamid=%s&passphrase=%s&latency=120" % (
            pod.srt_port, sid, pod.sessions[sid]["passphrase"])
        self.log_path = test.path("%s-slt.log" % sid)
        self.proc = spawn(["srt-live-transmit", "-a:no", "-c:%d" % chunk, "file://con", url],
                          "srt-live-transmit " + sid, log_path=self.log_path, stdin=subprocess.PIPE)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._feed, daemon=True)

    def start(self):
        # srt-live-transmit drops what it reads before its connection is up
        wait_for(lambda: self.pod.api(self.sid).get("publisher") is not None, 10,
                 "srt-live-transmit connected for %s" % self.sid)
        self.thread.start()
        return self

    def _feed(self):
        rate = len(self.data) / self.seconds
        t0 = time.monotonic()
        try:
            for off in range(0, len(self.data), self.chunk):
                delay = t0 + off / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.proc.stdin.write(self.data[off:off + self.chunk])
                self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        finally:
            self.done.set()

    def wait_sent(self, timeout):
        wait_for(self.done.is_set, timeout, "the paced feed to finish")

    def close(self):
        """Let the feed end, then make srt-live-transmit close its connection."""
        self.thread.join(timeout=10)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        kill_proc(self.proc, signal.SIGINT)  # after EOF, SIGINT makes it close its connection
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            kill_proc(self.proc)


def check_audio_continuity(w, tolerance=2, max_gap=None):
    """Within each run of consecutive segments without #EXT-X-DISCONTINUITY, every
    audio frame starts no earlier than the previous one ends (90 kHz ticks; the
    tolerance is rounding): a timestamp rewrite must not make audio overlap. With
    max_gap (ticks), no frame starts later than that after the previous one ends
    either (a publisher whose audio has no holes)."""
    seqs = w.downloaded()
    runs, cur = [], []
    for q in seqs:
        if cur and (q != cur[-1] + 1 or w.segs[q].disc):
            runs.append(cur)
            cur = []
        cur.append(q)
    if cur:
        runs.append(cur)
    bad = []
    for run in runs:
        joined = os.path.join(w.dir, "run-%d-%d.ts" % (run[0], run[-1]))
        with open(joined, "wb") as out:
            for q in run:
                with open(w.segment_path(q), "rb") as f:
                    out.write(f.read())
        j = ffprobe_json(["-select_streams", "a:0", "-show_entries", "packet=pts,duration",
                          "-show_packets", joined])
        pk = [(int(p["pts"]), int(p.get("duration") or 0)) for p in j.get("packets", [])
              if p.get("pts") not in (None, "N/A")]
        for (p0, d0), (p1, _) in zip(pk, pk[1:]):
            step = ((p1 - p0 + (1 << 32)) % (1 << 33)) - (1 << 32)
            if step < d0 - tolerance:
                bad.append("segments %d..%d: an audio frame at pts %d starts %d ticks after the one at %d, "
                           "which lasts %d: overlap" % (run[0], run[-1], p1 % (1 << 33), step, p0, d0))
            elif max_gap is not None and step > d0 + max_gap:
                bad.append("segments %d..%d: an audio frame at pts %d starts %d ticks after the one at %d, "
                           "which lasts %d: a hole of %.3f s" % (run[0], run[-1], p1 % (1 << 33), step, p0,
                                                               d0, (step - d0) / 90000.0))
    if bad:
        fail("audio continuity of %s:\n  - %s" % (w.sid, "\n  - ".join(bad[:5])))


def parallel(*fns):
    """Run the given no-argument functions in threads; re-raise the first failure."""
    errors = []

    def wrap(f):
        try:
            f()
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)
    ths = [threading.Thread(target=wrap, args=(f,), name=getattr(f, "__name__", "fn")) for f in fns]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    for e in errors[1:]:
        print("(also failed: %s)" % e, flush=True)
    if errors:
        raise errors[0]


# ---------------------------------------------------------------- test runner

class Test:
    def __init__(self, name, tmp, binary):
        self.name = name
        self.tmp = tmp
        self.bin = binary
        self.podiums = []
        self.publishers = []
        self.watchers = []
        self._n = 0

    def podium(self, sessions, start=True, **kw):
        pod = Podium(self, "podium%d" % len(self.podiums), sessions, **kw)
        self.podiums.append(pod)
        if start:
            pod.start()
        return pod

    def publisher(self, url, duration=8, label="pub", **kw):
        with _procs_lock:
            self._n += 1
            n = self._n
        log_path = os.path.join(self.tmp, "ffmpeg-%02d-%s.log" % (n, re.sub(r'\W', '_', label)))
        cmd = ffmpeg_cmd(url, duration=duration, **kw)
        p = spawn(cmd, "ffmpeg " + label, log_path=log_path)
        pub = Publisher(p, "%s#%d" % (label, n), log_path, cmd, duration=duration)
        self.publishers.append(pub)
        note("publisher %s pid %d -> %s" % (pub.label, p.pid, url.split("?")[0]))
        return pub

    def path(self, name):
        return os.path.join(self.tmp, name)

    def finish(self):
        for w in self.watchers:
            w.stop()
        for w in self.watchers:
            w.assert_ok()
        for pub in self.publishers:
            kill_proc(pub.proc)
        for pod in self.podiums:
            pod.stop()


def find_binary():
    b = os.environ.get("PODIUM_BIN") or os.path.join(REPO, "build", "podium")
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        print("FAIL: podium binary not found or not executable: %r (set PODIUM_BIN)" % b, flush=True)
        sys.exit(1)
    return os.path.abspath(b)


def require_tools(tools):
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        print("FAIL: required tool(s) not found in PATH: %s (Debian: apt-get install ffmpeg srt-tools)"
              % ", ".join(missing), flush=True)
        sys.exit(1)


def _on_sigterm(signum, _frame):
    raise SystemExit("interrupted by signal %d" % signum)


SKIP_EXIT = 77     # ctest's SKIP_RETURN_CODE for the e2e tests (tests/CMakeLists.txt)
_NS_ENV = "PODIUM_E2E_NS_"        # + NET or MOUNT: set inside the namespace


def _loopback_up():
    """Brings up lo, which a new network namespace starts with down."""
    import fcntl
    import struct
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = fcntl.ioctl(s, siocgifflags, struct.pack("16sH22x", b"lo", 0))
        flags = struct.unpack("16sH22x", ifr)[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))


def _private_namespace(name, kind):
    """Re-executes this test (same PID, so ctest's timeout still reaches it)
    inside a namespace of its own: kind "net" (unshare -rn: fixed ports
    clash with nothing else on the machine; loopback brought up inside) or
    "mount" (unshare -rm: the test may mount a small tmpfs, to fill a disk
    for real). Exits SKIP_EXIT when the kernel or the sandbox allows none."""
    flag = {"net": "-rn", "mount": "-rm"}[kind]
    env = _NS_ENV + kind.upper()
    if os.environ.get(env) == "1":
        if kind == "net":
            _loopback_up()
        note("in a %s namespace of its own" % kind)
        return
    unshare = shutil.which("unshare")
    # a mount namespace some sandboxes allow, but no mount inside it
    what = ["true"] if kind == "net" else \
        ["sh", "-c", 'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d"; '
                     'r=$?; rmdir "$d"; exit $r']
    probe = subprocess.run([unshare, flag] + what, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE) if unshare else None
    if probe is None or probe.returncode != 0:
        why = probe.stderr.decode("utf-8", "replace").strip() if probe else "no unshare in PATH"
        print("SKIP %s: needs a %s namespace of its own (unshare %s): %s" % (name, kind, flag, why),
              flush=True)
        sys.exit(SKIP_EXIT)
    os.environ[env] = "1"
    os.execv(unshare, [unshare, flag, sys.executable] + sys.argv)


def run(main, tools=("ffmpeg", "ffprobe"), private_network=False, private_mounts=False):
    """Run main(Test) and exit 0 on success, 1 with a message on failure.
    With private_network, in a network namespace of its own (for a podium
    on fixed ports); with private_mounts, in a mount namespace of its own
    (for a tmpfs the test mounts)."""
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    require_tools(list(tools))
    binary = find_binary()
    if private_network:
        _private_namespace(name, "net")
    if private_mounts:
        _private_namespace(name, "mount")
    signal.signal(signal.SIGTERM, _on_sigterm)
    tmp = tempfile.mkdtemp(prefix="podium-%s-" % name)
    t = Test(name, tmp, binary)
    ok = False
    t0 = time.monotonic()
    try:
        main(t)
        t.finish()
        ok = True
    except TestFailure as e:
        print("\nFAIL %s: %s" % (name, e), flush=True)
    except SystemExit as e:
        print("\nFAIL %s: %s" % (name, e), flush=True)
    except BaseException:  # noqa: BLE001 - report everything
        print("\nFAIL %s: unexpected error:\n%s" % (name, traceback.format_exc()), flush=True)
    if not ok:
        for w in t.watchers:
            w.stop()
            if w.errors:
                print("\n--- playlist problems seen for %s:\n  - %s" % (w.sid, "\n  - ".join(w.errors[:10])))
            if w.last_text:
                print("\n--- last playlist of %s:\n%s" % (w.sid, w.last_text.rstrip()))
        for pod in t.podiums:
            if pod.proc is not None and not pod.stopped:
                try:
                    pod.stop()
                except TestFailure as e:
                    print("(also: %s)" % e)
            print("\n--- tail of %s (%s):\n%s" % (pod.name, pod.log_path, tail(pod.log_path, 60)))
        for pub in t.publishers:
            txt = tail(pub.log_path, 5)
            if txt.strip():
                print("\n--- tail of publisher %s (%s):\n%s" % (pub.label, pub.log_path, txt))
        print("\n(temporary files kept in %s)" % tmp, flush=True)
    _kill_all()
    if ok:
        print("PASS %s (%.1f s)" % (name, time.monotonic() - t0), flush=True)
        if os.environ.get("PODIUM_E2E_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("(temporary files kept in %s)" % tmp)
    sys.exit(0 if ok else 1)
