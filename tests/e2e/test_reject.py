#!/usr/bin/env python3
"""Unknown session and wrong/missing passphrase are refused (with a warn log line
naming the peer) while a valid publisher on another session is undisturbed. A
stream id with a quote and a newline is logged escaped: every log line is one
event. The organizer's session list carries the refusals (recent_problems,
for the organizer page), attendees' none."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

GOOD = "keynote"
OTHER = "panel"
SESSIONS = {GOOD: {"title": "Keynote", "passphrase": "keynote-secret-123"},
            OTHER: {"title": "Panel", "passphrase": "panel-secret-98765"}}


def main(t):
    pod = t.podium(SESSIONS)
    good = pod.publish(GOOD, duration=16)
    w = pod.watch(GOOD)
    w.wait_segments(2, 20)

    attempts = [
        ("unknown session (access-control streamid)", dict(sid="nosuch", passphrase="whatever-secret-1")),
        ("unknown session (bare streamid)", dict(sid="nosuch2", streamid="nosuch2", passphrase="whatever-secret-1")),
        ("wrong passphrase for an idle session", dict(sid=OTHER, passphrase="wrong-passphrase-1")),
        ("no passphrase for an idle session", dict(sid=OTHER, passphrase="")),
        ("wrong passphrase for the live session", dict(sid=GOOD, passphrase="wrong-passphrase-2")),
        ("wrong passphrase, bare streamid", dict(sid=OTHER, streamid=OTHER, passphrase="wrong-passphrase-3")),
        # a quote and a newline (ffmpeg passes the URL's bytes as they are): the log must stay one
        # line per event
        ("hostile stream id", dict(sid=OTHER, streamid='x"\nlevel=error msg="forged', passphrase="")),
    ]
    for what, kw in attempts:
        n_warn = len(pod.warn_peer_lines())
        before = w.newest()
        sid = kw.pop("sid")
        bad = pod.publish(sid, duration=5, **kw)
        rc = bad.wait(10)
        h.check(rc != 0, "%s: ffmpeg exited 0, the connection was accepted (expected refusal)" % what)
        h.wait_for(lambda: len(pod.warn_peer_lines()) > n_warn, 5,
                   "%s: a level=warn log line with peer=127.0.0.1:PORT" % what)
        pod.assert_running()
        h.note("%s: refused (ffmpeg exit %d): %s" % (what, rc, pod.warn_peer_lines()[-1]))
        # the valid publisher's session keeps producing segments across every attempt
        h.wait_for(lambda: w.newest() > before, 5,
                   "a new segment of %s after the attempt '%s' (newest was %d.ts)" % (GOOD, what, before))

    with open(pod.log_path, errors="replace") as f:
        log = f.read()
    h.check('streamid="x\\"\\nlevel=error msg=\\"forged"' in log,
            "the refused hostile stream id is not logged escaped:\n%s" % log[-1500:])
    stray = [l for l in log.splitlines() if l and not l.startswith("ts=")]
    h.check(not stray, "log lines not starting with ts= (a peer's string broke a line): %r" % stray[:3])

    # The good publisher kept going during the attempts, and keeps going after them.
    h.check(good.poll() is None, "the valid publisher stopped during the refused attempts:\n%s" % good.log())
    w.wait_segments(w.count() + 2, 10, "2 more segments of %s after the refused attempts" % GOOD)
    j = pod.api(GOOD)
    h.check(j.get("live") is True, "API %s live=%r, expected true" % (GOOD, j.get("live")))

    for sid in (OTHER,):
        r = pod.get("/live/%s/index.m3u8" % sid)
        h.check(r.status == 404, "playlist of %s (only refused publishers) -> %d, expected 404" % (sid, r.status))
        j = pod.api(sid)
        h.check(j.get("segments") == 0 and j.get("live") is False and j.get("publisher") is None,
                "API %s after refused publishers: segments=%r live=%r publisher=%r, expected 0/false/null"
                % (sid, j.get("segments"), j.get("live"), j.get("publisher")))
    # the organizer's session list carries the refusals that name a session
    # (the organizer page's "Recent problems"); attendees get none of it
    recent = pod.get("/api/v1/sessions", headers=pod.admin_auth()).json().get("recent_problems") or []
    wrong = [l for l in recent if "session=%s " % OTHER in l and "wrong passphrase" in l]
    h.check(wrong and all("level=warn" in l and "peer=127.0.0.1:" in l for l in wrong),
            "the organizer's recent_problems has no wrong-passphrase line for %s: %r" % (OTHER, recent))
    # a stream id naming no session is refused on a line naming none: it is
    # there too (a speaker who pasted the URL without its streamid), escaped
    hostile = [l for l in recent if 'streamid="x\\"\\nlevel=error msg=\\"forged"' in l]
    h.check(len(hostile) == 1 and "peer=127.0.0.1:" in hostile[0] and " session=" not in hostile[0]
            and "\n" not in hostile[0],
            "the organizer's recent_problems has not the refused hostile stream id once, escaped, with "
            "its peer: %r" % recent)
    h.check("recent_problems" not in pod.get("/api/v1/sessions").json(),
            "the session list without the admin token has recent_problems (speakers' addresses)")
    h.note("recent_problems: %d lines, e.g. %s" % (len(recent), wrong[0]))
    for sid in ("nosuch", "nosuch2"):
        r = pod.get("/api/v1/sessions/%s" % sid)
        h.check(r.status == 404, "API for refused unknown session %s -> %d, expected 404" % (sid, r.status))
        r = pod.get("/live/%s/index.m3u8" % sid)
        h.check(r.status == 404, "playlist for refused unknown session %s -> %d, expected 404" % (sid, r.status))

    good.wait_ok(20)
    w.wait_polls(3)
    w.stop()
    w.assert_ok()
    h.check(not w.disc_seqs(), "refused publishers caused discontinuities in %s at %r" % (GOOD, w.disc_seqs()))
    seqs = w.seen_seqs()
    h.check(seqs == list(range(seqs[0], seqs[-1] + 1)), "segment numbers not contiguous: %r" % seqs)
    w.check_durations_against(pod.segment_duration, 1.0)
    for q in seqs[-3:]:
        h.check_segment(w.segment_path(q))


if __name__ == "__main__":
    h.run(main)
