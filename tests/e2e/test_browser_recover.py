#!/usr/bin/env python3
"""The player's media fails mid-talk, twice in a row: the page plays the
live talk on by itself (tests/browser/play.mjs, PODIUM_MEDIA_ERRORS).

Headless Chromium plays /watch/<id> live >= 3 s; first the attendee's
network goes for 8 s (PODIUM_NET_DOWN: failed retries in a row), and the
page plays the live talk again. Then the browser refuses every append to
the player's SourceBuffers until hls.js reports a fatal bufferAppendError
(what it does with media the browser cannot take), and the page must play
>= 2 s more; then again at once. The first time the page has hls.js
rebuild its media pipeline in the same player (window.podium.recoveries
1, no new player); the second, within 10 s of the first, it starts a new
player (window.podium.reconnects one more) after the shortest wait, 1-3
s: the talk played again since the outage's failures, so they no longer
count. Neither time may the page show a dead player: no fatal error left
in window.podium.errors, "Live" at the end, the live playlist playing."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import browser as br  # noqa: E402

SID = "talk"
PLAY_S = 2
DOWN_S = 8


def main(t):
    br.require()
    pod = t.podium({SID: {"title": "Glitchy talk", "passphrase": "recover-secret-42", "format": "lightning"}})
    pod.publish(SID, duration=150)
    h.wait_for(lambda: pod.get("/live/%s/index.m3u8" % SID).status == 200, 20, "the live playlist")
    res = br.play(t, pod, "/watch/" + SID, "recover", min_seconds=3, timeout=30, net_down=(DOWN_S, PLAY_S),
                  media_errors=(2, PLAY_S))
    nd = res.get("netDown") or {}
    h.note("network down %d s first: the page's waits %r, %d reconnect(s)"
           % (DOWN_S, nd.get("waits"), nd.get("reconnects") or 0))
    h.check(len(nd.get("waits") or []) >= 1 and (nd.get("statuses") or [""])[-1] == "Live",
            "the network outage before the media errors left no failed retry, or no live talk: %r" % nd)
    errs = res.get("mediaErrors") or []
    for i, e in enumerate(errs):
        h.note("media error %d: %d append(s) refused; hls.js said %r; the page said %r; playing again from %.2f s; "
               "%d recover(ies) and %d reconnect(s) so far; a new player: %s"
               % (i + 1, e.get("appendsFailed") or 0, e.get("fatal"), e.get("statuses"), e.get("resumedAt") or -1,
                  e.get("recoveries") or 0, e.get("reconnects") or 0, e.get("newPlayer")))
    h.check(len(errs) == 2, "expected two media errors, the run reports %d" % len(errs))
    for i, e in enumerate(errs):
        h.check(e.get("fatal") and all(f == "bufferAppendError" for f in e["fatal"]),
                "media error %d: hls.js reported %r, expected a fatal bufferAppendError: nothing tested"
                % (i + 1, e.get("fatal")))
        h.check(not any(s.startswith("Player error") or "cannot play" in s for s in e.get("statuses") or []),
                "media error %d: the page showed %r" % (i + 1, e.get("statuses")))
        h.check(e.get("status") == "Live" and e.get("source") == "/live/%s/index.m3u8" % SID,
                "media error %d: the page plays %r and says %r, expected the live talk"
                % (i + 1, e.get("source"), e.get("status")))
    first, second = errs
    before = nd.get("reconnects") or 0            # the outage's
    h.check(first.get("recoveries") == 1 and not first.get("newPlayer") and first.get("reconnects") == before,
            "the first media error did not rebuild the media pipeline in the same player: %r" % first)
    h.check(second.get("recoveries") == 1 and second.get("newPlayer") and second.get("reconnects") == before + 1,
            "the second media error, within 10 s of the first, did not start a new player: %r" % second)
    h.check(any("starting it again" in s for s in second.get("statuses") or []),
            "the page did not say it was starting the player again: %r" % second.get("statuses"))
    waits, earlier = second.get("waits") or [], nd["waits"]
    h.check(len(waits) == len(earlier) + 1 and waits[-1]["wait"] == 2000 and 1000 <= waits[-1]["ms"] <= 3000,
            "after the outage's waits %r the new player came after %r, expected one more of 1-3 s (the talk "
            "had played again since those failures in a row)" % (earlier, waits[len(earlier):]))


if __name__ == "__main__":
    h.run(main)
