#!/usr/bin/env python3
"""Low-Latency HLS ([hls] format = fmp4, part_duration = 0.2, segment_duration = 1).

- every playlist polled (~10/s) follows the LL-HLS rules: VERSION >= 9,
  SERVER-CONTROL (CAN-BLOCK-RELOAD=YES, PART-HOLD-BACK >= 2 x PART-TARGET,
  CAN-SKIP-UNTIL), PART-INF, EXT-X-MAP before the first segment, `<seq>.m4s`
  = MEDIA-SEQUENCE + index, EXTINF <= TARGETDURATION, part DURATION <=
  PART-TARGET, part indices 0..k of each segment without holes (and their
  durations adding up to the EXTINF), INDEPENDENT=YES on part 0, the parts
  of the segment being built belong to the next sequence number and the
  PRELOAD-HINT names the part after the last one;
- the parts of a segment concatenated are byte-identical to the segment;
  init + segment and init + part decode (ffprobe: h264 + aac; ffmpeg -f null);
  init.mp4 is the latest init-<n>.mp4;
- blocking reload: `_HLS_msn=M&_HLS_part=P` for the hinted part returns a
  playlist that lists it, never before it exists (a 10 ms non-blocking poll
  runs alongside) and within 50 ms of the first poll that lists it (10
  samples: median and max printed and asserted); `_HLS_msn=M` alone waits for
  segment M complete; the preload-hinted part URI is held and answered with
  the part's bytes;
- 400: `_HLS_part` without `_HLS_msn`, non-numbers, negative, msn more than
  two segments ahead (answered at once, not held);
- `_HLS_skip=YES` with window = 12: the full playlist while it is shorter
  than CAN-SKIP-UNTIL, later a delta update (EXT-X-SKIP:SKIPPED-SEGMENTS=n)
  equal to the full playlist without its first n segments and keeping at
  least CAN-SKIP-UNTIL seconds;
- publisher SIGKILLed: a blocking request is answered within 3 target
  durations (current playlist); publisher back: one EXT-X-DISCONTINUITY, a new
  EXT-X-MAP:URI="init-<n>.mp4" (n = the new publisher's first segment) before
  its segments, numbers continue, the new init + segment decode.

The helpers (LLPlaylist, raw_get, llhls_podium) are used by test_llhls_hold.py
and test_browser_llhls.py too."""
import os
import re
import socket
import statistics
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SID = "llkeynote"
PASS = "ll-secret-4242"
PART_TARGET = 0.2
SEG_DUR = 1.0


# ---------------------------------------------------------------- helpers (shared)

def llhls_podium(t, sessions, fmt="fmp4", part_duration=PART_TARGET, segment_duration=SEG_DUR,
                 window=6, **kw):
    """A podium with [hls] format/part_duration set: harness.Podium writes
    [hls] itself (segment_duration, window) and a second [hls] section is a
    config error, so the generated file is rewritten before the start."""
    pod = t.podium(sessions, start=False, segment_duration=segment_duration, window=window, **kw)
    with open(pod.conf_path) as f:
        text = f.read()
    h.check("\n[hls]\n" in text, "harness config has no [hls] line:\n%s" % text)
    extra = "format = %s\n" % fmt
    if part_duration:
        extra += "part_duration = %s\n" % part_duration
    text = text.replace("\n[hls]\n", "\n[hls]\n" + extra, 1)
    with open(pod.conf_path, "w") as f:
        f.write(text)
    pod.start()
    return pod


def raw_get(port, path, timeout=5.0, method="GET"):
    """Minimal HTTP/1.1 GET on a fresh socket (podium answers Connection: close).
    Returns (status, headers dict (lower-case names), body bytes, monotonic time
    the response was complete)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=h.scaled(timeout))
    try:
        s.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
                   % (method, path, port)).encode())
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    t = time.monotonic()
    return parse_response(b"".join(chunks)) + (t,)


def parse_response(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        h.fail("truncated HTTP response: %r" % data[:200])
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r'^HTTP/1\.[01] (\d{3})', lines[0])
    if not m:
        h.fail("bad HTTP status line %r" % lines[0])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    cl = headers.get("content-length")
    if cl is not None and int(cl) != len(body):
        h.fail("HTTP body is %d bytes, Content-Length says %s" % (len(body), cl))
    return int(m.group(1)), headers, body


def _attrs(s):
    out = {}
    for m in re.finditer(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', s):
        v = m.group(2)
        out[m.group(1)] = v[1:-1] if v.startswith('"') else v
    return out


class LLSeg:
    def __init__(self, seq, duration, uri, disc, map_uri, parts):
        self.seq, self.duration, self.uri = seq, duration, uri
        self.disc, self.map_uri, self.parts = disc, map_uri, parts   # parts: [(uri, dur, indep)]

    def __repr__(self):
        return "<seg %d %.3f %d parts%s>" % (self.seq, self.duration, len(self.parts),
                                             " DISC" if self.disc else "")


class LLPlaylist:
    """A parsed LL-HLS media playlist; .problems lists every rule broken."""

    def __init__(self, text):
        self.text = text
        self.problems = []
        self.version = self.target = self.media_seq = self.disc_seq = None
        self.server_control = None
        self.part_target = None
        self.skipped = 0
        self.segments = []
        self.pending = []            # parts after the last EXTINF: [(uri, dur, indep)]
        self.pending_map = None      # EXT-X-MAP after the last segment (new publisher)
        self.pending_disc = False
        self.hint = None
        self.endlist = False
        self._parse()
        self._check()

    def _p(self, msg):
        if msg not in self.problems:
            self.problems.append(msg)

    def _parse(self):
        lines = [l.strip() for l in self.text.splitlines() if l.strip()]
        if not lines or lines[0] != "#EXTM3U":
            self._p("first line is not #EXTM3U")
        parts, dur, disc, cur_map, new_map = [], None, False, None, None
        raw = []
        for l in lines[1:]:
            tag, _, val = l.partition(":")
            if tag == "#EXT-X-VERSION":
                self.version = int(val)
            elif tag == "#EXT-X-TARGETDURATION":
                self.target = int(val)
            elif tag == "#EXT-X-MEDIA-SEQUENCE":
                self.media_seq = int(val)
            elif tag == "#EXT-X-DISCONTINUITY-SEQUENCE":
                self.disc_seq = int(val)
            elif tag == "#EXT-X-SERVER-CONTROL":
                self.server_control = _attrs(val)
            elif tag == "#EXT-X-PART-INF":
                self.part_target = float(_attrs(val).get("PART-TARGET", "nan"))
            elif tag == "#EXT-X-SKIP":
                self.skipped = int(_attrs(val).get("SKIPPED-SEGMENTS", "-1"))
            elif l == "#EXT-X-DISCONTINUITY":
                disc = True
            elif tag == "#EXT-X-MAP":
                cur_map = new_map = _attrs(val).get("URI")
            elif tag == "#EXT-X-PART":
                a = _attrs(val)
                try:
                    d = float(a.get("DURATION"))
                except (TypeError, ValueError):
                    self._p("bad EXT-X-PART %r" % l)
                    d = -1.0
                parts.append((a.get("URI"), d, a.get("INDEPENDENT") == "YES"))
            elif tag == "#EXT-X-PRELOAD-HINT":
                a = _attrs(val)
                if a.get("TYPE") != "PART":
                    self._p("PRELOAD-HINT TYPE %r, expected PART" % a.get("TYPE"))
                self.hint = a.get("URI")
            elif tag == "#EXTINF":
                dur = float(val.split(",", 1)[0])
            elif l == "#EXT-X-ENDLIST":
                self.endlist = True
            elif l.startswith("#"):
                continue
            else:
                if dur is None:
                    self._p("URI %r without #EXTINF" % l)
                    continue
                raw.append((dur, l, disc, cur_map, parts))
                parts, dur, disc, new_map = [], None, False, None
        self.pending = parts
        self.pending_map = new_map
        self.pending_disc = disc
        base = (self.media_seq or 0) + self.skipped
        for i, (d, uri, disc, m, ps) in enumerate(raw):
            self.segments.append(LLSeg(base + i, d, uri, disc, m, ps))

    def _check(self):
        for name, v in (("#EXT-X-VERSION", self.version), ("#EXT-X-TARGETDURATION", self.target),
                        ("#EXT-X-MEDIA-SEQUENCE", self.media_seq),
                        ("#EXT-X-DISCONTINUITY-SEQUENCE", self.disc_seq),
                        ("#EXT-X-SERVER-CONTROL", self.server_control),
                        ("#EXT-X-PART-INF", self.part_target)):
            if v is None:
                self._p("missing %s" % name)
        if self.version is not None and self.version < 9:
            self._p("EXT-X-VERSION %d < 9 (EXT-X-SKIP/PART need 9)" % self.version)
        sc = self.server_control or {}
        if sc and sc.get("CAN-BLOCK-RELOAD") != "YES":
            self._p("SERVER-CONTROL without CAN-BLOCK-RELOAD=YES: %r" % sc)
        pt = self.part_target or 0
        if sc and pt:
            phb = float(sc.get("PART-HOLD-BACK", "0"))
            if phb < 2 * pt:
                self._p("PART-HOLD-BACK %.3f < 2 x PART-TARGET %.3f" % (phb, pt))
            if "CAN-SKIP-UNTIL" in sc and self.target and float(sc["CAN-SKIP-UNTIL"]) < 6 * self.target:
                self._p("CAN-SKIP-UNTIL %s < 6 x TARGETDURATION" % sc["CAN-SKIP-UNTIL"])
        if self.segments and self.segments[0].map_uri is None and not self.skipped:
            self._p("no EXT-X-MAP before the first segment")
        seen_parts = False
        for s in self.segments:
            if os.path.basename(urllib.parse.urlsplit(s.uri).path) != "%d.m4s" % s.seq:
                self._p("segment URI %r, expected %d.m4s (sequence number)" % (s.uri, s.seq))
            if self.target is not None:
                if not s.duration > 0:
                    self._p("%d.m4s: EXTINF %.3f not > 0" % (s.seq, s.duration))
                if int(s.duration + 0.5) > self.target or s.duration > self.target + 0.001:
                    self._p("%d.m4s: EXTINF %.3f > TARGETDURATION %d" % (s.seq, s.duration, self.target))
            if s.parts:
                seen_parts = True
                self._check_parts(s.seq, s.parts, pt)
                total = sum(p[1] for p in s.parts)
                if abs(total - s.duration) > 0.05:
                    self._p("%d.m4s: parts add up to %.3f s, EXTINF %.3f" % (s.seq, total, s.duration))
            elif seen_parts:
                self._p("%d.m4s lists no parts but an older segment does" % s.seq)
        if self.endlist:
            return
        nxt = self.segments[-1].seq + 1 if self.segments else self.media_seq
        self._check_parts(nxt, self.pending, pt)
        if self.hint is None:
            self._p("no EXT-X-PRELOAD-HINT")
        elif nxt is not None and self.hint != "%d.%d.m4s" % (nxt, len(self.pending)):
            self._p("PRELOAD-HINT %r, expected %d.%d.m4s (the part after the last listed)"
                    % (self.hint, nxt, len(self.pending)))
        if self.segments and self.pending and not self.segments[-1].parts:
            self._p("the newest segment %d lists no parts" % self.segments[-1].seq)

    def _check_parts(self, seq, parts, pt):
        for i, (uri, d, indep) in enumerate(parts):
            if uri != "%d.%d.m4s" % (seq, i):
                self._p("part #%d of segment %d has URI %r, expected %d.%d.m4s (indices 0..k, no holes)"
                        % (i, seq, uri, seq, i))
            if not 0 < d <= pt + 1e-6:
                self._p("part %s DURATION %.5f not in (0, PART-TARGET %.5f]" % (uri, d, pt))
            if i == 0 and not indep:
                self._p("part %s (first of its segment) without INDEPENDENT=YES" % uri)

    # -- queries
    def all_part_uris(self):
        out = [p[0] for s in self.segments for p in s.parts]
        return out + [p[0] for p in self.pending]

    def lists_part(self, seq, idx):
        """Part idx of segment seq is listed, or the segment is complete."""
        u = "%d.%d.m4s" % (seq, idx)
        return u in self.all_part_uris() or any(s.seq == seq for s in self.segments)

    def hint_pos(self):
        m = re.match(r'^(\d+)\.(\d+)\.m4s$', self.hint or "")
        return (int(m.group(1)), int(m.group(2))) if m else None


def get_playlist(pod, sid, query="", timeout=5.0):
    st, hd, body, t = raw_get(pod.http_port, "/live/%s/index.m3u8%s" % (sid, query), timeout=timeout)
    return st, body.decode("utf-8", "replace"), t


def fetch_pl(pod, sid, query=""):
    st, text, _ = get_playlist(pod, sid, query)
    h.check(st == 200, "GET index.m3u8%s -> %d, expected 200: %s" % (query, st, text[:200]))
    pl = LLPlaylist(text)
    h.check(not pl.problems, "LL-HLS playlist%s breaks the rules:\n  - %s\n%s"
            % (query and " (" + query + ")", "\n  - ".join(pl.problems), text))
    return pl


def fetch_bytes(pod, sid, name):
    st, hd, body, _ = raw_get(pod.http_port, "/live/%s/%s" % (sid, name))
    h.check(st == 200, "GET /live/%s/%s -> %d, expected 200 (%r)" % (sid, name, st, body[:120]))
    h.check(hd.get("content-type") == "video/mp4",
            "%s Content-Type %r, expected video/mp4" % (name, hd.get("content-type")))
    return body


def probe_mp4(t, data, label, video=True, audio=True):
    """ffprobe (h264 + aac) and a full ffmpeg decode of an fMP4 byte string."""
    path = t.path(label + ".mp4")
    with open(path, "wb") as f:
        f.write(data)
    j = h.ffprobe_json(["-show_streams", "-show_format", path], what="ffprobe %s" % label)
    kinds = {s.get("codec_type"): s for s in j.get("streams", [])}
    if video:
        v = kinds.get("video")
        h.check(v and v.get("codec_name") == "h264" and int(v.get("width") or 0) > 0,
                "%s: no h264 video with dimensions: %r" % (label, j.get("streams")))
    if audio:
        a = kinds.get("audio")
        h.check(a and a.get("codec_name") == "aac" and int(a.get("sample_rate") or 0) > 0,
                "%s: no aac audio: %r" % (label, j.get("streams")))
    rc, out, err = h.run_capture(["ffmpeg", "-v", "error", "-xerror", "-i", path, "-f", "null", "-"],
                                 30, "ffmpeg decode %s" % label)
    h.check(rc == 0 and not err.strip(), "%s does not decode cleanly (exit %d): %s" % (label, rc, err[-600:]))
    return j


class Poller:
    """Non-blocking playlist polls every `interval` s in a thread; records
    (t_send, t_recv, LLPlaylist) and checks every playlist against the rules."""

    def __init__(self, pod, sid, interval=0.01):
        self.pod, self.sid, self.interval = pod, sid, interval
        self.samples = []
        self.errors = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._th.start()
        return self

    def stop(self):
        self._stop.set()
        self._th.join(10)

    def _run(self):
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                st, text, t1 = get_playlist(self.pod, self.sid)
                if st == 200:
                    pl = LLPlaylist(text)
                    with self.lock:
                        self.samples.append((t0, t1, pl))
                        for p in pl.problems:
                            if len(self.errors) < 20:
                                self.errors.append(p + "\n" + text)
            except Exception as e:  # noqa: BLE001 - reported by the test
                with self.lock:
                    self.errors.append("poll error %r" % (e,))
            self._stop.wait(self.interval)

    def first_listing(self, seq, idx, after=0.0):
        """(t_send of the last poll not listing it, t_recv of the first listing it)."""
        last_not = None
        with self.lock:
            samples = list(self.samples)
        for t0, t1, pl in samples:
            if t1 < after:
                continue
            if pl.lists_part(seq, idx):
                return last_not, t1
            last_not = t0
        return last_not, None


# ---------------------------------------------------------------- the test

def check_parts_and_segments(t, pod, n=3):
    """For n complete segments whose parts are all listed: parts == segment bytes;
    init + segment and init + part 0 decode."""
    pl = fetch_pl(pod, SID)
    full = [s for s in pl.segments if s.parts]
    h.check(len(full) >= n, "fewer than %d complete segments list their parts:\n%s" % (n, pl.text))
    init_name = full[-1].map_uri
    init = fetch_bytes(pod, SID, init_name)
    latest = fetch_bytes(pod, SID, "init.mp4")
    h.check(latest == init, "init.mp4 (%d bytes) differs from %s (%d bytes), the latest map"
            % (len(latest), init_name, len(init)))
    for s in full[-n:]:
        seg = fetch_bytes(pod, SID, s.uri)
        parts = [fetch_bytes(pod, SID, p[0]) for p in s.parts]
        joined = b"".join(parts)
        h.check(joined == seg, "segment %s (%d bytes) != its %d parts concatenated (%d bytes; sizes %r)"
                % (s.uri, len(seg), len(parts), len(joined), [len(p) for p in parts]))
        h.note("%s: %d bytes = %d parts %r" % (s.uri, len(seg), len(parts), [len(p) for p in parts]))
    s = full[-1]
    probe_mp4(t, init + fetch_bytes(pod, SID, s.uri), "init+%d" % s.seq)
    probe_mp4(t, init + fetch_bytes(pod, SID, s.parts[0][0]), "init+%d.0" % s.seq)


def blocking_latency(pod, samples=10):
    """Blocking reload for the hinted part vs a 10 ms non-blocking poll."""
    poller = Poller(pod, SID, 0.01).start()
    deltas = []
    try:
        h.wait_for(lambda: len(poller.samples) >= 5, 5, "first non-blocking polls")
        for i in range(samples):
            pl = fetch_pl(pod, SID)
            seq, idx = pl.hint_pos()
            q = "?_HLS_msn=%d&_HLS_part=%d" % (seq, idx)
            t_req = time.monotonic()
            st, text, t_ret = get_playlist(pod, SID, q, timeout=10)
            h.check(st == 200, "blocking %s -> %d" % (q, st))
            bl = LLPlaylist(text)
            h.check(not bl.problems, "blocking playlist %s breaks the rules: %r\n%s" % (q, bl.problems, text))
            h.check(bl.lists_part(seq, idx), "blocking request %s returned a playlist without part "
                                             "%d.%d.m4s:\n%s" % (q, seq, idx, text))
            h.check(t_ret - t_req < 3 * pl.target + 0.5, "blocking request %s took %.3f s" % (q, t_ret - t_req))
            h.wait_for(lambda: poller.first_listing(seq, idx, t_req)[1], 3,
                       "a non-blocking poll listing %d.%d.m4s" % (seq, idx), interval=0.01)
            last_not, first = poller.first_listing(seq, idx, t_req)
            d = t_ret - first
            deltas.append(d)
            # Returning before the first poll that listed the part is no fault: the poller
            # thread is late whenever the shared machine is busy (CI saw -31.6 ms). What
            # must not happen is returning before a poll that did not list it was sent.
            if last_not is not None:
                h.check(t_ret >= last_not,
                        "blocking request for %d.%d.m4s returned %.1f ms before a poll that did not list it "
                        "was even sent" % (seq, idx, (last_not - t_ret) * 1000))
            h.note("blocking %s: held %.1f ms, returned %+.1f ms vs the first poll listing the part"
                   % (q, (t_ret - t_req) * 1000, d * 1000))
    finally:
        poller.stop()
    h.check(not poller.errors, "non-blocking polls saw rule violations:\n%s" % "\n".join(poller.errors[:3]))
    ms = sorted(x * 1000 for x in deltas)
    med = statistics.median(ms)
    h.note("BLOCKING RELOAD LATENCY (ms, return - first 10 ms poll listing the part; negative = earlier): "
           "n=%d min %.1f median %.1f max %.1f all %s" % (len(ms), ms[0], med, ms[-1],
                                                           ["%.1f" % x for x in ms]))
    h.check(ms[-1] <= 50, "a blocking reload returned %.1f ms after the part was visible (max 50 ms)" % ms[-1])
    h.check(med <= 25, "median blocking reload latency %.1f ms > 25 ms" % med)
    return ms


def msn_only_and_hinted_part(pod):
    # _HLS_msn alone: waits for that segment to be complete
    pl = fetch_pl(pod, SID)
    seq, idx = pl.hint_pos()
    t0 = time.monotonic()
    st, text, t1 = get_playlist(pod, SID, "?_HLS_msn=%d" % seq, timeout=10)
    h.check(st == 200, "_HLS_msn=%d -> %d" % (seq, st))
    bl = LLPlaylist(text)
    h.check(any(s.seq == seq for s in bl.segments),
            "_HLS_msn=%d returned a playlist without segment %d complete:\n%s" % (seq, seq, text))
    h.note("_HLS_msn=%d (segment being built, part %d next) held %.0f ms" % (seq, idx, (t1 - t0) * 1000))
    h.check(t1 - t0 < 3 * pl.target + 0.5, "_HLS_msn=%d held %.2f s" % (seq, t1 - t0))
    # an already complete segment: at once
    old = bl.segments[0].seq
    t0 = time.monotonic()
    st, text, t1 = get_playlist(pod, SID, "?_HLS_msn=%d&_HLS_part=0" % old)
    h.check(st == 200 and t1 - t0 < 0.2, "_HLS_msn=%d (in the window) -> %d after %.3f s, expected 200 at once"
            % (old, st, t1 - t0))
    # the preload-hinted part itself: held, then its bytes
    waits = []
    for _ in range(5):
        pl = fetch_pl(pod, SID)
        seq, idx = pl.hint_pos()
        t0 = time.monotonic()
        st, hd, body, t1 = raw_get(pod.http_port, "/live/%s/%s" % (SID, pl.hint), timeout=10)
        h.check(st == 200, "GET preload-hinted %s -> %d, expected 200 once complete (%r)" % (pl.hint, st, body[:100]))
        h.check(hd.get("content-type") == "video/mp4", "hinted part Content-Type %r" % hd.get("content-type"))
        again = fetch_bytes(pod, SID, pl.hint)
        h.check(again == body, "hinted part %s: held answer (%d bytes) != later GET (%d bytes)"
                % (pl.hint, len(body), len(again)))
        after = fetch_pl(pod, SID)
        h.check(after.lists_part(seq, idx), "%s answered but the playlist does not list it" % pl.hint)
        waits.append((t1 - t0) * 1000)
    h.note("preload-hinted part GETs held %s ms" % ["%.0f" % w for w in waits])
    h.check(max(waits) < 1000, "a preload-hinted part took %.0f ms (part target 200 ms)" % max(waits))


def bad_requests(pod):
    pl = fetch_pl(pod, SID)
    seq, idx = pl.hint_pos()
    cases = ["?_HLS_part=1", "?_HLS_msn=abc", "?_HLS_msn=%d&_HLS_part=x" % seq, "?_HLS_msn=-1",
             "?_HLS_msn=%d" % (seq + 2), "?_HLS_msn=%d&_HLS_part=0" % (seq + 2), "?_HLS_msn=99999999",
             "?_HLS_msn=1.5"]
    for q in cases:
        t0 = time.monotonic()
        st, text, t1 = get_playlist(pod, SID, q)
        h.check(st == 400, "index.m3u8%s -> %d, expected 400 (segment being built: %d)" % (q, st, seq))
        h.check(t1 - t0 < 0.5, "index.m3u8%s answered 400 only after %.2f s (held?)" % (q, t1 - t0))
    h.note("400 for %s" % ", ".join(cases))
    # one ahead of the segment being built is allowed (held)
    t0 = time.monotonic()
    st, text, t1 = get_playlist(pod, SID, "?_HLS_msn=%d&_HLS_part=0" % (seq + 1), timeout=10)
    h.check(st == 200, "_HLS_msn=%d (next segment) -> %d, expected 200" % (seq + 1, st))
    h.check(LLPlaylist(text).lists_part(seq + 1, 0), "_HLS_msn=%d&_HLS_part=0 returned without that part:\n%s"
            % (seq + 1, text))


def delta_updates(pod):
    def delta_ready():
        full = fetch_pl(pod, SID)
        return full if sum(s.duration for s in full.segments) > 6.0 + 1.5 else None
    h.wait_for(delta_ready, 20, "a playlist longer than CAN-SKIP-UNTIL + 1.5 s")
    for _ in range(10):
        full = fetch_pl(pod, SID)
        dl = fetch_pl(pod, SID, "?_HLS_skip=YES")
        if full.segments[-1].seq == dl.segments[-1].seq and full.hint == dl.hint:
            break
    else:
        h.fail("full and delta playlists never had the same newest segment")
    h.check(dl.skipped > 0, "_HLS_skip=YES with %.1f s listed gave no EXT-X-SKIP:\n%s"
            % (sum(s.duration for s in full.segments), dl.text))
    h.check(dl.media_seq == full.media_seq, "delta MEDIA-SEQUENCE %s != full %s" % (dl.media_seq, full.media_seq))
    h.check([s.seq for s in dl.segments] == [s.seq for s in full.segments[dl.skipped:]],
            "delta lists %r, expected the full playlist's %r without its first %d"
            % ([s.seq for s in dl.segments], [s.seq for s in full.segments], dl.skipped))
    h.check([s.duration for s in dl.segments] == [s.duration for s in full.segments[dl.skipped:]],
            "delta EXTINFs differ from the full playlist's")
    kept = sum(s.duration for s in dl.segments)
    until = float(full.server_control["CAN-SKIP-UNTIL"])
    h.check(kept >= until - 0.001, "delta keeps %.3f s, less than CAN-SKIP-UNTIL %.1f" % (kept, until))
    h.note("delta update: %d of %d segments skipped, %.2f s kept (CAN-SKIP-UNTIL %.1f)"
           % (dl.skipped, len(full.segments), kept, until))
    # blocking + skip together
    seq, idx = dl.hint_pos()
    st, text, _ = get_playlist(pod, SID, "?_HLS_msn=%d&_HLS_part=%d&_HLS_skip=YES" % (seq, idx), timeout=10)
    bl = LLPlaylist(text)
    h.check(st == 200 and bl.skipped > 0 and bl.lists_part(seq, idx),
            "blocking delta request -> %d, skipped %d, lists %d.%d: %s" % (st, bl.skipped, seq, idx, text))


def reconnect(t, pod, pub):
    before = fetch_pl(pod, SID)
    last_old = before.segments[-1].seq
    pub.kill()
    h.note("publisher SIGKILLed; newest segment %d, hint %s" % (last_old, before.hint))
    pl = fetch_pl(pod, SID)
    seq, idx = pl.hint_pos()
    # the hinted part never comes: the hold ends within 3 target durations
    t0 = time.monotonic()
    st, text, t1 = get_playlist(pod, SID, "?_HLS_msn=%d&_HLS_part=%d" % (seq, idx + 1), timeout=15)
    held = t1 - t0
    h.note("blocking request with no publisher: %d after %.2f s (limit 3 x TARGETDURATION = %d s)"
           % (st, held, 3 * pl.target))
    h.check(st == 200, "blocking request without a publisher -> %d, expected 200 (current playlist)" % st)
    h.check(held <= 3 * pl.target + 0.3, "blocking request held %.2f s, more than 3 target durations" % held)
    h.wait_for(lambda: pod.api(SID).get("publisher") is None, 15, "API publisher=null after SIGKILL")
    stale = fetch_pl(pod, SID)
    last_old = stale.segments[-1].seq
    pub2 = pod.publish(SID, duration=40, gop=30)

    def new_segments():
        h.check(pub2.poll() is None, "publisher 2 exited: %s" % pub2.log())
        p = fetch_pl(pod, SID)
        new = [s for s in p.segments if s.seq > last_old]
        return p if len(new) >= 2 else None
    pl = h.wait_for(new_segments, 20, "2 segments from the second publisher")
    new = [s for s in pl.segments if s.seq > last_old]
    first = new[0]
    h.check(first.seq == last_old + 1, "first new segment %d, expected %d (numbers continue)"
            % (first.seq, last_old + 1))
    discs = [s.seq for s in pl.segments if s.disc]
    h.check(discs == [first.seq], "DISCONTINUITY before %r, expected exactly before %d:\n%s"
            % (discs, first.seq, pl.text))
    old_maps = {s.map_uri for s in pl.segments if s.seq <= last_old}
    h.check(first.map_uri == "init-%d.mp4" % first.seq and first.map_uri not in old_maps,
            "new publisher's first segment %d has EXT-X-MAP %r (old ones %r), expected a new init-%d.mp4"
            % (first.seq, first.map_uri, old_maps, first.seq))
    lines = pl.text.splitlines()
    i_disc = lines.index("#EXT-X-DISCONTINUITY")
    i_map = lines.index('#EXT-X-MAP:URI="init-%d.mp4"' % first.seq)
    i_seg = lines.index("%d.m4s" % first.seq)
    h.check(i_disc < i_map < i_seg, "expected DISCONTINUITY, then the new MAP, then %d.m4s:\n%s"
            % (first.seq, pl.text))
    h.check(pl.disc_seq == before.disc_seq, "DISCONTINUITY-SEQUENCE changed while the old segments are listed")
    init_new = fetch_bytes(pod, SID, first.map_uri)
    h.check(fetch_bytes(pod, SID, "init.mp4") == init_new, "init.mp4 is not the new publisher's init")
    for m in old_maps:
        fetch_bytes(pod, SID, m)
    probe_mp4(t, init_new + fetch_bytes(pod, SID, new[-1].uri), "init-new+%d" % new[-1].seq)
    h.note("reconnect: old segments ..%d, DISCONTINUITY + %s before %d.m4s" % (last_old, first.map_uri, first.seq))
    # a blocking request works on the new publisher's stream
    seq, idx = pl.hint_pos()
    st, text, _ = get_playlist(pod, SID, "?_HLS_msn=%d&_HLS_part=%d" % (seq, idx), timeout=10)
    h.check(st == 200 and LLPlaylist(text).lists_part(seq, idx), "blocking after reconnect -> %d" % st)
    return pub2


def main(t):
    pod = llhls_podium(t, {SID: {"title": "LL keynote", "passphrase": PASS}}, window=12)
    pub = pod.publish(SID, duration=60, gop=30)
    poller = Poller(pod, SID, 0.1).start()

    def first():
        pod.assert_running()
        h.check(pub.poll() is None, "publisher exited: %s" % pub.log())
        st, text, _ = get_playlist(pod, SID)
        return st == 200 and text.count("#EXTINF") >= 1
    h.wait_for(first, 15, "the first segment")
    pl = fetch_pl(pod, SID, "?_HLS_skip=YES")
    h.check(pl.skipped == 0, "delta requested with %d segment(s) listed: expected the full playlist, got "
            "SKIPPED-SEGMENTS=%d" % (len(pl.segments), pl.skipped))
    h.check(pl.segments[0].map_uri == "init-%d.mp4" % pl.segments[0].seq,
            "EXT-X-MAP %r, expected init-%d.mp4 (first segment of the publisher)"
            % (pl.segments[0].map_uri, pl.segments[0].seq))
    h.check(pl.server_control.get("CAN-SKIP-UNTIL") and pl.part_target == PART_TARGET,
            "SERVER-CONTROL %r, PART-TARGET %r" % (pl.server_control, pl.part_target))
    h.wait_for(lambda: len([s for s in fetch_pl(pod, SID).segments if s.parts]) >= 3, 15,
               "3 complete segments with their parts listed")
    check_parts_and_segments(t, pod)
    blocking_latency(pod)
    msn_only_and_hinted_part(pod)
    bad_requests(pod)
    delta_updates(pod)
    poller.stop()
    h.check(not poller.errors, "playlist polls saw rule violations:\n%s" % "\n".join(poller.errors[:3]))
    h.note("%d playlists polled, all follow the rules" % len(poller.samples))
    reconnect(t, pod, pub)


if __name__ == "__main__":
    h.run(main)
