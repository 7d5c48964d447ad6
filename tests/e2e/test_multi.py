#!/usr/bin/env python3
"""Four sessions published at the same time, each with its own correct playlist."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

IDS = ["track-a", "track-b", "track-c", "track-d"]
# a different picture size per session makes any cross-talk between sessions visible
SIZES = {"track-a": (320, 180), "track-b": (426, 240), "track-c": (480, 270), "track-d": (640, 360)}


def main(t):
    sessions = {sid: {"title": "Talk %s" % sid, "passphrase": "secret-for-%s" % sid} for sid in IDS}
    pod = t.podium(sessions)
    pubs, watchers = {}, {}
    for sid in IDS:
        pubs[sid] = pod.publish(sid, duration=8, size="%dx%d" % SIZES[sid])
        watchers[sid] = pod.watch(sid)
    for sid in IDS:
        watchers[sid].wait_segments(3, 25, "3 segments of %s" % sid)
    lst = pod.get("/api/v1/sessions").json().get("sessions", [])
    live = sorted(s.get("id") for s in lst if s.get("live") is True)
    h.check(live == sorted(IDS), "GET /api/v1/sessions lists live %r, expected %r" % (live, sorted(IDS)))
    addrs = set()
    for sid in IDS:
        j = pod.api(sid, organizer=True)
        h.check(j.get("live") is True and isinstance(j.get("publisher"), dict),
                "API %s: live=%r publisher=%r" % (sid, j.get("live"), j.get("publisher")))
        addrs.add(j["publisher"].get("address"))
    h.check(len(addrs) == len(IDS), "publisher addresses not distinct across sessions: %r" % addrs)
    for sid in IDS:
        pubs[sid].wait_ok(25)
    for sid in IDS:
        w = watchers[sid]
        h.wait_for(lambda: pod.api(sid).get("publisher") is None, 10, "API %s publisher=null at the end" % sid)
        w.wait_polls(2)
        w.stop()
        w.assert_ok()
        seqs = w.seen_seqs()
        h.check(len(seqs) >= 5, "%s: only %d segments for an 8 s stream" % (sid, len(seqs)))
        h.check(seqs == list(range(seqs[0], seqs[-1] + 1)), "%s: segment numbers not contiguous: %r" % (sid, seqs))
        h.check(not w.disc_seqs(), "%s: unexpected discontinuities at %r" % (sid, w.disc_seqs()))
        w.check_durations_against(pod.segment_duration, 1.0)
        h.check_timestamp_continuity(w)
        total = sum(w.segs[q].duration for q in seqs)
        h.check(6.0 <= total <= 9.5, "%s: sum of EXTINF %.2f s for an 8 s stream" % (sid, total))
        for q in (seqs[0], seqs[len(seqs) // 2], seqs[-1]):
            streams, _ = h.check_segment(w.segment_path(q))
            v = [s for s in streams if s.get("codec_type") == "video"][0]
            h.check((int(v["width"]), int(v["height"])) == SIZES[sid],
                    "%s %d.ts: video %sx%s, expected %dx%d (segments of another session?)"
                    % ((sid, q, v["width"], v["height"]) + SIZES[sid]))


    # SIGTERM while all four sessions are live: exit 0 within 5 s (checked by
    # pod.stop), and the publishers are disconnected.
    counts = {sid: pod.api(sid).get("segments") or 0 for sid in IDS}
    again = {sid: pod.publish(sid, duration=60, size="%dx%d" % SIZES[sid]) for sid in IDS}
    h.wait_for(lambda: all((pod.api(sid).get("segments") or 0) > counts[sid] for sid in IDS), 20,
               "a new segment in all four sessions from the second round of publishers")
    pod.stop()
    for sid, p in again.items():
        rc = p.wait(15)  # podium closed the connection
        h.note("%s: publisher ended with exit code %d after podium's SIGTERM" % (sid, rc))


if __name__ == "__main__":
    h.run(main)
