#!/usr/bin/env python3
"""SRT pull (stream id m=request, DESIGN.md "SRT ingest"): while a speaker
publishes, ffmpeg connects as an SRT caller with #!::r=<id>,m=request and
the session's passphrase, and records 4 s of what it receives (two such
subscribers at once). Each file must be MPEG-TS with the publisher's H.264
and AAC, start on a keyframe that decodes, and last about 4 s; the publisher and the live playlist go on
unaffected; Podium logs the subscriber connecting and, once ffmpeg has gone,
dropping it. A subscriber still connected when the organizer ends the
session is let go (its ffmpeg exits), and so is one whose session the
organizer deletes. A request for an unknown session is refused in the handshake,
and a session muxing fMP4 (LL-HLS) refuses subscribers with a log line."""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402
from test_llhls import llhls_podium  # noqa: E402

SID = "keynote"
PASS = "keynote-secret-42"
DEL_SID = "pulled-then-deleted"
DEL_PASS = "deleted-secret-77"


def pull_cmd(pod, sid, out, seconds=4, passphrase=PASS):
    url = pod.srt_url(sid, passphrase=passphrase, streamid="#!::r=%s,m=request" % sid)
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", url,
            "-t", str(seconds), "-map", "0", "-c", "copy", "-f", "mpegts", out]


def subscribers_metric(pod, sid=SID):
    """The session's podium_session_subscribers sample, None when absent."""
    text = pod.get("/metrics").body.decode("utf-8")
    m = re.search(r'^podium_session_subscribers\{session="%s"\} (\S+)$' % re.escape(sid), text, re.M)
    return float(m.group(1)) if m else None


def main(t):
    pod = t.podium({SID: {"title": "Keynote", "passphrase": PASS}})
    pub = pod.publish(SID, duration=30)
    w = pod.watch(SID)
    w.wait_segments(2, 20, "2 live segments before the pull")

    # two subscribers at once: the same muxed bytes go to both
    outs, procs = [], []
    for k in (1, 2):
        out = os.path.join(t.tmp, "pulled%d.ts" % k)
        log = os.path.join(t.tmp, "pull%d.log" % k)
        outs.append((out, log))
        procs.append(h.spawn(pull_cmd(pod, SID, out), "ffmpeg pull %d" % k, log_path=log))
    h.wait_for(lambda: pod.api(SID).get("subscribers") == 2, 10, "API subscribers = 2 while pulling")
    h.check(subscribers_metric(pod) == 2, "/metrics podium_session_subscribers %r while 2 pull"
            % subscribers_metric(pod))
    for p, (out, log) in zip(procs, outs):
        rc = h.wait_exit(p, 30, "ffmpeg pulling 4 s over SRT")
        h.check(rc == 0, "ffmpeg m=request exited %d:\n%s" % (rc, h.tail(log)))
    h.wait_for(lambda: pod.api(SID).get("subscribers") == 0, 15,
               "API subscribers back to 0 after both ffmpeg closed")
    h.check(subscribers_metric(pod) == 0, "/metrics podium_session_subscribers %r after both closed"
            % subscribers_metric(pod))
    for out, _ in outs:
        h.check_segment(out, decode_first=True)
        _, fmt = h.probe_streams(out)
        dur = float(fmt.get("duration") or 0)
        h.check(3.5 <= dur <= 5.0, "%s: pulled %.2f s of media, asked for 4" % (out, dur))
        h.note("%s: %d bytes, %.2f s, H.264 + AAC from a keyframe" % (os.path.basename(out),
                                                                      os.path.getsize(out), dur))
    h.wait_for(lambda: pod.log_lines_matching(
        lambda f, l: f.get("msg") == "subscriber connected" and f.get("peer", "").startswith("127.0.0.1:")),
        5, 'msg="subscriber connected" peer=127.0.0.1:PORT')
    h.wait_for(lambda: pod.log_lines_matching(lambda f, l: f.get("msg") == "subscriber dropped"),
               15, 'msg="subscriber dropped" after ffmpeg closed')

    bad = os.path.join(t.tmp, "nosuch.ts")
    p = h.spawn(pull_cmd(pod, "nosuch", bad, passphrase="whatever-secret-1"), "ffmpeg pull nosuch")
    h.check(h.wait_exit(p, 20, "ffmpeg pulling an unknown session") != 0,
            "a pull of an unknown session succeeded")
    h.wait_for(lambda: pod.log_lines_matching(
        lambda f, l: f.get("msg") == "connection refused: unknown session" and f.get("mode") == "request"),
        5, 'msg="connection refused: unknown session" mode=request')

    h.check(pub.poll() is None, "the publisher stopped while a subscriber pulled")
    w.wait_segments(len(w.seen_seqs()) + 2, 15, "2 more live segments after the pulls")

    # a subscriber still connected when the session ends is let go (a
    # restream encoder stops, as the players do)
    late = os.path.join(t.tmp, "late.ts")
    late_log = os.path.join(t.tmp, "late.log")
    p = h.spawn(pull_cmd(pod, SID, late, seconds=600), "ffmpeg pull until the end",
                log_path=late_log)
    h.wait_for(lambda: pod.api(SID).get("subscribers") == 1, 10, "the late subscriber connected")
    pub.wait_ok(40)
    w.stop()                            # before the session's ENDLIST
    w.assert_ok()
    r = pod.request("POST", "/api/v1/sessions/%s/end" % SID, headers=pod.admin_auth(), data=b"")
    h.check(r.status in (200, 202), "POST .../end -> %d" % r.status)
    h.wait_for(lambda: p.poll() is not None, 20, "the subscriber's ffmpeg to end with the session")
    h.check(pod.log_lines_matching(lambda f, l: f.get("msg") == "subscriber dropped"
                                   and f.get("reason") == "session ended"),
            'no msg="subscriber dropped" reason="session ended" in the log')
    h.check(os.path.exists(late) and os.path.getsize(late) > 0, "the late subscriber got nothing")

    # a session the organizer deletes lets its subscribers go too (the
    # housekeeper that ends sessions no longer sees a deleted one)
    r = pod.request("POST", "/api/v1/sessions", headers=dict(pod.admin_auth(), **{
        "Content-Type": "application/json"}), data=json.dumps({"id": DEL_SID, "passphrase": DEL_PASS}).encode())
    h.check(r.status == 201, "POST /api/v1/sessions %s -> %d: %r" % (DEL_SID, r.status, r.body[:200]))
    pub = pod.publish(DEL_SID, duration=60, passphrase=DEL_PASS)
    h.wait_for(lambda: (pod.api(DEL_SID).get("segments") or 0) >= 1, 20, "a live segment of %s" % DEL_SID)
    p = h.spawn(pull_cmd(pod, DEL_SID, os.path.join(t.tmp, "deleted.ts"), seconds=600,
                         passphrase=DEL_PASS), "ffmpeg pull until the delete")
    h.wait_for(lambda: pod.api(DEL_SID).get("subscribers") == 1, 10, "the subscriber of %s connected" % DEL_SID)
    r = pod.request("DELETE", "/api/v1/sessions/%s" % DEL_SID, headers=pod.admin_auth())
    h.check(r.status == 204, "DELETE %s -> %d" % (DEL_SID, r.status))
    h.wait_for(lambda: p.poll() is not None, 20, "the subscriber's ffmpeg to end with the deleted session")
    h.check(pod.log_lines_matching(lambda f, l: f.get("msg") == "subscriber dropped"
                                   and f.get("reason") == "session deleted"),
            'no msg="subscriber dropped" reason="session deleted" in the log')
    pub.wait(10)
    pod.stop()

    ll = llhls_podium(t, {SID: {"title": "Keynote", "passphrase": PASS}})
    pub = ll.publish(SID, duration=10)
    h.wait_for(lambda: (ll.api(SID).get("segments") or 0) >= 1, 20, "a live fMP4 segment")
    p = h.spawn(pull_cmd(ll, SID, os.path.join(t.tmp, "fmp4.ts"), seconds=2), "ffmpeg pull fmp4")
    h.check(h.wait_exit(p, 20, "ffmpeg pulling an fMP4 session") != 0,
            "a pull of an fMP4 session succeeded")
    h.wait_for(lambda: ll.log_lines_matching(
        lambda f, l: f.get("msg", "").startswith("subscriber refused: m=request needs MPEG-TS")),
        5, 'msg="subscriber refused: m=request needs MPEG-TS ..."')
    pub.wait_ok(30)


if __name__ == "__main__":
    h.run(main)
