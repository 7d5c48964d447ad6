#!/usr/bin/env python3
"""Organizer session API: create, validate, update, delete, persist.

- POST/PATCH/DELETE /api/v1/sessions[/<id>] without, with a wrong, or with a
  non-Bearer Authorization -> 401 with WWW-Authenticate, and change nothing;
- POST a full session -> 201 with the session JSON (speakers as an array from
  a string or an array, track (null when none), duration_minutes 40/60/160/10 by format, starts as
  given (in UTC when given with an offset) or null, source "api", state "scheduled", live false, access,
  live_url, recording {...}); GET and the list show the same;
- every invalid body -> 400 {"error": "<field> <message>", "field": <field>}
  naming the offending field (missing/invalid id and passphrase, wrong types,
  unknown field, bad format/starts/ingest_window, strict without starts,
  malformed JSON -> "(body)"), and nothing is created; existing id (API or
  config) -> 409; body > 64 KiB -> 413;
- a passphrase with & or + (POST or PATCH) is taken with a "warning" in the
  answer naming the character (no srt:// URL can carry it) and a warn line;
  other answers have no warning;
- PATCH: partial update -> 200 (other fields kept); invalid PATCH -> 400 and
  no change; "id" cannot change; config sessions -> 409 for PATCH and DELETE;
  unknown id -> 404; wrong method -> 405 with Allow, the same as OPTIONS
  answers (also under <id>/end, /recording, /register); unknown action -> 404;
- DELETE -> 204, then GET/PATCH/DELETE -> 404, playlist 404; a session
  deleted while live lets go of its segments in memory at once (counted as
  Podium's segment files: memfds, or unlinked files in data_dir);
- DATA_DIR/sessions.json (0600, no temp files left) mirrors the API sessions;
- an API-created session accepts a publisher with its passphrase (segments
  appear, ffprobe reads them), a wrong passphrase is refused; after a PATCH of
  the passphrase the old one is refused and the new one accepted;
  ingest_window strict with starts far in the future refuses the publisher
  (log: "outside the ingest window"), strict with starts now accepts it;
- after SIGTERM and a restart on the same data_dir every API session is back
  with the same fields (strict ones included), the deleted one stays deleted,
  and the persisted passphrase still admits the publisher;
- no response body of the whole test contains any passphrase."""
import datetime
import json
import os
import re
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

CONF_SID = "keynote"
CONF_PASS = "keynote-conf-pass-4417"
SID = "api-talk"
PASS1 = "api-talk-pass-Zq8xW3"
PASS2 = "api-talk-newpass-Kd29"
FUTURE_SID = "future_talk"
FUTURE_PASS = "future-pass-Hh61pL"
NOW_SID = "now-talk"
NOW_PASS = "now-talk-pass-Ty73Qa"
NOW_PASS2 = "now-talk-again-Mm40Xe"
DEL_SID = "doomed"
DEL_PASS = "doomed-pass-Pw55Rv"
MEM_SID = "short-lived"
MEM_PASS = "short-lived-pass-Jr82Lc"
MINUTES = {"presentation": 40, "panel": 60, "workshop": 160, "lightning": 10}
STATIC_FIELDS = ("id", "title", "speakers", "track", "format", "starts", "duration_minutes",
                 "ingest_window", "source", "access", "live_url")

responses = []                       # (what, Resp) of every HTTP exchange of this test
secrets = {CONF_PASS, PASS1, PASS2, FUTURE_PASS, NOW_PASS, NOW_PASS2, DEL_PASS, MEM_PASS}
problems = []                        # server bugs found where the test can go on (reported at the end)


def soft(cond, msg):
    """A check whose failure does not stop the test: reported (and failed) at the end."""
    if not cond:
        h.note("PROBLEM: " + msg.splitlines()[0])
        problems.append(msg)
    return cond


def call(pod, method, path, body=None, raw=None, auth="admin", headers=None):
    """One HTTP request; the response is kept for the final passphrase scan.
    auth: "admin" (Bearer admin token), None, or a full Authorization value."""
    hdrs = dict(headers or {})
    if auth == "admin":
        hdrs.update(ru.AUTH)
    elif auth is not None:
        hdrs["Authorization"] = auth
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    r = pod.request(method, path, data=data, headers=hdrs)
    responses.append(("%s %s" % (method, path), r))
    return r


def get_session(pod, sid):
    r = call(pod, "GET", "/api/v1/sessions/%s" % sid, auth=None)
    h.check(r.status == 200, "GET /api/v1/sessions/%s -> %d, expected 200: %r" % (sid, r.status, r.body[:200]))
    return r.json()


def expect_status(r, code, what):
    h.check(r.status == code, "%s -> %d, expected %d: %r" % (what, r.status, code, r.body[:300]))
    return r


def expect_404(pod, sid, what):
    r = call(pod, "GET", "/api/v1/sessions/%s" % sid, auth=None)
    h.check(r.status == 404, "%s: GET /api/v1/sessions/%s -> %d, expected 404: %r"
            % (what, sid, r.status, r.body[:200]))


def expect_field_error(r, field, what):
    h.check(r.status == 400, "%s -> %d, expected 400: %r" % (what, r.status, r.body[:300]))
    ct = r.header("Content-Type") or ""
    h.check(ct.startswith("application/json"), "%s: 400 with Content-Type %r, expected application/json" % (what, ct))
    j = r.json()
    h.check(isinstance(j, dict) and j.get("field") == field,
            "%s: 400 body names field %r, expected %r: %r" % (what, j.get("field") if isinstance(j, dict) else None,
                                                             field, j))
    err = j.get("error")
    h.check(isinstance(err, str) and err.startswith(field + " ") and len(err) > len(field) + 1,
            "%s: error %r does not read '<field> <message>' with field %r" % (what, err, field))


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_session_json(j, want, what):
    """want: expected values of some fields. Also checks the shape of the whole object."""
    for k in ("id", "title", "speakers", "track", "format", "starts", "duration_minutes", "ingest_window",
              "source", "state", "live", "publisher", "bitrate_bps", "bytes_in", "segments",
              "media_sequence", "target_duration", "discontinuities", "live_url", "access", "recording"):
        h.check(k in j, "%s: session JSON has no %r: %r" % (what, k, j))
    h.check(isinstance(j["speakers"], list) and all(isinstance(s, str) for s in j["speakers"]),
            "%s: speakers %r is not an array of strings" % (what, j["speakers"]))
    h.check(isinstance(j["recording"], dict), "%s: recording %r is not an object" % (what, j["recording"]))
    h.check(j["duration_minutes"] == MINUTES.get(j["format"]),
            "%s: format %r with duration_minutes %r, expected %r"
            % (what, j["format"], j["duration_minutes"], MINUTES.get(j["format"])))
    h.check(j["live_url"] == "/live/%s/index.m3u8" % j["id"], "%s: live_url %r" % (what, j["live_url"]))
    h.check("passphrase" not in j, "%s: session JSON has a passphrase key: %r" % (what, j))
    for k, v in want.items():
        h.check(j.get(k) == v, "%s: %s = %r, expected %r (JSON %r)" % (what, k, j.get(k), v, j))


def sessions_file(pod):
    return os.path.join(pod.data_dir, "sessions.json")


def read_sessions_file(pod):
    """{id: entry} of DATA_DIR/sessions.json; fails on a wrong mode or bad JSON."""
    path = sessions_file(pod)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    h.check(mode == 0o600, "%s has mode %o, expected 600" % (path, mode))
    with open(path) as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except ValueError as e:
        h.fail("%s is not valid JSON (%s):\n%s" % (path, e, text[:500]))
    arr = doc.get("sessions") if isinstance(doc, dict) else None
    h.check(isinstance(arr, list), "%s has no sessions array: %r" % (path, text[:300]))
    return {e.get("id"): e for e in arr}


def wait_sessions_file(pod, pred, what):
    """Poll sessions.json (written by the writer thread) until pred(entries)."""
    def cond():
        try:
            entries = read_sessions_file(pod)
        except FileNotFoundError:
            return None
        # written atomically: a temporary file may exist while the writer works, not after
        left = [n for n in os.listdir(pod.data_dir) if n.startswith("sessions.json") and n != "sessions.json"]
        return entries if pred(entries) and not left else None
    return h.wait_for(cond, 5, "sessions.json (and no sessions.json.* temporary file next to it): %s" % what)


def wait_playlist(pod, sid, what, min_segments=2, timeout=20):
    def cond():
        pod.assert_running()
        r = call(pod, "GET", "/live/%s/index.m3u8" % sid, auth=None)
        if r.status != 200:
            return None
        pl = h.Playlist(r.body.decode("utf-8", "replace"))
        h.check(not pl.problems, "%s: playlist problems %r" % (what, pl.problems))
        return pl if len(pl.segments) >= min_segments else None
    return h.wait_for(cond, timeout, "%s: live playlist of %s with %d segments" % (what, sid, min_segments))


def probe_last_segment(pod, sid, pl, what):
    s = pl.segments[-1]
    r = call(pod, "GET", "/live/%s/%s" % (sid, s.uri), auth=None)
    expect_status(r, 200, "%s: GET segment %s" % (what, s.uri))
    path = os.path.join(pod.dir, "%s-%s-%d.ts" % (re.sub(r'\W', '_', what), sid, s.seq))
    with open(path, "wb") as f:
        f.write(r.body)
    h.check_segment(path)


def refused(pod, sid, passphrase, what, log_text=None):
    """A publisher with this passphrase is refused: ffmpeg fails, a warn line names the peer."""
    n_warn = len(pod.warn_peer_lines())
    bad = pod.publish(sid, duration=5, passphrase=passphrase)
    rc = bad.wait(15)
    h.check(rc != 0, "%s: ffmpeg exited 0, the connection was accepted (expected refusal)" % what)
    h.wait_for(lambda: len(pod.warn_peer_lines()) > n_warn, 5, "%s: a level=warn line with peer=127.0.0.1" % what)
    if log_text:
        lines = pod.log_lines_matching(lambda f, l: log_text in l and f.get("session") == sid)
        h.check(lines, "%s: no log line with session=%s containing %r; warn lines:\n%s"
                % (what, sid, log_text, "\n".join(pod.warn_peer_lines()[-5:])))
    r = call(pod, "GET", "/api/v1/sessions/%s" % sid, auth=None)
    if r.status == 200:     # (a deleted session answers 404)
        j = r.json()
        h.check(j["live"] is False and j["publisher"] is None,
                "%s: session live=%r publisher=%r after a refused publisher" % (what, j["live"], j["publisher"]))
    h.note("%s: refused (ffmpeg exit %d)" % (what, rc))


def segment_fds(pod):
    """Segments held in memory: each is a memfd or an unlinked file in
    data_dir, which O_TMPFILE names "#inode (deleted)" (relay/segbuf.c)."""
    fd_dir = "/proc/%d/fd" % pod.proc.pid
    unlinked = os.path.realpath(pod.data_dir) + "/#"
    n = 0
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue                 # closed while listing
        n += target.startswith("/memfd:podium-segment") or (
            target.startswith(unlinked) and target.endswith(" (deleted)"))
    return n


def deleted_media_let_go(pod):
    """A session deleted while live lets go of its segments at once; its
    object stays until a restart (threads may still point at it), its media
    does not. Call when no other session is publishing."""
    base = segment_fds(pod)
    expect_status(call(pod, "POST", "/api/v1/sessions", body={"id": MEM_SID, "passphrase": MEM_PASS}),
                  201, "POST %s" % MEM_SID)
    pub = pod.publish(MEM_SID, duration=60, passphrase=MEM_PASS)
    wait_playlist(pod, MEM_SID, "session to delete", min_segments=3)
    held = segment_fds(pod)
    h.check(held >= base + 3, "%d segment files with 3 segments of %s listed, %d before it: "
            "the count does not see its segments" % (held, MEM_SID, base))
    expect_status(call(pod, "DELETE", "/api/v1/sessions/%s" % MEM_SID), 204, "DELETE %s" % MEM_SID)
    pub.wait(10)
    h.wait_for(lambda: segment_fds(pod) <= base, 10,
               "the deleted session's segments let go: %d files before it, %d while it was live"
               % (base, held))
    h.note("deleted live session: segment files %d -> %d -> %d" % (base, held, segment_fds(pod)))


def check_url_passphrases(pod, secrets):
    """A passphrase with & or + is taken, but no speaker can type it into an
    srt:// URL: the answer says so in "warning" (naming the character, not
    the passphrase), and a warn line; other answers have no warning."""
    sid = "url-pass"
    steps = (("POST", "/api/v1/sessions", {"id": sid, "passphrase": "plus+secret-123"}, 201, "+"),
             ("PATCH", "/api/v1/sessions/" + sid, {"passphrase": "amp&secret-123"}, 200, "&"),
             ("PATCH", "/api/v1/sessions/" + sid, {"title": "URL passphrases"}, 200, None),
             ("PATCH", "/api/v1/sessions/" + sid, {"passphrase": "fine_secret-123%"}, 200, None))
    for method, path, body, status, ch in steps:
        if "passphrase" in body:
            secrets.add(body["passphrase"])
        what = "%s %s" % (method, json.dumps(body))
        w = expect_status(call(pod, method, path, body=body), status, what).json().get("warning")
        if ch:
            h.check(w and ("holds '%s'" % ch) in w and "srt:// URL" in w,
                    "%s: warning %r, expected one about the '%s'" % (what, w, ch))
            h.wait_for(lambda: pod.log_lines_matching(lambda f, line: f.get("level") == "warn"
                                                      and f.get("session") == sid
                                                      and ("holds '%s'" % ch) in f.get("msg", "")),
                       5, "%s: a warn line" % what)
        else:
            h.check(w is None, "%s: warning %r, expected none" % (what, w))
    expect_status(call(pod, "DELETE", "/api/v1/sessions/" + sid), 204, "DELETE " + sid)


def main(t):
    pod = ru.podium(t, {CONF_SID: {"title": "Keynote", "passphrase": CONF_PASS}}, close_after=5)
    body = {"id": SID, "title": "API talk", "speakers": "Ada Lovelace, Alan Turing", "track": "Hall B",
            "format": "workshop", "starts": "2026-11-26T18:00:00Z", "passphrase": PASS1,
            "ingest_window": "open"}

    # --- authentication: nothing happens without the organizer token
    for auth, why in ((None, "no Authorization"), ("Bearer wrong-token-0123456789abc", "wrong token"),
                      ("Bearer " + ru.ADMIN_TOKEN + "x", "token with a suffix"),
                      ("Bearer " + ru.ADMIN_TOKEN[:-1], "token prefix"), ("Bearer ", "empty Bearer"),
                      ("Basic " + ru.ADMIN_TOKEN, "Basic scheme"), (ru.ADMIN_TOKEN, "token without scheme")):
        for method, path, b in (("POST", "/api/v1/sessions", body),
                                ("PATCH", "/api/v1/sessions/%s" % CONF_SID, {"title": "hacked"}),
                                ("DELETE", "/api/v1/sessions/%s" % CONF_SID, None)):
            r = call(pod, method, path, body=b, auth=auth)
            what = "%s %s with %s" % (method, path, why)
            expect_status(r, 401, what)
            wa = r.header("WWW-Authenticate") or ""
            h.check(wa.lower().startswith("bearer"), "%s: 401 WWW-Authenticate %r, expected Bearer ..." % (what, wa))
    expect_404(pod, SID, "after unauthenticated POSTs")
    check_session_json(get_session(pod, CONF_SID), {"title": "Keynote", "source": "config"},
                       "config session after unauthenticated PATCH/DELETE")
    h.check(not os.path.exists(sessions_file(pod)), "sessions.json written although nothing was created")

    # --- create
    r = expect_status(call(pod, "POST", "/api/v1/sessions", body=body), 201, "POST a full session")
    h.check((r.header("Content-Type") or "").startswith("application/json"),
            "201 Content-Type %r" % r.header("Content-Type"))
    created = r.json()
    want = {"id": SID, "title": "API talk", "speakers": ["Ada Lovelace", "Alan Turing"], "track": "Hall B",
            "format": "workshop",
            "starts": "2026-11-26T18:00:00Z", "duration_minutes": 160, "ingest_window": "open",
            "source": "api", "state": "scheduled", "live": False, "publisher": None, "access": "open",
            "segments": 0, "bytes_in": 0}
    check_session_json(created, want, "201 body")
    check_session_json(get_session(pod, SID), want, "GET after create")
    lst = call(pod, "GET", "/api/v1/sessions", auth=None).json()
    ids = [s.get("id") for s in lst.get("sessions", [])]
    h.check(sorted(ids) == sorted([CONF_SID, SID]), "session list has %r, expected %r" % (ids, [CONF_SID, SID]))
    entries = wait_sessions_file(pod, lambda e: SID in e, "entry for %s" % SID)
    h.check(CONF_SID not in entries, "sessions.json holds the config session %s: %r" % (CONF_SID, entries))

    # the other formats, speakers as an array, starts null, minimal bodies
    fmt_sids = []
    for i, fmt in enumerate(("presentation", "panel", "lightning")):
        sid = "fmt-%s" % fmt
        b = {"id": sid, "format": fmt, "passphrase": "fmt-pass-%d-abcdef" % i, "speakers": ["Grace Hopper", "Linus"],
             "starts": None}
        secrets.add(b["passphrase"])
        r = expect_status(call(pod, "POST", "/api/v1/sessions", body=b), 201, "POST format %s" % fmt)
        check_session_json(r.json(), {"format": fmt, "duration_minutes": MINUTES[fmt], "starts": None,
                                      "speakers": ["Grace Hopper", "Linus"], "source": "api"},
                           "201 body for format %s" % fmt)
        fmt_sids.append(sid)
    r = expect_status(call(pod, "POST", "/api/v1/sessions", body={"id": DEL_SID, "passphrase": DEL_PASS}), 201,
                      "POST a minimal session {id, passphrase}")
    j = r.json()
    check_session_json(j, {"id": DEL_SID, "starts": None, "ingest_window": "open", "source": "api",
                           "track": None}, "minimal session")
    h.check(isinstance(j["title"], str) and j["title"], "minimal session: title %r, expected a default" % j["title"])

    # limits, inclusive: 40-character id, 10- and 79-character passphrases, 200-character title
    edge_ids = []
    for sid, pw, title in (("E" * 20 + "_-" + "9" * 18, "edge-pass-", "t" * 200),
                           ("edge79", "q" * 79, "Ünïcødé \"quoted\" <b>&amp; talk</b>")):
        secrets.add(pw)
        r = expect_status(call(pod, "POST", "/api/v1/sessions", body={"id": sid, "passphrase": pw, "title": title}),
                          201, "POST id of %d chars, passphrase of %d, title of %d" % (len(sid), len(pw), len(title)))
        check_session_json(r.json(), {"id": sid, "title": title}, "limits %s" % sid)
        check_session_json(get_session(pod, sid), {"id": sid, "title": title}, "GET limits %s" % sid)
        edge_ids.append(sid)

    # --- validation: 400 naming the field, nothing created
    long_id = "x" * 41
    bad_bodies = [
        ({"passphrase": "valid-pass-123"}, "id", "no id"),
        ({"id": "", "passphrase": "valid-pass-123"}, "id", "empty id"),
        ({"id": "bad id", "passphrase": "valid-pass-123"}, "id", "id with a space"),
        ({"id": "bad/id", "passphrase": "valid-pass-123"}, "id", "id with a slash"),
        ({"id": "bad.id", "passphrase": "valid-pass-123"}, "id", "id with a dot"),
        ({"id": long_id, "passphrase": "valid-pass-123"}, "id", "41-character id"),
        ({"id": 42, "passphrase": "valid-pass-123"}, "id", "numeric id"),
        ({"id": "v-nopass"}, "passphrase", "no passphrase"),
        ({"id": "v-short", "passphrase": "123456789"}, "passphrase", "9-character passphrase"),
        ({"id": "v-long", "passphrase": "p" * 80}, "passphrase", "80-character passphrase"),
        ({"id": "v-numpass", "passphrase": 12345678901}, "passphrase", "numeric passphrase"),
        ({"id": "v-nullpass", "passphrase": None}, "passphrase", "null passphrase"),
        ({"id": "v-title", "passphrase": "valid-pass-123", "title": 7}, "title", "numeric title"),
        ({"id": "v-title2", "passphrase": "valid-pass-123", "title": ""}, "title", "empty title"),
        ({"id": "v-title3", "passphrase": "valid-pass-123", "title": "a\nb"}, "title", "title with a newline"),
        ({"id": "v-title4", "passphrase": "valid-pass-123", "title": "t" * 201}, "title", "201-character title"),
        ({"id": "v-trk", "passphrase": "valid-pass-123", "track": "t" * 61}, "track", "61-character track"),
        ({"id": "v-trk2", "passphrase": "valid-pass-123", "track": "a\tb"}, "track", "track with a tab"),
        ({"id": "v-trk3", "passphrase": "valid-pass-123", "track": 2}, "track", "numeric track"),
        ({"id": "v-spk4", "passphrase": "valid-pass-123", "speakers": "s" * 501}, "speakers",
         "501-character speakers"),
        ({"id": "v-spk", "passphrase": "valid-pass-123", "speakers": 3}, "speakers", "numeric speakers"),
        ({"id": "v-spk2", "passphrase": "valid-pass-123", "speakers": ["Ada", 5]}, "speakers",
         "speakers array with a number"),
        ({"id": "v-spk3", "passphrase": "valid-pass-123", "speakers": {"a": "b"}}, "speakers", "speakers object"),
        ({"id": "v-fmt", "passphrase": "valid-pass-123", "format": "keynote"}, "format", "unknown format"),
        ({"id": "v-fmt2", "passphrase": "valid-pass-123", "format": 1}, "format", "numeric format"),
        ({"id": "v-st", "passphrase": "valid-pass-123", "starts": "tomorrow"}, "starts", "starts 'tomorrow'"),
        ({"id": "v-st2", "passphrase": "valid-pass-123", "starts": "2026-02-30T10:00:00Z"}, "starts",
         "starts on Feb 30"),
        ({"id": "v-st3", "passphrase": "valid-pass-123", "starts": 1790000000}, "starts", "numeric starts"),
        ({"id": "v-iw", "passphrase": "valid-pass-123", "ingest_window": "sometimes"}, "ingest_window",
         "unknown ingest_window"),
        ({"id": "v-iw2", "passphrase": "valid-pass-123", "ingest_window": True}, "ingest_window",
         "boolean ingest_window"),
        ({"id": "v-iw3", "passphrase": "valid-pass-123", "ingest_window": "strict"}, "ingest_window",
         "strict without starts"),
        ({"id": "v-unk", "passphrase": "valid-pass-123", "colour": "red"}, "colour", "unknown field"),
        ({"id": "v-unk2", "passphrase": "valid-pass-123", "Title": "case"}, "Title", "field with the wrong case"),
    ]
    for b, field, why in bad_bodies:
        if isinstance(b.get("passphrase"), str):
            secrets.add(b["passphrase"])
        expect_field_error(call(pod, "POST", "/api/v1/sessions", body=b), field, "POST with %s" % why)
        if isinstance(b.get("id"), str) and re.fullmatch(r'[A-Za-z0-9_-]{1,40}', b["id"]):
            expect_404(pod, b["id"], "after the rejected POST with %s" % why)
    for raw, why in ((b"{not json", "malformed JSON"), (b"", "empty body"), (b"[1, 2]", "a JSON array"),
                     (b'"text"', "a JSON string"), (b'{"id": "v-trunc", "passphrase": "valid-pass-123"',
                                                    "truncated JSON"),
                     (b'\xff\xfe{}', "invalid UTF-8")):
        expect_field_error(call(pod, "POST", "/api/v1/sessions", raw=raw), "(body)", "POST with %s" % why)
    r = call(pod, "POST", "/api/v1/sessions", raw=b'{"id": "v-dup", "id": "v-dup2", "passphrase": "valid-pass-123"}')
    expect_status(r, 400, "POST with a duplicate key")
    expect_404(pod, "v-dup", "after the POST with a duplicate key")
    # too large: > 64 KiB
    big = {"id": "v-big", "passphrase": "valid-pass-123", "title": "x" * (70 * 1024)}
    expect_status(call(pod, "POST", "/api/v1/sessions", body=big), 413, "POST with a 70 KiB body")
    expect_404(pod, "v-big", "after the 413")
    # 409: existing ids
    r = expect_status(call(pod, "POST", "/api/v1/sessions", body=dict(body, passphrase="other-pass-12345")), 409,
                      "POST an existing API id")
    secrets.add("other-pass-12345")
    expect_status(call(pod, "POST", "/api/v1/sessions", body={"id": CONF_SID, "passphrase": "other-pass-12345"}),
                  409, "POST the id of a config session")
    check_session_json(get_session(pod, SID), want, "after the 409")
    check_session_json(get_session(pod, CONF_SID), {"title": "Keynote", "source": "config"}, "config session after 409")

    # --- PATCH
    r = expect_status(call(pod, "PATCH", "/api/v1/sessions/%s" % SID, body={"title": "API talk (updated)"}), 200,
                      "PATCH title")
    want["title"] = "API talk (updated)"
    check_session_json(r.json(), want, "PATCH title response")
    r = expect_status(call(pod, "PATCH", "/api/v1/sessions/%s" % SID,
                           body={"speakers": ["Barbara Liskov"], "format": "panel"}), 200, "PATCH speakers+format")
    want.update(speakers=["Barbara Liskov"], format="panel", duration_minutes=60)
    check_session_json(r.json(), want, "PATCH speakers+format response")
    # moved to another track, then out of any, then back (kept over the restart)
    for track, got in (("Room 2 \u00e9t\u00e9", "Room 2 \u00e9t\u00e9"), (None, None), ("", None), ("Room 2", "Room 2")):
        r = expect_status(call(pod, "PATCH", "/api/v1/sessions/%s" % SID, body={"track": track}), 200,
                          "PATCH track %r" % track)
        want["track"] = got
        check_session_json(r.json(), want, "PATCH track %r response" % track)
    # a local time with its offset is the same instant, given back in UTC
    r = expect_status(call(pod, "PATCH", "/api/v1/sessions/%s" % SID, body={"starts": "2026-11-26T19:30:00+01:30"}),
                      200, "PATCH starts with an offset")
    check_session_json(r.json(), want, "PATCH starts +01:30 (18:00Z) response")
    r = expect_status(call(pod, "PATCH", "/api/v1/sessions/%s" % SID, body={}), 200, "PATCH {}")
    check_url_passphrases(pod, secrets)
    check_session_json(r.json(), want, "PATCH {} response")
    r = expect_status(call(pod, "PATCH", "/api/v1/sessions/%s" % SID, body={"id": SID}), 200, "PATCH with the same id")
    check_session_json(r.json(), want, "PATCH same id response")
    for b, field, why in (({"id": "renamed"}, "id", "another id"), ({"title": 5}, "title", "numeric title"),
                          ({"format": "talk"}, "format", "unknown format"),
                          ({"passphrase": "short"}, "passphrase", "short passphrase"),
                          ({"starts": "2026-13-01T00:00:00Z"}, "starts", "month 13"),
                          ({"bogus": 1}, "bogus", "unknown field"),
                          ({"title": "ok title", "format": "nope"}, "format", "a valid and an invalid field")):
        expect_field_error(call(pod, "PATCH", "/api/v1/sessions/%s" % SID, body=b), field, "PATCH with %s" % why)
        check_session_json(get_session(pod, SID), want, "after the rejected PATCH with %s" % why)
    expect_404(pod, "renamed", "after PATCH id")
    expect_field_error(call(pod, "PATCH", "/api/v1/sessions/%s" % SID, raw=b"{oops"), "(body)",
                       "PATCH with malformed JSON")
    r = call(pod, "PATCH", "/api/v1/sessions/%s" % SID, body={"ingest_window": "strict", "starts": None})
    h.check(r.status == 400 and r.json().get("field") in ("ingest_window", "starts"),
            "PATCH strict with starts null -> %d %r, expected 400 naming ingest_window" % (r.status, r.body[:200]))
    expect_status(call(pod, "PATCH", "/api/v1/sessions/%s" % SID, body={"title": "y" * (70 * 1024)}), 413,
                  "PATCH with a 70 KiB body")
    check_session_json(get_session(pod, SID), want, "after the rejected PATCHes")
    expect_status(call(pod, "PATCH", "/api/v1/sessions/nosuch", body={"title": "x"}), 404, "PATCH an unknown id")
    expect_status(call(pod, "DELETE", "/api/v1/sessions/nosuch"), 404, "DELETE an unknown id")
    expect_status(call(pod, "PATCH", "/api/v1/sessions/bad%20id", body={"title": "x"}), 404, "PATCH an invalid id")
    r = expect_status(call(pod, "PATCH", "/api/v1/sessions/%s" % CONF_SID, body={"title": "x"}), 409,
                      "PATCH a config session")
    err = r.json().get("error", "")
    h.check("config file" in err and "SIGHUP" in err, "PATCH of a config session: 409 says %r, expected it "
            "to name the config file and the reload (SIGHUP)" % err)
    expect_status(call(pod, "DELETE", "/api/v1/sessions/%s" % CONF_SID), 409, "DELETE a config session")
    check_session_json(get_session(pod, CONF_SID), {"title": "Keynote", "source": "config"},
                       "config session after 409s")

    # --- wrong methods; Allow (405 and OPTIONS) is each resource's own
    item, action = "/api/v1/sessions/%s" % SID, "/api/v1/sessions/%s/" % SID
    for method, path, must in (("PUT", item, ("PATCH", "DELETE")),
                               ("POST", item, ("PATCH", "DELETE")),
                               ("PUT", "/api/v1/sessions", ("POST",)),
                               ("DELETE", "/api/v1/sessions", ("POST",)),
                               ("PATCH", "/api/v1/sessions", ("POST",)),
                               ("GET", action + "recording", ("DELETE",)),
                               ("POST", action + "recording", ("DELETE",)),
                               ("GET", action + "end", ("POST",)),
                               ("DELETE", action + "publish", ("POST",)),
                               ("GET", "/api/v1/register", ("POST",))):
        body = {"title": "x"} if method in ("PUT", "POST", "PATCH") else None
        r = expect_status(call(pod, method, path, body=body), 405, "%s %s" % (method, path))
        allow = [m.strip() for m in (r.header("Allow") or "").split(",")]
        h.check(all(m in allow for m in must) and method not in allow,
                "%s %s: 405 Allow %r, expected to list %r and not %s" % (method, path, r.header("Allow"), must, method))
        o = expect_status(call(pod, "OPTIONS", path), 204, "OPTIONS %s" % path)
        h.check(o.header("Allow") == r.header("Allow"),
                "OPTIONS %s: Allow %r, but its 405 says %r" % (path, o.header("Allow"), r.header("Allow")))
    for method in ("GET", "POST", "OPTIONS"):
        expect_status(call(pod, method, action + "bogus", body={} if method == "POST" else None), 404,
                      "%s of an unknown action" % method)
    check_session_json(get_session(pod, SID), want, "after the 405s")

    # --- DELETE
    wait_sessions_file(pod, lambda e: DEL_SID in e, "entry for %s" % DEL_SID)
    r = expect_status(call(pod, "DELETE", "/api/v1/sessions/%s" % DEL_SID), 204, "DELETE %s" % DEL_SID)
    h.check(not r.body, "204 with a body: %r" % r.body[:100])
    expect_404(pod, DEL_SID, "after DELETE")
    expect_status(call(pod, "DELETE", "/api/v1/sessions/%s" % DEL_SID), 404, "second DELETE")
    expect_status(call(pod, "PATCH", "/api/v1/sessions/%s" % DEL_SID, body={"title": "x"}), 404, "PATCH after DELETE")
    expect_status(call(pod, "GET", "/live/%s/index.m3u8" % DEL_SID, auth=None), 404, "playlist after DELETE")
    ids = [s.get("id") for s in call(pod, "GET", "/api/v1/sessions", auth=None).json().get("sessions", [])]
    h.check(DEL_SID not in ids, "deleted session still listed: %r" % ids)
    refused(pod, DEL_SID, DEL_PASS, "publisher to the deleted session")

    # --- strict ingest windows
    now = int(time.time())
    r = expect_status(call(pod, "POST", "/api/v1/sessions",
                           body={"id": FUTURE_SID, "passphrase": FUTURE_PASS, "ingest_window": "strict",
                                 "starts": "2030-01-01T10:00:00Z", "format": "lightning"}), 201, "POST strict future")
    check_session_json(r.json(), {"ingest_window": "strict", "starts": "2030-01-01T10:00:00Z"}, "strict future")
    r = expect_status(call(pod, "POST", "/api/v1/sessions",
                           body={"id": NOW_SID, "passphrase": NOW_PASS, "ingest_window": "strict",
                                 "starts": iso(now)}), 201, "POST strict now")
    check_session_json(r.json(), {"ingest_window": "strict", "starts": iso(now)}, "strict now")

    entries = wait_sessions_file(pod, lambda e: DEL_SID not in e and FUTURE_SID in e and NOW_SID in e
                                 and e.get(SID, {}).get("title") == want["title"],
                                 "deleted entry gone, strict entries present, patched title")
    want_ids = {SID, FUTURE_SID, NOW_SID} | set(fmt_sids) | set(edge_ids)
    h.check(set(entries) == want_ids, "sessions.json lists %r, expected %r" % (sorted(entries), sorted(want_ids)))

    # --- publishing to API sessions
    pub = pod.publish(SID, duration=6, passphrase=PASS1)
    pub_now = pod.publish(NOW_SID, duration=60, passphrase=NOW_PASS)
    pl = wait_playlist(pod, SID, "API session")
    probe_last_segment(pod, SID, pl, "API session")
    pl_now = wait_playlist(pod, NOW_SID, "strict session starting now")
    probe_last_segment(pod, NOW_SID, pl_now, "strict now")
    r = expect_status(call(pod, "GET", "/api/v1/sessions/%s" % SID, auth=None), 200, "GET the live session")
    j = r.json()
    h.check(j["live"] is True and j["state"] == "live" and isinstance(j["publisher"], dict),
            "API session while publishing: live=%r state=%r publisher=%r" % (j["live"], j["state"], j["publisher"]))
    # SRT figures are measurements: printed as 0.058, not as the binary
    # double's 0.058000000000000003
    body = r.body.decode()
    long_reals = re.findall(r"-?\d+\.\d*[1-9]\d*(?:e-?\d+)?", body)
    long_reals = [x for x in long_reals if len(x.lstrip("-").replace(".", "").lstrip("0").split("e")[0]) > 10]
    h.check(not long_reals and '"rtt_ms":' in body,
            "live session JSON has rtt_ms and no real with more than 10 significant digits: %r" % long_reals)

    # DELETE a live session: its publisher is disconnected and its media is gone
    expect_status(call(pod, "DELETE", "/api/v1/sessions/%s" % NOW_SID), 204, "DELETE the live session %s" % NOW_SID)
    rc = pub_now.wait(10)
    h.note("publisher of the deleted live session exited with %d" % rc)
    expect_404(pod, NOW_SID, "after deleting the live session")
    expect_status(call(pod, "GET", "/live/%s/index.m3u8" % NOW_SID, auth=None), 404,
                  "live playlist of the deleted session")
    expect_status(call(pod, "GET", "/live/%s/%s" % (NOW_SID, pl_now.segments[-1].uri), auth=None), 404,
                  "live segment of the deleted session")
    refused(pod, NOW_SID, NOW_PASS, "publisher to the session deleted while live")
    # the id can be used again: a new, empty session, nothing of the deleted one shows through
    r = expect_status(call(pod, "POST", "/api/v1/sessions", body={"id": NOW_SID, "passphrase": NOW_PASS2,
                                                                  "title": "Now, again"}), 201,
                      "POST the id of the deleted session again")
    j = r.json()
    check_session_json(j, {"id": NOW_SID, "title": "Now, again", "ingest_window": "open", "starts": None},
                       "re-created session")
    stale = {k: j.get(k) for k in ("state", "live", "segments", "bytes_in", "bitrate_bps", "publishers_total")}
    stale["recording.state"] = j["recording"].get("state")
    soft(stale == {"state": "scheduled", "live": False, "segments": 0, "bytes_in": 0, "bitrate_bps": 0,
                   "publishers_total": 0, "recording.state": "none"},
         "re-created session %s (POST after DELETE) carries the deleted session's state: %r, expected "
         "state scheduled, 0 segments/bytes, recording none" % (NOW_SID, stale))
    r = call(pod, "GET", "/live/%s/index.m3u8" % NOW_SID, auth=None)
    soft(r.status == 404, "re-created session %s: live playlist -> %d, expected 404 (the deleted session's "
         "segments are served under the new session):\n%s"
         % (NOW_SID, r.status, r.body[:300].decode("utf-8", "replace")))
    r = call(pod, "GET", "/vod/%s/index.m3u8" % NOW_SID, auth="admin")
    soft(r.status == 404, "re-created session %s: recording playlist (organizer) -> %d, expected 404 "
         "(the deleted session's recording shows through)" % (NOW_SID, r.status))
    expect_status(call(pod, "DELETE", "/api/v1/sessions/%s" % NOW_SID), 204, "DELETE the re-created session")

    refused(pod, FUTURE_SID, FUTURE_PASS, "strict session starting 2030", log_text="outside the ingest window")
    refused(pod, fmt_sids[1], "wrong-pass-for-fmt-panel", "wrong passphrase for an API session")
    secrets.add("wrong-pass-for-fmt-panel")
    pub.wait_ok(20)
    h.wait_for(lambda: get_session(pod, SID)["publisher"] is None, 10, "publisher of %s gone" % SID)
    deleted_media_let_go(pod)

    # PATCH the passphrase: the old one is refused, the new one admitted (after the restart)
    expect_status(call(pod, "PATCH", "/api/v1/sessions/%s" % SID, body={"passphrase": PASS2}), 200,
                  "PATCH passphrase")
    refused(pod, SID, PASS1, "old passphrase after PATCH")
    segs_before = get_session(pod, SID)["segments"]

    # --- restart: everything from the API comes back, the deleted sessions do not
    before = {sid: get_session(pod, sid) for sid in [CONF_SID, SID, FUTURE_SID] + fmt_sids + edge_ids}
    entries = wait_sessions_file(pod, lambda e: NOW_SID not in e and e.get(SID, {}).get("passphrase") == PASS2,
                                 "deleted %s gone, patched passphrase of %s" % (NOW_SID, SID))
    file_before = json.dumps(entries, sort_keys=True)
    pod.stop()
    h.check(json.dumps(read_sessions_file(pod), sort_keys=True) == file_before,
            "sessions.json changed during the shutdown")
    # an entry someone edited in by hand, with a key that would forge a log
    # line if printed raw: skipped, with one error line that stays one line
    path = os.path.join(pod.data_dir, "sessions.json")
    with open(path) as f:
        doc = json.load(f)
    doc["sessions"].append({"id": "hand-edited", "passphrase": "hand-edited-pass-1",
                            'x" \nts=2026-01-01T00:00:00Z level=error msg="forged': 1})
    with open(path, "w") as f:
        json.dump(doc, f)
    ru.restart(pod)
    skipped = pod.log_lines_matching(lambda f, l: f.get("msg") == "sessions.json: entry skipped")
    h.check(len(skipped) == 1 and h.parse_logfmt(skipped[0]).get("session") == "hand-edited"
            and h.parse_logfmt(skipped[0]).get("why") == "unknown field",
            "one 'entry skipped' line for the hand-edited entry (why=unknown field), got %r" % skipped)
    h.check(not pod.log_lines_matching(lambda f, l: "forged" in f.get("msg", "")),
            "the hand-edited key forged a log line")
    lost = []
    for sid, old in before.items():
        r = call(pod, "GET", "/api/v1/sessions/%s" % sid, auth=None)
        if r.status != 200:
            lost.append(sid)
            lines = pod.log_lines_matching(lambda f, l, sid=sid: f.get("session") == sid)
            soft(False, "after the restart GET /api/v1/sessions/%s -> %d, expected 200: session %s (%s) was lost; "
                 "podium log:\n%s" % (sid, r.status, sid, json.dumps({k: old.get(k) for k in STATIC_FIELDS}),
                                      "\n".join(lines[:3])))
            continue
        new = r.json()
        for k in STATIC_FIELDS:
            h.check(new.get(k) == old.get(k),
                    "after the restart %s.%s = %r, before %r" % (sid, k, new.get(k), old.get(k)))
    expect_404(pod, DEL_SID, "deleted session after the restart")
    expect_404(pod, NOW_SID, "session deleted while live, after the restart")
    ids = [s.get("id") for s in call(pod, "GET", "/api/v1/sessions", auth=None).json().get("sessions", [])]
    h.check(sorted(ids) == sorted(set(before) - set(lost)),
            "after the restart the list has %r, expected %r" % (sorted(ids), sorted(set(before) - set(lost))))
    ready = pod.log_lines_matching(lambda f, l: f.get("msg") == "ready")
    h.check(len(ready) == 1 and h.parse_logfmt(ready[0]).get("sessions") == str(len(ids)),
            "after the restart the ready line should count the %d sessions (config and API): %r"
            % (len(ids), ready))
    expect_status(call(pod, "PATCH", "/api/v1/sessions/%s" % CONF_SID, body={"title": "x"}), 409,
                  "PATCH a config session after the restart")
    expect_status(call(pod, "DELETE", "/api/v1/sessions/%s" % fmt_sids[0]), 204, "DELETE after the restart")
    entries = wait_sessions_file(pod, lambda e: fmt_sids[0] not in e and SID in e,
                                 "%s removed after the restart" % fmt_sids[0])
    for sid in lost:
        soft(sid in entries, "the session %s lost at the restart is now also gone from sessions.json "
             "(rewritten by the next API change): lost for good" % sid)
    if FUTURE_SID not in lost:
        refused(pod, FUTURE_SID, FUTURE_PASS, "strict 2030 session after the restart",
                log_text="outside the ingest window")

    # the persisted (patched) passphrase still admits the speaker
    pub2 = pod.publish(SID, duration=30, passphrase=PASS2)
    h.wait_for(lambda: get_session(pod, SID)["live"] and get_session(pod, SID)["segments"] > segs_before, 20,
               "new segments of %s published with the patched passphrase after the restart" % SID)
    pl = wait_playlist(pod, SID, "API session after the restart")
    probe_last_segment(pod, SID, pl, "after restart")
    pub2.kill()

    # --- no response ever carried a passphrase
    leaks = []
    for what, r in responses:
        text = (r.body or b"").decode("utf-8", "replace")
        hdrs = str(r.headers) if r.headers is not None else ""
        for s in secrets:
            if s in text or s in hdrs:
                leaks.append("%s -> %d contains %r: %r" % (what, r.status, s, text[:200]))
    h.check(not leaks, "passphrases in responses:\n  - %s" % "\n  - ".join(leaks[:10]))
    h.note("%d responses checked: no passphrase in any" % len(responses))
    logs = [pod.log_path] + list(getattr(pod, "old_logs", []))
    for path in logs:
        with open(path, errors="replace") as f:
            text = f.read()
        found = sorted(s for s in secrets if s in text)
        h.check(not found, "podium log %s contains passphrases %r" % (path, found))

    h.check(not problems, "%d server problem(s):\n  - %s" % (len(problems), "\n  - ".join(problems)))


if __name__ == "__main__":
    h.run(main)
