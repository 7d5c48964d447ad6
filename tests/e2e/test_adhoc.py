#!/usr/bin/env python3
"""Podium without a config file (ad-hoc mode), as a newcomer first runs it:
`podium` in a folder. It listens on the fixed 127.0.0.1:9000 and :8080, so
the test runs in a network namespace of its own (skipped, exit 77, where
the machine allows none).
- start: the warn line saying any session id is accepted; SRT and HTTP
  listen on 127.0.0.1:9000 and 127.0.0.1:8080; data in ./data, with the
  generated admin.token at mode 0600;
- two speakers publish without a passphrase to ids nobody declared: each
  is a session (warn line naming it), live with real segments, which the
  API lists with "source": "adhoc";
- a stream id that is no valid session id is refused with a warn line
  naming the peer and makes no session; a publisher that sends a
  passphrase is refused with a warn line saying the session has none, and
  to an id no session has yet it leaves no session behind;
- PATCH and DELETE of an ad-hoc session answer 409 saying why; SIGHUP
  (a config reload) logs that there is no file, and changes nothing;
- SIGTERM: exit 0, both recordings finalized in ./data/recordings;
- restarted in the same folder, both sessions come back from their
  recordings (log line; the organizer sees them ended, recording
  finalized with the same segments), and the first speaker's return
  continues its recording after a DISCONTINUITY with numbers after the
  old ones;
- the organizer publishes it; after one more restart attendees get the
  published recording (the published flag survived) and its MP4;
- then started with a config declaring only the first session: it is a
  config session with its published recording, and one warn line names
  the other's recording as not served."""
import os
import signal
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

TALK = "talk-1"
LIGHTNING = "lightning_2"
DEFAULT_SRT, DEFAULT_HTTP = 9000, 8080


def check_start(pod):
    h.check((pod.srt_port, pod.http_port) == (DEFAULT_SRT, DEFAULT_HTTP),
            "podium without -c listens on SRT %d and HTTP %d, expected %d and %d"
            % (pod.srt_port, pod.http_port, DEFAULT_SRT, DEFAULT_HTTP))
    addrs = sorted(f.get("addr") for f in pod.log_records() if f.get("msg") == "listening")
    want = sorted("127.0.0.1:%d" % p for p in (DEFAULT_SRT, DEFAULT_HTTP))
    h.check(addrs == want, "listening on %r, expected loopback only %r" % (addrs, want))
    warns = pod.log_lines_matching(lambda f, l: f.get("level") == "warn" and "no config" in l)
    h.check(len(warns) == 1, "expected one warn line about running without a config, found %r"
            % warns)
    tok = os.path.join(pod.dir, "data", "admin.token")
    h.check(os.path.isfile(tok), "no ./data/admin.token in the folder podium was started in")
    mode = stat.S_IMODE(os.stat(tok).st_mode)
    h.check(mode == 0o600, "./data/admin.token has mode %03o, expected 600" % mode)


def check_refused_id(pod):
    n_warn = len(pod.warn_peer_lines())
    bad = pod.publish("bad.id", duration=4)
    rc = bad.wait(15)
    h.check(rc != 0, "a publisher with stream id r=bad.id exited 0: it was let in")
    lines = pod.warn_peer_lines()[n_warn:]
    h.check(any("not a valid session id" in l for l in lines),
            "no warn line naming the peer says r=bad.id is no valid session id: %r" % lines)
    ids = [s["id"] for s in pod.get("/api/v1/sessions").json()["sessions"]]
    h.check("bad.id" not in ids, "the refused id became a session: %r" % ids)

    # a speaker who kept a passphrase in the URL: refused, and told why
    n_warn = len(pod.warn_peer_lines())
    keyed = pod.publish(TALK, passphrase="some-secret-123", duration=4)
    rc = keyed.wait(15)
    h.check(rc != 0, "a publisher with a passphrase was let into the ad-hoc session")
    lines = pod.warn_peer_lines()[n_warn:]
    h.check(any("sent a passphrase" in l and "has none" in l for l in lines),
            "no warn line says the publisher sent a passphrase the ad-hoc session has none of: %r"
            % lines)
    h.check(pod.api(TALK).get("publishers_total") == 1,
            "the refused publisher took over %s: %r" % (TALK, pod.api(TALK)))

    # the same to an id no session has yet: refused, and no session is left behind
    n_warn = len(pod.warn_peer_lines())
    ghost = pod.publish("ghost", passphrase="some-secret-123", duration=4)
    h.check(ghost.wait(15) != 0, "a publisher with a passphrase made ad-hoc session ghost")
    lines = pod.warn_peer_lines()[n_warn:]
    h.check(any("sent a passphrase" in l and "ghost" in l for l in lines),
            "no warn line names ghost and says the publisher sent a passphrase: %r" % lines)
    ids = [s["id"] for s in pod.get("/api/v1/sessions").json()["sessions"]]
    h.check("ghost" not in ids, "a refused handshake left ad-hoc session ghost behind: %r" % ids)


def check_api(pod):
    listed = {s["id"]: s for s in pod.get("/api/v1/sessions").json()["sessions"]}
    h.check(set(listed) == {TALK, LIGHTNING}, "API lists %r, expected %r"
            % (sorted(listed), sorted([TALK, LIGHTNING])))
    for sid, s in listed.items():
        h.check(s.get("source") == "adhoc", "%s: source %r, expected \"adhoc\"" % (sid, s.get("source")))
    for method, body in (("PATCH", b'{"title":"Renamed"}'), ("DELETE", None)):
        r = pod.request(method, "/api/v1/sessions/%s" % TALK, data=body,
                        headers=dict(pod.admin_auth(), **{"Content-Type": "application/json"}))
        h.check(r.status == 409, "%s of an ad-hoc session -> %d, expected 409" % (method, r.status))
        err = r.json().get("error", "")
        h.check("ad-hoc" in err, "%s 409 says %r, expected it to name the ad-hoc session" % (method, err))
    h.check(pod.api(TALK)["title"] == TALK, "the refused PATCH changed the title")
    # a reload has no file to read: said, and nothing else happens
    os.kill(pod.proc.pid, signal.SIGHUP)
    h.wait_for(lambda: pod.log_lines_matching(lambda f, l: f.get("level") == "warn"
                                              and "SIGHUP: no config file" in f.get("msg", "")),
               10, "a warn line saying SIGHUP has no config file to reload")
    pod.assert_running()
    h.check(sorted(s["id"] for s in pod.get("/api/v1/sessions").json()["sessions"]) == sorted(listed),
            "SIGHUP changed the ad-hoc sessions")


def recorded(pod, sid):
    """(seqs, text) of sid's finalized recording on disk."""
    text = ru.disk_text(pod, sid)
    pl = ru.check_rec_playlist(text, "%s recording" % sid, folder=ru.rec_dir(pod, sid), ended=True)
    return [ru.uri_seq(s.uri) for s in pl.segments], text


def check_restored(pod, before):
    lines = pod.log_lines_matching(lambda f, l: f.get("msg") == "ad-hoc sessions restored from their "
                                   "recordings")
    h.check(len(lines) == 1 and h.parse_logfmt(lines[0]).get("count") == "2",
            "expected one line restoring count=2 ad-hoc sessions, found %r" % lines)
    for sid, seqs in before.items():
        s = pod.api(sid, organizer=True)
        h.check(s.get("source") == "adhoc" and s.get("state") == "ended",
                "%s after the restart: source %r state %r, expected adhoc / ended"
                % (sid, s.get("source"), s.get("state")))
        rec = s.get("recording") or {}
        h.check(rec.get("state") == "finalized" and rec.get("segments") == len(seqs),
                "%s after the restart: recording %r, expected finalized with %d segments"
                % (sid, rec, len(seqs)))
    r = pod.get("/vod/%s/index.m3u8" % TALK)
    h.check(r.status == 404, "unpublished recording -> %d for an attendee, expected 404" % r.status)


def main(t):
    pod = t.podium({}, adhoc=True)
    check_start(pod)

    talk = pod.publish(TALK, duration=8)
    lightning = pod.publish(LIGHTNING, streamid=LIGHTNING, duration=6)
    watchers = [pod.watch(sid) for sid in (TALK, LIGHTNING)]
    for sid, w in zip((TALK, LIGHTNING), watchers):
        w.wait_segments(2, 25, "%s live" % sid)
        made = pod.log_lines_matching(lambda f, l, sid=sid: f.get("level") == "warn"
                                      and f.get("session") == sid and "ad-hoc session created" in l)
        h.check(len(made) == 1, "%s: expected one warn line creating the ad-hoc session, found %r"
                % (sid, made))
    check_refused_id(pod)
    check_api(pod)
    talk.wait_ok(30)
    lightning.wait_ok(30)
    for sid in (TALK, LIGHTNING):
        ru.wait_no_publisher(pod, sid)
    for w in watchers:              # before the podium they poll goes away
        w.stop()
        w.assert_ok()
    pod.stop()
    before = {sid: recorded(pod, sid)[0] for sid in (TALK, LIGHTNING)}
    h.note("recorded: %r" % before)

    ru.restart(pod)
    check_restored(pod, before)
    back = pod.publish(TALK, duration=5)
    back.wait_ok(30)
    ru.wait_no_publisher(pod, TALK)
    pod.stop()
    seqs, text = recorded(pod, TALK)
    old = before[TALK]
    h.check(seqs[:len(old)] == old and len(seqs) > len(old),
            "%s after the speaker came back: %r, expected %r then more" % (TALK, seqs, old))
    lines = text.splitlines()
    first_new = lines.index("%d.ts" % seqs[len(old)])
    h.check("#EXT-X-DISCONTINUITY" in lines[lines.index("%d.ts" % old[-1]):first_new],
            "no DISCONTINUITY before %d.ts, the first segment after the restart:\n%s"
            % (seqs[len(old)], text))

    ru.restart(pod)
    ru.export(pod, TALK, {}, "publish %s" % TALK)
    pod.stop()
    ru.restart(pod)
    r = pod.get("/vod/%s/index.m3u8" % TALK)
    h.check(r.status == 200, "published recording after a restart -> %d, expected 200" % r.status)
    served = [ru.uri_seq(s.uri) for s in h.Playlist(r.body.decode()).segments]
    h.check(served == seqs, "attendees get %r, the recording is %r" % (served, seqs))
    mp4 = pod.request("HEAD", "/vod/%s/%s.mp4" % (TALK, TALK))
    h.check(mp4.status == 200, "HEAD of the published MP4 -> %d, expected 200" % mp4.status)
    check_config_after(pod, seqs)
    h.note("ad-hoc: 2 sessions, refused bad id, restored %r, %s continued to %d segments and "
           "published" % (sorted(before), TALK, len(seqs)))


def check_config_after(pod, seqs):
    """The organizer moves on to a config declaring one of the two sessions:
    it gets its recording; the other's is named once as not served."""
    pod.stop()
    pod.conf_path = os.path.join(pod.dir, "podium.ini")
    with open(pod.conf_path, "w") as f:
        f.write("[server]\nsrt_listen = 127.0.0.1:0\nhttp_listen = 127.0.0.1:0\n"
                "data_dir = %s\n[session %s]\npassphrase = talk-secret-1234\n"
                % (pod.data_dir, TALK))
    ru.restart(pod)
    listed = {s["id"]: s for s in pod.get("/api/v1/sessions").json()["sessions"]}
    h.check(list(listed) == [TALK] and listed[TALK].get("source") == "config",
            "with the config the API lists %r" % {k: v.get("source") for k, v in listed.items()})
    rec = ru.rec_json(pod, TALK)
    h.check(rec.get("state") == "finalized" and rec.get("segments") == len(seqs)
            and rec.get("published"),
            "the configured %s has recording %r, expected its %d published segments"
            % (TALK, rec, len(seqs)))
    lines = pod.log_lines_matching(lambda f, l: f.get("level") == "warn" and "not served" in l)
    h.check(len(lines) == 1 and h.parse_logfmt(lines[0]).get("ids") == LIGHTNING
            and h.parse_logfmt(lines[0]).get("count") == "1",
            "expected one warn line naming %s's recording as not served, found %r" % (LIGHTNING, lines))


if __name__ == "__main__":
    h.run(main, private_network=True)
