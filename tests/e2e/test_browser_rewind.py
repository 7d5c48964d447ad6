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
growing playlist as delta updates (_HLS_skip=YES; e2e_rec_basic checks
the answers) while playing 5 s on; clicking it plays
the live playlist again, near the live edge (hls.js latency under 8 s).
Then from the start once more, the organizer ends the talk: its unpublished
recording is no longer the attendees' (404), and the page says the
recording plays there once published, with no player error and no
"Watch from the start" button.
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
    # at last from the start again, when the organizer ends the talk
    step, ended = os.path.join(t.tmp, "page-step"), []

    def organizer_ends():
        if not ended and os.path.exists(step):
            r = pod.request("POST", "/api/v1/sessions/%s/end" % SID, headers=pod.admin_auth())
            h.check(r.status == 202, "POST end of the live talk -> %d, expected 202" % r.status)
            ended.append(True)
    res = br.play(t, pod, "/watch/%s" % SID, "rewind", min_seconds=2, timeout=60,
                  clicks=[("#rewind", 5), ("#rewind", 2), ("#rewind", 1)],
                  after_play=(step, "its recording plays here once the organizers publish it"),
                  tick=organizer_ends)
    h.check(res.get("source") == live, "the page began with %r, expected the live playlist" % res.get("source"))
    clicks = res.get("clicks") or []
    h.check(len(clicks) == 3, "clicks %r" % clicks)
    back, again = clicks[:2]
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
    h.check(again["source"] == live, "after \"Back to live\" the page plays %r, expected %s"
            % (again["source"], live))
    h.check(again["latency"] is not None and again["latency"] < 8,
            "back to live, hls.js says the playhead is %r s behind the live edge" % again["latency"])
    h.check("Watch from the start" in again["label"] and again["status"] == "Live",
            "back to live: button %r, status %r" % (again["label"], again["status"]))
    # the end takes the unpublished recording away from the attendee behind
    # the talk: the page says what happens next, not a player error
    h.check(ended and res.get("errorsAfter") == [] and "rewind" not in res.get("buttonsAfter", ["rewind"]),
            "after the end, watching from the start: errors %r, buttons %r, status %r"
            % (res.get("errorsAfter"), res.get("buttonsAfter"), res.get("afterStatus")))
    pod.stop()


if __name__ == "__main__":
    h.run(main)
