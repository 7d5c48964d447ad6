#!/usr/bin/env python3
"""Attendee registration and tokens (access = registered).

- POST /api/v1/register {"name", "email"} -> 201 {"token", "expires"}; the
  token reads "<reg>.<expiry>.<mac>" (16 hex, Unix seconds, 64 lowercase hex)
  with mac = HMAC-SHA256("<reg>.<expiry>") keyed with DATA_DIR/secret (32
  bytes, 0600), expiry in the future and equal to "expires"; two
  registrations get different ids;
- bad name / email / body -> 400 naming the field ("(body)" for malformed
  JSON), body > 64 KiB -> 413, wrong method -> 405; with access = open the
  endpoint is 404;
- DATA_DIR/registrations.jsonl (0600) gets one JSON line per successful
  registration (id, name, email, expires) and none for rejected ones;
- GET /api/v1/registrations (admin token only: 401 for an attendee's)
  lists them (count, different e-mail addresses case aside), and as CSV
  with ?format=csv: quotes doubled, a name that a spreadsheet would run as a
  formula made text; a torn last line is skipped, counted and logged;
  DELETE /api/v1/registrations (admin only) empties the list (202 with how
  many) and logs it, the tokens issued keep working, the next registration
  starts the new list;
- live playlist, live segments, recording playlist and recording segments:
  no token -> 401 (WWW-Authenticate), forged mac / re-dated expiry (also an
  expired token pushed into the future) / garbage / another server's
  secret -> 403, correctly signed but expired -> 403; a valid token via
  ?token= or Authorization: Bearer -> 200, and a self-minted token with the
  secret too; the admin token passes;
- a playlist fetched with ?token= lists every URI with ?token=<token>
  appended (and those URIs work); with the admin token URIs are plain;
- ffprobe on the tokenized live playlist URL reads h264 + aac; without the
  token it fails."""
import csv
import hashlib
import hmac
import io
import json
import os
import re
import stat
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "talk"
PASS = "talk-passphrase-8812"
TOKEN_RE = re.compile(r'^([0-9a-f]{16})\.(\d+)\.([0-9a-f]{64})$')


def registered_podium(t, sessions, access="registered", close_after=30):
    pod = ru.podium(t, sessions, close_after=close_after, start=False)
    with open(pod.conf_path) as f:
        text = f.read()
    text = text.replace("[server]\n", "[server]\naccess = %s\n" % access, 1)
    with open(pod.conf_path, "w") as f:
        f.write(text)
    return ru.start_pod(pod)


def mint(secret, reg, expiry):
    msg = "%s.%d" % (reg, expiry)
    return msg + "." + hmac.new(secret, msg.encode(), hashlib.sha256).hexdigest()


def flip(c):
    return "0" if c != "0" else "1"


def register(pod, body=None, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    return pod.request("POST", "/api/v1/register", data=data, headers={"Content-Type": "application/json"})


def expect_field_error(r, field, what):
    h.check(r.status == 400, "%s -> %d, expected 400: %r" % (what, r.status, r.body[:300]))
    j = r.json()
    h.check(isinstance(j, dict) and j.get("field") == field and str(j.get("error", "")).startswith(field + " "),
            "%s: 400 body %r, expected field %r and an error starting with it" % (what, j, field))


def get(pod, path, token=None, bearer=None):
    """GET path (query kept) with ?token= (urlencoded, appended) and/or a Bearer header."""
    if token is not None:
        path += ("&" if "?" in path else "?") + "token=" + urllib.parse.quote(token, safe="")
    headers = {"Authorization": "Bearer " + bearer} if bearer is not None else {}
    return pod.get(path, headers=headers)


def check_access(pod, path, good, bad, what):
    """Attendee access rules on one URL; returns the body served with the valid token."""
    r = get(pod, path)
    h.check(r.status == 401, "%s without a token -> %d, expected 401: %r" % (what, r.status, r.body[:200]))
    wa = r.header("WWW-Authenticate") or ""
    h.check(wa.lower().startswith("bearer"), "%s: 401 without WWW-Authenticate: Bearer (got %r)" % (what, wa))
    r = get(pod, path, token="")
    h.check(r.status == 401, "%s with an empty ?token= -> %d, expected 401" % (what, r.status))
    for name, tok in bad:
        r = get(pod, path, token=tok)
        h.check(r.status == 403, "%s with %s token (?token=) -> %d, expected 403: %r"
                % (what, name, r.status, r.body[:200]))
        r = get(pod, path, bearer=tok)
        h.check(r.status == 403, "%s with %s token (Bearer) -> %d, expected 403" % (what, name, r.status))
    bodies = {}
    for name, kw in good:
        r = get(pod, path, **kw)
        h.check(r.status == 200, "%s with %s -> %d, expected 200: %r" % (what, name, r.status, r.body[:200]))
        bodies[name] = r
    return bodies


def tokenized_uris(text, token, what):
    uris = [l.strip() for l in text.splitlines() if l.strip() and not l.startswith("#")]
    h.check(uris, "%s lists no URI:\n%s" % (what, text))
    bad = [u for u in uris if not u.endswith("?token=" + token) or u.count("?") != 1]
    h.check(not bad, "%s: URIs without ?token=<token> appended: %r\n%s" % (what, bad[:3], text))
    return uris


def main(t):
    pod = registered_podium(t, {SID: {"title": "Talk", "passphrase": PASS}})
    open_pod = registered_podium(t, {"other": {"title": "Other", "passphrase": "other-passphrase-1"}},
                                 access="open")
    secret_path = os.path.join(pod.data_dir, "secret")
    h.check(os.path.isfile(secret_path), "%s does not exist" % secret_path)
    mode = stat.S_IMODE(os.stat(secret_path).st_mode)
    h.check(mode == 0o600, "%s has mode %o, expected 600" % (secret_path, mode))
    with open(secret_path, "rb") as f:
        secret = f.read()
    h.check(len(secret) == 32, "%s holds %d bytes, expected 32" % (secret_path, len(secret)))
    with open(os.path.join(open_pod.data_dir, "secret"), "rb") as f:
        other_secret = f.read()
    h.check(other_secret != secret, "two podiums with different data dirs share a token secret")

    # media refuse anonymous attendees even before anything is published
    r = pod.get("/live/%s/index.m3u8" % SID)
    h.check(r.status == 401, "live playlist before publishing, no token -> %d, expected 401" % r.status)
    pub = pod.publish(SID, duration=60)

    # --- registration
    r = register(open_pod, {"name": "Ann", "email": "ann@example.org"})
    h.check(r.status == 404, "POST /api/v1/register with access = open -> %d, expected 404" % r.status)
    h.check(not os.path.exists(os.path.join(open_pod.data_dir, "registrations.jsonl")),
            "access = open: registrations.jsonl written")
    people = [("Ann Attendee", "ann@example.org"), ("Bob Ünïcødé \"B\"", "bob.b+podium@sub.example.co")]
    tokens = []
    for name, email in people:
        t0 = int(time.time())
        r = register(pod, {"name": name, "email": email})
        h.check(r.status == 201, "register %r -> %d, expected 201: %r" % (name, r.status, r.body[:300]))
        j = r.json()
        tok = j.get("token")
        m = TOKEN_RE.match(tok or "")
        h.check(m, "token %r does not read <16 hex>.<unix seconds>.<64 lowercase hex>" % tok)
        reg, expiry, mac = m.group(1), int(m.group(2)), m.group(3)
        h.check(mint(secret, reg, expiry) == tok,
                "token %r: mac is not HMAC-SHA256('<reg>.<expiry>') keyed with DATA_DIR/secret "
                "(expected %s)" % (tok, mint(secret, reg, expiry).rsplit(".", 1)[1]))
        h.check(expiry > t0 + 60, "token expiry %d is not in the future (now %d)" % (expiry, t0))
        exp_txt = j.get("expires")
        h.check(isinstance(exp_txt, str) and int(h.parse_pdt(exp_txt).timestamp()) == expiry,
                "expires %r does not match the token's expiry %d" % (exp_txt, expiry))
        tokens.append((tok, reg, expiry, name, email))
        h.note("registered %r: expires %s (in %.1f h)" % (name, exp_txt, (expiry - t0) / 3600.0))
    h.check(tokens[0][1] != tokens[1][1], "two registrations got the same id %s" % tokens[0][1])
    token, reg, expiry = tokens[0][:3]

    bad_regs = [
        ({}, "name", "empty object"),
        ({"email": "ann@example.org"}, "name", "no name"),
        ({"name": "", "email": "ann@example.org"}, "name", "empty name"),
        ({"name": 5, "email": "ann@example.org"}, "name", "numeric name"),
        ({"name": None, "email": "ann@example.org"}, "name", "null name"),
        ({"name": "n" * 201, "email": "ann@example.org"}, "name", "201-character name"),
        ({"name": "Ann"}, "email", "no email"),
        ({"name": "Ann", "email": ""}, "email", "empty email"),
        ({"name": "Ann", "email": "nope"}, "email", "email without @"),
        ({"name": "Ann", "email": "@example.org"}, "email", "email without local part"),
        ({"name": "Ann", "email": "ann@localhost"}, "email", "email without a dot in the domain"),
        ({"name": "Ann", "email": "ann smith@example.org"}, "email", "email with a space"),
        ({"name": "Ann", "email": "<ann@example.org>"}, "email", "email with <>"),
        ({"name": "Ann", "email": 7}, "email", "numeric email"),
        ({"name": "Ann", "email": "a" * 250 + "@b.cd"}, "email", "255-character email"),
    ]
    for body, field, why in bad_regs:
        expect_field_error(register(pod, body), field, "register with %s" % why)
    for raw, why in ((b"{nope", "malformed JSON"), (b"", "empty body"), (b"[]", "an array"),
                     (b'"ann@example.org"', "a string")):
        expect_field_error(register(pod, raw=raw), "(body)", "register with %s" % why)
    r = register(pod, {"name": "x" * (70 * 1024), "email": "ann@example.org"})
    h.check(r.status == 413, "register with a 70 KiB body -> %d, expected 413" % r.status)
    for method in ("PUT", "DELETE", "PATCH"):
        r = pod.request(method, "/api/v1/register", data=b"{}", headers={"Content-Type": "application/json"})
        h.check(r.status == 405 and "POST" in (r.header("Allow") or ""),
                "%s /api/v1/register -> %d Allow %r, expected 405 listing POST" % (method, r.status, r.header("Allow")))

    # registrations.jsonl: one line per successful registration, private
    reg_path = os.path.join(pod.data_dir, "registrations.jsonl")

    def lines():
        try:
            with open(reg_path) as f:
                txt = f.read()
        except FileNotFoundError:
            return None
        return txt if txt.count("\n") >= len(tokens) and txt.endswith("\n") else None
    txt = h.wait_for(lines, 5, "%d lines in %s" % (len(tokens), reg_path))
    mode = stat.S_IMODE(os.stat(reg_path).st_mode)
    h.check(mode == 0o600, "%s has mode %o, expected 600" % (reg_path, mode))
    recs = []
    for l in txt.splitlines():
        try:
            recs.append(json.loads(l))
        except ValueError:
            h.fail("%s: line is not JSON: %r" % (reg_path, l[:200]))
    h.check(len(recs) == len(tokens), "%s has %d lines, expected %d (rejected registrations must not be written):\n%s"
            % (reg_path, len(recs), len(tokens), txt[:1000]))
    for rec, (tok, rg, ex, name, email) in zip(recs, tokens):
        h.check(rec.get("id") == rg and rec.get("name") == name and rec.get("email") == email
                and rec.get("expires") == ex,
                "%s line %r, expected id %s name %r email %r expires %d" % (reg_path, rec, rg, name, email, ex))

    # --- the tokens attendees could try
    now = int(time.time())
    expired = mint(secret, reg, now - 60)
    bad = [("a forged (one mac character changed)", token[:-1] + flip(token[-1])),
           ("a forged (first mac character changed)",
            token[:token.rindex(".") + 1] + flip(token[token.rindex(".") + 1]) + token[token.rindex(".") + 2:]),
           ("a re-dated (expiry changed, not re-signed)", "%s.%d.%s" % (reg, expiry + 86400, token.rsplit(".", 1)[1])),
           ("an expired one pushed into the future", "%s.%d.%s" % (reg, now + 3600, expired.rsplit(".", 1)[1])),
           ("a correctly signed but expired", expired),
           ("a correctly signed but 1 s expired", mint(secret, reg, now - 1)),
           ("another server's", mint(other_secret, reg, expiry)),
           ("a truncated", token[:-2]),
           ("a garbage", "not-a-token"),
           ("the mac alone", token.rsplit(".", 1)[1]),
           ("an extended (extra field)", token + ".00"),
           ("a reg-swapped", "%s.%d.%s" % (tokens[1][1], expiry, token.rsplit(".", 1)[1]))]
    minted = mint(secret, "0123456789abcdef", now + 3600)
    good = [("?token=<registered token>", {"token": token}), ("Bearer <registered token>", {"bearer": token}),
            ("?token=<second attendee's token>", {"token": tokens[1][0]}),
            ("?token=<token minted with DATA_DIR/secret>", {"token": minted}),
            ("the admin token", {"bearer": ru.ADMIN_TOKEN})]

    # --- live playlist and segments
    def live_ready():
        pod.assert_running()
        r = get(pod, "/live/%s/index.m3u8" % SID, bearer=ru.ADMIN_TOKEN)
        return r if r.status == 200 and len(h.Playlist(r.body.decode()).segments) >= 3 else None
    h.wait_for(live_ready, 20, "3 segments in the live playlist of %s (fetched with the admin token)" % SID)
    bodies = check_access(pod, "/live/%s/index.m3u8" % SID, good, bad, "live playlist")
    for name, r in bodies.items():
        text = r.body.decode("utf-8", "replace")
        pl = h.Playlist(text)
        h.check(not pl.problems, "live playlist with %s: %r\n%s" % (name, pl.problems, text))
        if name == "the admin token":
            h.check("token=" not in text, "live playlist for the organizer carries a token:\n%s" % text)
        else:
            want = dict(good)[name].get("token") or dict(good)[name].get("bearer")
            tokenized_uris(text, want, "live playlist with %s" % name)
            cc = r.header("Cache-Control") or ""
            h.check("private" in cc or "no-store" in cc,
                    "tokenized live playlist Cache-Control %r: shared caches may keep one attendee's token" % cc)
    text = bodies["?token=<registered token>"].body.decode()
    pl = h.Playlist(text)
    seg = pl.segments[-2]
    seg_url = urllib.parse.urljoin(pod.url("/live/%s/index.m3u8" % SID), seg.uri)
    r = h.http("GET", seg_url)
    h.check(r.status == 200 and r.header("Content-Type") == "video/mp2t",
            "segment URI %s from the tokenized playlist -> %d %r, expected 200 video/mp2t"
            % (seg.uri, r.status, r.header("Content-Type")))
    seg_bytes = r.body
    seg_path = "/live/%s/%d.ts" % (SID, seg.seq)
    bodies = check_access(pod, seg_path, good, bad, "live segment %d.ts" % seg.seq)
    for name, r in bodies.items():
        h.check(r.body == seg_bytes, "live segment %d.ts with %s: %d bytes differ from the %d served via the "
                "playlist URI" % (seg.seq, name, len(r.body), len(seg_bytes)))
    local = t.path("seg-%d.ts" % seg.seq)
    with open(local, "wb") as f:
        f.write(seg_bytes)
    h.check_segment(local)

    # ffprobe / ffmpeg follow the tokenized URIs unchanged
    url = pod.url("/live/%s/index.m3u8?token=%s" % (SID, token))
    j = h.ffprobe_json(["-show_streams", url], timeout=30, what="ffprobe of the tokenized live playlist")
    kinds = sorted((s.get("codec_type"), s.get("codec_name")) for s in j.get("streams", []))
    h.check(kinds == [("audio", "aac"), ("video", "h264")],
            "ffprobe of the tokenized live playlist found %r, expected aac audio + h264 video" % kinds)
    rc, out, err = h.run_capture(["ffprobe", "-v", "error", "-show_streams", pod.url("/live/%s/index.m3u8" % SID)],
                                 30, "ffprobe of the live playlist without token")
    h.check(rc != 0, "ffprobe of the live playlist without a token succeeded:\n%s" % out[:300])
    rc, out, err = h.run_capture(["ffprobe", "-v", "error", "-show_streams",
                                  pod.url("/live/%s/index.m3u8?token=%s" % (SID, expired))],
                                 30, "ffprobe of the live playlist with an expired token")
    h.check(rc != 0, "ffprobe of the live playlist with an expired token succeeded:\n%s" % out[:300])

    # --- recording (open while the session runs: attendees may seek back)
    ru.wait_rec(pod, SID, lambda x: x.get("segments", 0) >= 2, 10, "2 recorded segments")
    bodies = check_access(pod, "/vod/%s/index.m3u8" % SID, good, bad, "recording playlist")
    for name, r in bodies.items():
        text = r.body.decode("utf-8", "replace")
        if name == "the admin token":
            h.check("token=" not in text, "recording playlist for the organizer carries a token:\n%s" % text)
        else:
            want = dict(good)[name].get("token") or dict(good)[name].get("bearer")
            tokenized_uris(text, want, "recording playlist with %s" % name)
    text = bodies["?token=<registered token>"].body.decode()
    uris = tokenized_uris(text, token, "recording playlist")
    vod_url = urllib.parse.urljoin(pod.url("/vod/%s/index.m3u8" % SID), uris[0])
    r = h.http("GET", vod_url)
    h.check(r.status == 200 and r.header("Content-Type") == "video/mp2t",
            "recording segment URI %s from the tokenized playlist -> %d %r, expected 200 video/mp2t"
            % (uris[0], r.status, r.header("Content-Type")))
    vod_bytes = r.body
    first = uris[0].split("?", 1)[0]
    bodies = check_access(pod, "/vod/%s/%s" % (SID, first), good, bad, "recording segment %s" % first)
    for name, r in bodies.items():
        h.check(r.body == vod_bytes, "recording segment %s with %s: bytes differ" % (first, name))
    local = t.path("vod-" + first)
    with open(local, "wb") as f:
        f.write(vod_bytes)
    h.check_segment(local)

    h.check(pub.poll() is None, "publisher stopped during the test:\n%s" % pub.log())
    pub.kill()
    # nothing of the refused requests reached the registrations file
    with open(reg_path) as f:
        h.check(f.read().count("\n") == len(tokens), "registrations.jsonl changed after the registrations")
    check_registrations_api(pod, people, token, reg_path)


def check_registrations_api(pod, people, token, reg_path):
    """The organizer's list of who registered: JSON and CSV, admin only."""
    for what, headers in (("no token", {}), ("an attendee's token", {"Authorization": "Bearer " + token})):
        r = pod.get("/api/v1/registrations", headers=headers)
        h.check(r.status == 401, "GET /api/v1/registrations with %s -> %d, expected 401" % (what, r.status))
    # Ann again from another browser, her address in capitals; and a name a
    # spreadsheet would run as a formula
    more = [("Ann Attendee", "ANN@Example.org"), ('=HYPERLINK("http://evil.example","x")', "eve@example.org")]
    for name, email in more:
        h.check(register(pod, {"name": name, "email": email}).status == 201, "register %r" % name)
    everyone = people + more

    def listed():
        r = pod.get("/api/v1/registrations", headers=pod.admin_auth())
        return r if r.status == 200 and r.json().get("count") == len(everyone) else None
    j = h.wait_for(listed, 5, "GET /api/v1/registrations listing %d" % len(everyone)).json()
    got = [(x.get("name"), x.get("email")) for x in j.get("registrations", [])]
    h.check(got == everyone and j.get("emails") == 3 and j.get("unreadable_lines") == 0,
            "registrations %r (emails %r, unreadable %r), expected %r and 3 different addresses"
            % (got, j.get("emails"), j.get("unreadable_lines"), everyone))
    x = j["registrations"][0]
    h.check(re.match(r"^[0-9a-f]{16}$", x.get("id", "")) and h.parse_pdt(x.get("registered"))
            and h.parse_pdt(x.get("expires")) > h.parse_pdt(x.get("registered")),
            "a registration reads %r, expected id, registered and expires (ISO times)" % x)

    r = pod.get("/api/v1/registrations?format=csv", headers=pod.admin_auth())
    h.check(r.status == 200 and (r.header("Content-Type") or "").startswith("text/csv")
            and "attachment" in (r.header("Content-Disposition") or ""),
            "CSV -> %d %r %r" % (r.status, r.header("Content-Type"), r.header("Content-Disposition")))
    rows = list(csv.reader(io.StringIO(r.body.decode("utf-8"), newline="")))
    h.check(rows[0] == ["registered", "name", "email", "expires", "id"] and len(rows) == len(everyone) + 1,
            "CSV rows %r" % rows[:3])
    names = [row[1] for row in rows[1:]]
    h.check(names == [n for n, _ in people + more[:1]] + ["'" + more[1][0]],
            "CSV names %r: quotes kept, the formula made text with a leading '" % names)
    expect_field_error(pod.get("/api/v1/registrations?format=xml", headers=pod.admin_auth()), "format",
                       "?format=xml")
    r = pod.request("POST", "/api/v1/registrations", data=b"{}", headers=pod.admin_auth())
    h.check(r.status == 405 and "GET" in (r.header("Allow") or ""), "POST -> %d, expected 405" % r.status)

    # a crash tore the last line: it is skipped, counted and logged
    with open(reg_path, "a") as f:
        f.write('{"id":"0123456789abcdef","name":"Tor')
    j = pod.get("/api/v1/registrations", headers=pod.admin_auth()).json()
    h.check(j.get("count") == len(everyone) and j.get("unreadable_lines") == 1,
            "with a torn last line: count %r unreadable %r" % (j.get("count"), j.get("unreadable_lines")))
    h.check(pod.log_lines_matching(lambda f, _l: f.get("msg", "").startswith("registrations: lines skipped")),
            "no warn line for the torn registration")
    check_registrations_delete(pod, token, reg_path, len(everyone))


def check_registrations_delete(pod, token, reg_path, n):
    """After the event the organizer deletes the list (data protection): the
    names and addresses go, the tokens already issued keep working."""
    for what, headers in (("no token", {}), ("an attendee's token", {"Authorization": "Bearer " + token})):
        r = pod.request("DELETE", "/api/v1/registrations", headers=headers)
        h.check(r.status == 401, "DELETE /api/v1/registrations with %s -> %d, expected 401" % (what, r.status))
    h.check(os.path.getsize(reg_path) > 0, "a refused DELETE emptied registrations.jsonl")
    r = pod.request("DELETE", "/api/v1/registrations", headers=pod.admin_auth())
    h.check(r.status == 202 and r.json() == {"deleted": n, "unreadable_lines": 1},
            "DELETE /api/v1/registrations -> %d %r, expected 202 {deleted: %d, unreadable_lines: 1}"
            % (r.status, r.body[:200], n))
    h.wait_for(lambda: os.path.getsize(reg_path) == 0, 5, "registrations.jsonl emptied")
    h.check(oct(os.stat(reg_path).st_mode & 0o777) == "0o600", "the emptied registrations.jsonl must be 0600")
    j = pod.get("/api/v1/registrations", headers=pod.admin_auth()).json()
    h.check(j.get("count") == 0 and j.get("registrations") == [], "after the DELETE: %r" % j)
    h.check(pod.log_lines_matching(lambda f, _l: f.get("msg") == "registrations deleted by the organizer"
                                   and f.get("count") == str(n)),
            "no info line for the deleted registrations")
    r = pod.get("/live/%s/index.m3u8?token=%s" % (SID, token))
    h.check(r.status not in (401, 403), "an attendee's token refused (%d) after the list was deleted" % r.status)
    r = pod.request("OPTIONS", "/api/v1/registrations")
    h.check("DELETE" in (r.header("Allow") or r.header("Access-Control-Allow-Methods") or ""),
            "OPTIONS /api/v1/registrations does not allow DELETE: %r" % dict(r.headers))
    # who registers next starts the new list
    h.check(register(pod, {"name": "Late Comer", "email": "late@example.org"}).status == 201, "register after")
    h.wait_for(lambda: pod.get("/api/v1/registrations", headers=pod.admin_auth()).json().get("count") == 1, 5,
               "one registration listed after the DELETE and a new one")


if __name__ == "__main__":
    h.run(main)
