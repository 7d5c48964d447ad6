#!/usr/bin/env python3
"""An attendee who joins a live talk late watches it from the start: the
live playlist holds only the last few segments, so the player page offers
"Watch from the start", which plays the talk's recording (its EVENT
playlist, growing while the talk goes on) from its first second, and then
"Back to live".

A speaker streams 1 s segments; once 20 s are recorded, Chromium opens
/watch/<id> and plays live (the live playlist, a 6 s window), clicks
"Watch from the start": the source becomes /vod/<id>/index.m3u8, playback
begins within the first 2 s of the talk, the seekable range covers at least
the 20 s recorded, the button reads "Back to live", and hls.js re-reads the
growing playlist as delta updates (_HLS_skip=YES, answered with an
EXT-X-SKIP) while playing 5 s on; clicking it plays
the live playlist again, near the live edge (hls.js latency under 8 s).
Needs Chromium (scripts/deps browser)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import browser as br  # noqa: E402

SID = "late"
RECORDED = 20


def main(t):
    br.require()
    pod = t.podium({SID: {"title": "Joined late", "passphrase": "late-secret-4242"}}, segment_duration=1.0)
    pub = pod.publish(SID, duration=90, gop=30)
    h.wait_for(lambda: pod.api(SID, organizer=True)["recording"]["duration"] >= RECORDED, RECORDED + 20,
               "%d s recorded" % RECORDED)
    live, vod = "/live/%s/index.m3u8" % SID, "/vod/%s/index.m3u8" % SID
    res = br.play(t, pod, "/watch/%s" % SID, "rewind", min_seconds=2, timeout=40,
                  clicks=[("#rewind", 5), ("#rewind", 2)])
    h.check(res.get("source") == live, "the page began with %r, expected the live playlist" % res.get("source"))
    clicks = res.get("clicks") or []
    h.check(len(clicks) == 2, "clicks %r" % clicks)
    back, again = clicks
    h.note("from the start: %r" % back)
    h.note("back to live: %r" % again)
    h.check(back["source"] == vod, "after \"Watch from the start\" the page plays %r, expected %s"
            % (back["source"], vod))
    h.check(back["startedAt"] is not None and back["startedAt"] < 2.0,
            "from the start, playback began at %r s, expected within the talk's first 2 s" % back["startedAt"])
    span = back["seekable"][1] - back["seekable"][0] if back["seekable"] else 0
    h.check(span >= RECORDED - 1, "from the start the attendee can seek over %.1f s, expected the %d s "
            "recorded" % (span, RECORDED))
    h.check("Back to live" in back["label"] and "From the start" in back["status"],
            "from the start: button %r, status %r" % (back["label"], back["status"]))
    # re-read every segment, the talk's whole playlist would grow with it:
    # hls.js takes the delta updates the recording's playlist offers
    deltas = [u for u in back["playlists"] if "_HLS_skip=YES" in u]
    h.check(deltas, "from the start hls.js never asked for a delta update: %r" % back["playlists"])
    r = pod.get(deltas[-1])
    h.check(r.status == 200 and "#EXT-X-SKIP:SKIPPED-SEGMENTS=" in r.body.decode(),
            "%s -> %d without EXT-X-SKIP:\n%s" % (deltas[-1], r.status, r.body.decode()[:500]))
    h.check(again["source"] == live, "after \"Back to live\" the page plays %r, expected %s"
            % (again["source"], live))
    h.check(again["latency"] is not None and again["latency"] < 8,
            "back to live, hls.js says the playhead is %r s behind the live edge" % again["latency"])
    h.check("Watch from the start" in again["label"] and again["status"] == "Live",
            "back to live: button %r, status %r" % (again["label"], again["status"]))
    h.check(pub.poll() is None, "the speaker stopped during the test")
    pod.stop()


if __name__ == "__main__":
    h.run(main)
