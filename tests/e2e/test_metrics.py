#!/usr/bin/env python3
"""GET /metrics: Prometheus text format 0.0.4, values that follow the stream.

- every scrape passes a strict parser of the text format: Content-Type
  text/plain; version=0.0.4; lines end with \\n; HELP/TYPE at most once per
  family and before its samples; every sample's family has a TYPE; a family's
  lines are contiguous; valid metric and label names, label syntax and
  escapes, no duplicate label or series; float values (counters >= 0, not
  NaN); optional integer timestamps;
- every family the brief lists is there with the right type; per-session
  families carry session="<id>" for each session; podium_sessions counts them;
- before publishing: podium_publishers 0, session_live 0, no podium_srt_*
  sample; while one session publishes: podium_publishers 1, session_live 1
  for it and 0 for the idle one, srt_* samples for it only (and sane values),
  bytes_in / packets_in / segments / recording bytes increase between two
  scrapes, bitrate > 0; the idle session's counters stay 0;
- counters never decrease across all scrapes of the test (polled ~4/s),
  including after the publisher leaves, the session is ended and its
  recording deleted by the organizer;
- http_responses_total: 2xx, 401, 404, 405 grow by at least the requests the
  test made of each kind; http_segment_bytes_total grows by at least the
  segment bytes the test downloaded;
- after the publisher leaves: podium_publishers 0, session_live 0, srt_*
  samples gone; segments_total and bytes_in equal the API's numbers;
  recording_bytes_total equals the API's recording.bytes and the bytes of
  the recorded segment files; no recording errors or gaps;
- scraped without the organizer token, the podium_recording_* samples of a
  session are there only while it records (or once published): none for the
  idle session, none for the ended session's unpublished recording.
  Everything else scrapes with the token."""
import math
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

LIVE = "live1"
IDLE = "idle1"
SESSIONS = {LIVE: {"title": "Live one", "passphrase": "live1-passphrase-77"},
            IDLE: {"title": "Idle one", "passphrase": "idle1-passphrase-88"}}

SESSION_FAMILIES = {
    "podium_session_live": "gauge",
    "podium_session_bytes_in_total": "counter",
    "podium_session_packets_in_total": "counter",
    "podium_session_segments_total": "counter",
    "podium_session_viewers": "gauge",
    "podium_session_viewers_peak": "gauge",
    "podium_session_bitrate_bps": "gauge",
    "podium_session_subscribers": "gauge",
    "podium_recording_bytes_total": "counter",
    "podium_recording_errors_total": "counter",
    "podium_recording_gaps_total": "counter",
}
SRT_FAMILIES = {
    "podium_srt_rtt_ms": "gauge",
    "podium_srt_packets_lost_total": "counter",
    "podium_srt_packets_retransmitted_total": "counter",
    "podium_srt_packets_dropped_total": "counter",
    "podium_srt_rcvbuf_ms": "gauge",
}
GLOBAL_FAMILIES = {
    "podium_publishers": "gauge",
    "podium_sessions": "gauge",
    "podium_http_responses_total": "counter",
    "podium_http_segment_bytes_total": "counter",
    "podium_http_connections_total": "counter",
    "podium_http_connections_handed_over_total": "counter",
    "podium_http_livesend_responses_total": "counter",
}
ALL_FAMILIES = dict(SESSION_FAMILIES, **SRT_FAMILIES, **GLOBAL_FAMILIES)


# ---------------------------------------------------------------- strict parser

METRIC_NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL_NAME = r'[a-zA-Z_][a-zA-Z0-9_]*'
METRIC_RE = re.compile(METRIC_NAME)
LABEL_RE = re.compile(LABEL_NAME)
FLOAT_RE = re.compile(r'^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$')
TS_RE = re.compile(r'^-?\d+$')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class ParseError(Exception):
    pass


def _family_of(name, types):
    """The family a sample name belongs to (histogram/summary suffixes included)."""
    if name in types and types[name] in ("counter", "gauge", "untyped", "summary", "histogram"):
        return name
    for suffix, kinds in (("_bucket", ("histogram",)), ("_sum", ("histogram", "summary")),
                          ("_count", ("histogram", "summary"))):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) in kinds:
            return name[:-len(suffix)]
    return name


def _parse_labels(s, i, lineno):
    """s[i] == '{'; returns (labels dict, index after '}')."""
    labels = {}
    i += 1
    while True:
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        m = LABEL_RE.match(s, i)
        if not m:
            raise ParseError("line %d: bad label name at %r" % (lineno, s[i:i + 20]))
        lname = m.group(0)
        i = m.end()
        if lname in labels:
            raise ParseError("line %d: duplicate label %r" % (lineno, lname))
        if s[i:i + 2] != '="':
            raise ParseError("line %d: expected =\" after label %r" % (lineno, lname))
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise ParseError("line %d: unterminated label value" % lineno)
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise ParseError("line %d: bad escape \\%s in a label value" % (lineno, nxt))
                val.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ParseError("line %d: raw newline in a label value" % lineno)
            else:
                val.append(c)
                i += 1
        labels[lname] = "".join(val)
        if i < len(s) and s[i] == ",":
            i += 1
        elif i < len(s) and s[i] == "}":
            return labels, i + 1
        else:
            raise ParseError("line %d: expected , or } after a label value at %r" % (lineno, s[i:i + 20]))


def parse_metrics(text):
    """Strictly parse Prometheus text format 0.0.4.
    Returns (types, helps, samples) with samples {(name, frozenset(labels.items())): float}."""
    if not text.endswith("\n"):
        raise ParseError("the exposition does not end with a newline")
    types, helps, samples = {}, {}, {}
    done = set()          # families whose block has ended
    current = None        # family of the block being read
    seen_sample = set()   # families that already had a sample
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[0] == "#" and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not METRIC_RE.fullmatch(parts[2]):
                    raise ParseError("line %d: %s without a valid metric name: %r" % (lineno, parts[1], line))
                name = parts[2]
                if name != current:
                    if name in done or name in seen_sample:
                        raise ParseError("line %d: %s for %s after its block ended (lines of a family must "
                                         "be contiguous)" % (lineno, parts[1], name))
                    if current is not None:
                        done.add(current)
                    current = name
                if parts[1] == "HELP":
                    if name in helps:
                        raise ParseError("line %d: second HELP for %s" % (lineno, name))
                    doc = line.split(None, 3)[3] if len(parts) == 4 else ""
                    if "\\" in re.sub(r'\\[\\n]', "", doc):     # only \\ and \n escapes
                        raise ParseError("line %d: bad escape in HELP text %r" % (lineno, doc))
                    helps[name] = doc
                else:
                    if name in types:
                        raise ParseError("line %d: second TYPE for %s" % (lineno, name))
                    if name in seen_sample:
                        raise ParseError("line %d: TYPE for %s after its samples" % (lineno, name))
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ParseError("line %d: bad TYPE line %r" % (lineno, line))
                    types[name] = parts[3]
            continue  # other comments are allowed
        m = METRIC_RE.match(line)
        if not m or m.start() != 0:
            raise ParseError("line %d: sample without a valid metric name: %r" % (lineno, line))
        name = m.group(0)
        i = m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _parse_labels(line, i, lineno)
        rest = line[i:]
        if not rest.startswith(" "):
            raise ParseError("line %d: expected a space before the value: %r" % (lineno, line))
        fields = rest.split()
        if len(fields) not in (1, 2):
            raise ParseError("line %d: expected 'value [timestamp]' after the name: %r" % (lineno, line))
        if not FLOAT_RE.match(fields[0]):
            raise ParseError("line %d: value %r is not a float" % (lineno, fields[0]))
        if len(fields) == 2 and not TS_RE.match(fields[1]):
            raise ParseError("line %d: timestamp %r is not an integer" % (lineno, fields[1]))
        value = float(fields[0])
        fam = _family_of(name, types)
        if fam not in types:
            raise ParseError("line %d: sample %s has no TYPE line before it" % (lineno, name))
        if fam != current:
            if fam in done:
                raise ParseError("line %d: sample of %s after its block ended (not contiguous)" % (lineno, fam))
            if current is not None:
                done.add(current)
            current = fam
        seen_sample.add(fam)
        if types[fam] == "counter" and (math.isnan(value) or value < 0):
            raise ParseError("line %d: counter %s has value %r" % (lineno, name, fields[0]))
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise ParseError("line %d: duplicate series %s%r" % (lineno, name, labels))
        samples[key] = value
    return types, helps, samples


def self_test_parser():
    """The parser itself: accepts valid text, refuses each kind of violation."""
    good = ('# HELP a_total Help with \\\\ and \\n.\n# TYPE a_total counter\na_total{x="1",y="q\\"\\\\\\n"} 3\n'
            'a_total{x="2",} 4.5e3 1700000000000\n# a comment\n# TYPE g gauge\ng -Inf\ng{k="v"} NaN\n'
            '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 2\nh_count 1\n')
    _t, _h, s = parse_metrics(good)
    assert s[("a_total", frozenset({("x", "2")}))] == 4500.0
    bad = ["# TYPE a counter\na 1",                                  # no final newline
           "a 1\n",                                                   # no TYPE
           "# TYPE a counter\na -1\n",                                # negative counter
           "# TYPE a gauge\na 1\n# TYPE a gauge\n",                   # second TYPE
           "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n",         # not contiguous
           "# TYPE a gauge\na{1x=\"v\"} 1\n",                         # bad label name
           "# TYPE a gauge\na{x=\"v} 1\n",                            # unterminated
           "# TYPE a gauge\na{x=\"\\t\"} 1\n",                        # bad escape
           "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n",                  # duplicate label
           "# TYPE a gauge\na 1\na 2\n",                              # duplicate series
           "# TYPE a gauge\na one\n",                                 # not a float
           "# TYPE a gauge\na 0x10\n",                                # not a Go float
           "# TYPE a gauge\na 1 1.5\n",                               # bad timestamp
           "# TYPE a gauge\na{x=\"1\"}1\n",                           # no space
           "# TYPE 9a gauge\n",                                       # bad name
           "# TYPE a number\na 1\n",                                  # bad type
           "# TYPE a gauge\na 1 2 3\n"]                               # too many fields
    for text in bad:
        try:
            parse_metrics(text)
        except ParseError:
            continue
        raise AssertionError("parser accepted invalid text %r" % text)


# ---------------------------------------------------------------- scraping

class Scrape:
    def __init__(self, text):
        self.text = text
        try:
            self.types, self.helps, self.samples = parse_metrics(text)
        except ParseError as e:
            h.fail("/metrics is not valid Prometheus text format 0.0.4: %s\n%s" % (e, text[:3000]))
        self.t = time.monotonic()

    def get(self, name, session=None, **labels):
        if session is not None:
            labels["session"] = session
        return self.samples.get((name, frozenset(labels.items())))

    def v(self, name, session=None, **labels):
        x = self.get(name, session, **labels)
        h.check(x is not None, "/metrics has no sample %s{%s}:\n%s"
                % (name, ",".join('%s="%s"' % kv for kv in sorted(labels.items())), self.text[:3000]))
        return x

    def family_samples(self, fam):
        return {k: v for k, v in self.samples.items() if k[0] == fam}


class Scraper:
    """Scrapes /metrics in a thread (~4/s) and checks every scrape; counters
    must never decrease from one scrape to the next."""

    def __init__(self, pod, organizer=True):
        self.pod = pod
        self.headers = dict(ru.AUTH) if organizer else {}
        self.lock = threading.Lock()
        self.fetch_lock = threading.Lock()   # one scrape at a time: compared in the order taken
        self.scrapes = []
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-scraper", daemon=True)

    def scrape(self):
        with self.fetch_lock:
            return self._scrape()

    def _scrape(self):
        r = self.pod.get("/metrics", headers=self.headers)
        h.check(r.status == 200, "GET /metrics -> %d" % r.status)
        ct = r.header("Content-Type") or ""
        h.check(re.fullmatch(r'text/plain;\s*version=0\.0\.4(;\s*charset=utf-8)?', ct, re.I),
                "GET /metrics Content-Type %r, expected text/plain; version=0.0.4" % ct)
        s = Scrape(r.body.decode("utf-8"))
        with self.lock:
            prev = self.scrapes[-1] if self.scrapes else None
            self.scrapes.append(s)
        if prev is not None:
            for key, old in prev.samples.items():
                fam = _family_of(key[0], prev.types)
                if prev.types.get(fam) != "counter" or key not in s.samples:
                    continue
                if s.samples[key] < old:
                    msg = "counter %s%s decreased from %r to %r" % (key[0], dict(key[1]), old, s.samples[key])
                    with self.lock:
                        if msg not in self.errors:
                            self.errors.append(msg)
        return s

    def _run(self):
        while not self._stop.is_set():
            try:
                self.scrape()
            except Exception as e:  # noqa: BLE001 - reported by assert_ok
                with self.lock:
                    self.errors.append("scrape failed: %s" % e)
            self._stop.wait(0.25)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=15)

    def assert_ok(self):
        with self.lock:
            errs = list(self.errors)
            n = len(self.scrapes)
        h.check(not errs, "metrics problems over %d scrapes:\n  - %s" % (n, "\n  - ".join(errs[:15])))
        return n

    def wait(self, pred, timeout, what):
        """Wait for a fresh scrape satisfying pred; return it."""
        def cond():
            self.pod.assert_running()
            self.assert_ok()
            s = self.scrape()
            return s if pred(s) else None
        return h.wait_for(cond, timeout, what, interval=0.2)


def check_families(s, sessions, srt_sessions):
    for fam, typ in ALL_FAMILIES.items():
        h.check(s.types.get(fam) == typ, "family %s has TYPE %r, expected %s" % (fam, s.types.get(fam), typ))
        h.check(s.helps.get(fam), "family %s has no HELP text" % fam)
    for fam in s.types:
        h.check(fam.startswith("podium_"), "family %s without the podium_ prefix" % fam)
        if s.types[fam] == "counter":
            h.check(fam.endswith("_total"), "counter %s does not end in _total" % fam)
    for fam in SESSION_FAMILIES:
        got = sorted(dict(k[1]).get("session") for k in s.family_samples(fam))
        h.check(got == sorted(sessions), "%s has samples for sessions %r, expected %r" % (fam, got, sorted(sessions)))
        for k in s.family_samples(fam):
            h.check(set(dict(k[1])) == {"session"},
                    "%s sample with labels %r, expected only session" % (fam, dict(k[1])))
    for fam in SRT_FAMILIES:
        got = sorted(dict(k[1]).get("session") for k in s.family_samples(fam))
        h.check(got == sorted(srt_sessions), "%s has samples for sessions %r, expected %r (only sessions with a "
                "connected publisher)" % (fam, got, sorted(srt_sessions)))
    for fam in ("podium_publishers", "podium_sessions", "podium_http_segment_bytes_total"):
        got = s.family_samples(fam)
        h.check(list(got) == [(fam, frozenset())], "%s: expected one sample without labels, got %r" % (fam, got))
    statuses = [dict(k[1]).get("status") for k in s.family_samples("podium_http_responses_total")]
    h.check(statuses and all(set(dict(k[1])) == {"status"} for k in s.family_samples("podium_http_responses_total")),
            "podium_http_responses_total samples must carry exactly a status label: %r" % statuses)
    h.check(s.v("podium_sessions") == len(sessions),
            "podium_sessions %r, expected %d" % (s.v("podium_sessions"), len(sessions)))


def status(s, st):
    return s.get("podium_http_responses_total", status=st) or 0.0


def main(t):
    self_test_parser()
    pod = ru.podium(t, SESSIONS, close_after=2)
    sc = Scraper(pod)

    s0 = sc.scrape()
    check_families(s0, [LIVE, IDLE], [])
    h.check(s0.v("podium_publishers") == 0, "podium_publishers %r before publishing" % s0.v("podium_publishers"))
    for sid in (LIVE, IDLE):
        for fam in ("podium_session_live", "podium_session_bytes_in_total", "podium_session_packets_in_total",
                    "podium_session_segments_total", "podium_recording_bytes_total"):
            h.check(s0.v(fam, sid) == 0,
                    "%s{session=%s} = %r before publishing, expected 0" % (fam, sid, s0.v(fam, sid)))
    sc.start()

    pub = pod.publish(LIVE, duration=14)
    sa = sc.wait(lambda s: s.get("podium_publishers") == 1 and s.get("podium_session_segments_total", LIVE) >= 2
                 and (s.get("podium_recording_bytes_total", LIVE) or 0) > 0, 20,
                 "podium_publishers 1, 2 segments and recorded bytes of %s in /metrics" % LIVE)
    check_families(sa, [LIVE, IDLE], [LIVE])
    h.check(sa.v("podium_session_live", LIVE) == 1 and sa.v("podium_session_live", IDLE) == 0,
            "session_live live1=%r idle1=%r while live1 publishes" % (sa.v("podium_session_live", LIVE),
                                                                      sa.v("podium_session_live", IDLE)))
    h.check(sa.v("podium_session_bitrate_bps", LIVE) > 0, "bitrate_bps of %s is %r while publishing"
            % (LIVE, sa.v("podium_session_bitrate_bps", LIVE)))
    rtt = sa.v("podium_srt_rtt_ms", LIVE)
    h.check(0 <= rtt < 1000, "podium_srt_rtt_ms %r on loopback" % rtt)
    rcv = sa.v("podium_srt_rcvbuf_ms", LIVE)
    h.check(0 <= rcv <= 5000, "podium_srt_rcvbuf_ms %r" % rcv)
    for fam in ("podium_srt_packets_lost_total", "podium_srt_packets_retransmitted_total",
                "podium_srt_packets_dropped_total"):
        h.check(sa.v(fam, LIVE) >= 0, "%s = %r" % (fam, sa.v(fam, LIVE)))
    h.check(sa.v("podium_session_bytes_in_total", LIVE) >= sa.v("podium_session_packets_in_total", LIVE) * 188,
            "bytes_in %r < 188 x packets_in %r (SRT messages carry whole TS packets)"
            % (sa.v("podium_session_bytes_in_total", LIVE), sa.v("podium_session_packets_in_total", LIVE)))

    # HTTP responses by status, and segment bytes served
    before = sc.scrape()
    n2, n401, n404, n405, seg_bytes = 0, 0, 0, 0, 0
    r = pod.get("/live/%s/index.m3u8" % LIVE)
    h.check(r.status == 200, "live playlist -> %d" % r.status)
    n2 += 1
    pl = h.Playlist(r.body.decode())
    for sg in pl.segments[-2:]:
        r = pod.get("/live/%s/%s" % (LIVE, sg.uri))
        h.check(r.status == 200, "segment %s -> %d" % (sg.uri, r.status))
        n2 += 1
        seg_bytes += len(r.body)
    for _ in range(3):
        h.check(pod.get("/no/such/path").status == 404, "GET /no/such/path not 404")
        n404 += 1
    for _ in range(2):
        r = pod.request("POST", "/api/v1/sessions/%s/end" % LIVE, data=b"")
        h.check(r.status == 401, "POST .../end without token -> %d" % r.status)
        n401 += 1
    r = pod.request("PUT", "/metrics", data=b"x")
    h.check(r.status == 405, "PUT /metrics -> %d, expected 405" % r.status)
    n405 += 1
    after = sc.scrape()
    for st, n in (("2xx", n2 + 1), ("401", n401), ("404", n404), ("405", n405)):
        d = status(after, st) - status(before, st)
        h.check(d >= n, "podium_http_responses_total{status=\"%s\"} grew by %r, the test made %d such requests"
                % (st, d, n))
    d = after.v("podium_http_segment_bytes_total") - before.v("podium_http_segment_bytes_total")
    h.check(d >= seg_bytes, "podium_http_segment_bytes_total grew by %r, the test downloaded %d segment bytes"
            % (d, seg_bytes))
    # a HEAD sends no body: no segment bytes served (nothing else downloads
    # segments in this test)
    before = sc.scrape()
    for _ in range(2):
        r = pod.request("HEAD", "/live/%s/%s" % (LIVE, pl.segments[-1].uri))
        h.check(r.status == 200 and r.body == b"", "HEAD segment -> %d, %d body bytes"
                % (r.status, len(r.body)))
    after = sc.scrape()
    d = after.v("podium_http_segment_bytes_total") - before.v("podium_http_segment_bytes_total")
    h.check(d == 0, "podium_http_segment_bytes_total grew by %r on two HEAD requests" % d)
    h.check(after.v("podium_session_viewers", LIVE) >= 0, "viewers %r" % after.v("podium_session_viewers", LIVE))

    # counters move while publishing
    seg_a = sa.v("podium_session_segments_total", LIVE)
    sb = sc.wait(lambda s: s.get("podium_session_segments_total", LIVE) >= seg_a + 2
                 and s.get("podium_recording_bytes_total", LIVE) > sa.v("podium_recording_bytes_total", LIVE), 15,
                 "2 more segments and more recorded bytes of %s in /metrics" % LIVE)
    for fam in ("podium_session_bytes_in_total", "podium_session_packets_in_total", "podium_session_segments_total",
                "podium_recording_bytes_total"):
        h.check(sb.v(fam, LIVE) > sa.v(fam, LIVE), "%s{session=%s} did not increase while publishing: %r -> %r"
                % (fam, LIVE, sa.v(fam, LIVE), sb.v(fam, LIVE)))
    h.check(sb.v("podium_publishers") == 1, "podium_publishers %r while publishing" % sb.v("podium_publishers"))
    h.check(status(sb, "2xx") > status(sa, "2xx"),
            "2xx responses did not grow: %r -> %r" % (status(sa, "2xx"), status(sb, "2xx")))
    api = pod.api(LIVE)
    h.check(api["bytes_in"] >= sb.v("podium_session_bytes_in_total", LIVE),
            "API bytes_in %r (fetched after the scrape) < metrics %r"
            % (api["bytes_in"], sb.v("podium_session_bytes_in_total", LIVE)))
    for fam in SESSION_FAMILIES:
        if fam not in ("podium_session_viewers", "podium_session_bitrate_bps"):
            h.check(sb.v(fam, IDLE) == 0,
                    "%s{session=%s} = %r: the idle session's numbers move" % (fam, IDLE, sb.v(fam, IDLE)))
    anon = Scraper(pod, organizer=False).scrape()
    h.check((anon.get("podium_recording_bytes_total", LIVE) or 0) > 0,
            "a scrape without the token has no recording bytes of the live session %s" % LIVE)
    h.check(anon.get("podium_recording_bytes_total", IDLE) is None,
            "a scrape without the token has recording samples of %s, which recorded nothing" % IDLE)

    # the publisher leaves
    pub.wait_ok(25)
    sc_end = sc.wait(lambda s: s.get("podium_publishers") == 0, 10, "podium_publishers 0 after the publisher left")
    check_families(sc_end, [LIVE, IDLE], [])
    h.check(sc_end.v("podium_session_live", LIVE) == 0, "session_live of %s %r after the publisher left"
            % (LIVE, sc_end.v("podium_session_live", LIVE)))
    ru.wait_finalized(pod, LIVE, 10)
    final = sc.scrape()
    api = pod.api(LIVE, organizer=True)
    h.check(final.v("podium_session_segments_total", LIVE) == api["segments"],
            "segments_total %r, API segments %r" % (final.v("podium_session_segments_total", LIVE), api["segments"]))
    h.check(final.v("podium_session_bytes_in_total", LIVE) == api["bytes_in"],
            "bytes_in_total %r, API bytes_in %r" % (final.v("podium_session_bytes_in_total", LIVE), api["bytes_in"]))
    rec = api["recording"]
    on_disk = sum(os.path.getsize(os.path.join(ru.rec_dir(pod, LIVE), n))
                  for n in os.listdir(ru.rec_dir(pod, LIVE)) if re.fullmatch(r'\d+\.ts', n))
    h.check(final.v("podium_recording_bytes_total", LIVE) == rec["bytes"] == on_disk,
            "recording_bytes_total %r, API recording.bytes %r, segment files on disk %d bytes"
            % (final.v("podium_recording_bytes_total", LIVE), rec["bytes"], on_disk))
    h.check(final.v("podium_recording_errors_total", LIVE) == 0 and final.v("podium_recording_gaps_total", LIVE) == 0,
            "recording errors %r gaps %r" % (final.v("podium_recording_errors_total", LIVE),
                                             final.v("podium_recording_gaps_total", LIVE)))
    # over and not published: only the organizer learns the recording exists
    anon = Scraper(pod, organizer=False).scrape()
    shown = sorted("%s{%s}" % (k[0], dict(k[1]).get("session")) for k in anon.samples
                   if k[0].startswith("podium_recording_"))
    h.check(not shown, "a scrape without the token shows the unpublished recording of the ended session: %r"
            % shown)
    h.note("final: %d segments, %d bytes in, %d packets in, %d bytes recorded"
           % (final.v("podium_session_segments_total", LIVE), final.v("podium_session_bytes_in_total", LIVE),
              final.v("podium_session_packets_in_total", LIVE), final.v("podium_recording_bytes_total", LIVE)))

    # organizer ends the session and deletes the recording: counters still never go back
    r = ru.post(pod, LIVE, "end")
    h.check(r.status == 200, "POST .../end on the finalized session -> %d, expected 200 (nothing to end)"
            % r.status)
    r = pod.request("DELETE", "/api/v1/sessions/%s/recording" % LIVE, headers=ru.AUTH)
    h.check(r.status == 202, "DELETE .../recording -> %d: %r" % (r.status, r.body[:200]))
    h.wait_for(lambda: ru.rec_json(pod, LIVE).get("state") == "none", 10, "recording.state none after DELETE")
    sc.stop()
    gone = Scraper(pod).scrape()
    for fam in [f for f, typ in SESSION_FAMILIES.items() if typ == "counter"]:
        h.check(gone.v(fam, LIVE) >= final.v(fam, LIVE),
                "%s{session=\"%s\"} went from %r to %r when the organizer ended the session and deleted its "
                "recording (DELETE /api/v1/sessions/%s/recording): a counter must never decrease while the "
                "process runs (Prometheus reads a drop as a restart)"
                % (fam, LIVE, final.v(fam, LIVE), gone.v(fam, LIVE), LIVE))
    n = sc.assert_ok()
    h.note("%d scrapes, every one valid, no counter went back" % n)


if __name__ == "__main__":
    h.run(main)
