#!/usr/bin/env python3
"""An attendee's network goes away mid-talk, and comes back: the player page
plays the talk again by itself, without a reload (tests/browser/play.mjs,
PODIUM_NET_DOWN).

Headless Chromium plays /watch/<id> live >= 3 s; then every request the page
makes fails for 12 s (Wi-Fi gone). hls.js gives up on the live playlist
after a few retries (~3 s), a fatal network error: the page must not leave a
dead player saying "Player error", but say it lost the connection, keep
asking, and once the network is back play the live talk again (>= 3 s more,
no fatal player error, window.podium.reconnects >= 1, "Live" again) within
6 s of it. Its retries wait 2 s, then 4, 8 (to 30), each a random 0.5-1.5x
of that (attendees who lost the server together must not come back in
lockstep), and the browser's "online" event brings the pending one forward
(the browser says it is offline once the page has let its player go). A published recording resumes where the attendee was instead
(hls.js retries a recording's segments for ~30 s before it gives up: not
run here)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import browser as br  # noqa: E402

SID = "talk"
DOWN_S, PLAY_S = 12, 3


def main(t):
    br.require()
    pod = t.podium({SID: {"title": "Network talk", "passphrase": "network-secret-42", "format": "lightning"}})
    pod.publish(SID, duration=150)
    h.wait_for(lambda: pod.get("/live/%s/index.m3u8" % SID).status == 200, 20, "the live playlist")
    res = br.play(t, pod, "/watch/" + SID, "network", min_seconds=3, timeout=30, net_down=(DOWN_S, PLAY_S))
    nd = res.get("netDown") or {}
    h.note("network down %s s at %.2f s of the talk: the page said %r; playing again %.1f s after it came "
           "back, from %r, %d reconnect(s)" % (nd.get("seconds"), nd.get("before") or 0, nd.get("statuses"),
                                               nd.get("playingAfter") or -1, nd.get("resumedAt"),
                                               nd.get("reconnects") or 0))
    statuses = nd.get("statuses") or []
    h.check(nd.get("reconnects", 0) >= 1,
            "the player never gave up while the network was down (reconnects %r): nothing tested" % nd.get("reconnects"))
    h.check(any("reconnecting" in s or "Cannot reach the server" in s for s in statuses),
            "while the network was down the page said %r, expected that it is reconnecting" % statuses)
    h.check(not any(s.startswith("Player error") for s in statuses),
            "the page showed a player error: %r" % statuses)
    h.check(statuses and statuses[-1] == "Live", "after the network came back the page says %r" % statuses[-1:])
    h.check(nd.get("source") == "/live/%s/index.m3u8" % SID,
            "after the network came back the player plays %r, expected the live playlist" % nd.get("source"))
    waits = nd.get("waits") or []
    h.note("the page's waits before each retry (ms): %s; %d retr(ies) brought forward by the browser's "
           "online event" % (", ".join("%d of %d" % (w["ms"], w["wait"]) for w in waits), nd.get("onlineRetries") or 0))
    check_waits(waits, 2)
    h.check((nd.get("onlineRetries") or 0) >= 1,
            "the page waited out its retry after the browser said the network was back (waits %r)" % waits)
    h.check((nd.get("playingAfter") or 99) <= h.scaled(6),
            "the talk played again only %.1f s after the network came back" % (nd.get("playingAfter") or -1))


def check_waits(waits, at_least):
    """The page's waits before each retry after failures in a row: 2 s,
    doubling to 30 s, each a random 0.5-1.5x share of it, so that attendees
    who lost the server together do not come back together."""
    h.check(len(waits) >= at_least, "the page retried %d time(s) after a failure, expected >= %d: %r"
            % (len(waits), at_least, waits))
    bases = [w["wait"] for w in waits]
    h.check(bases == [min(2000 * 2 ** i, 30000) for i in range(len(waits))],
            "the waits do not start at 2 s and double with each failure in a row: %r" % bases)
    h.check(all(0.5 * w["wait"] <= w["ms"] <= 1.5 * w["wait"] for w in waits),
            "a wait is outside 0.5-1.5x of its base: %r" % waits)
    h.check(len({w["ms"] / w["wait"] for w in waits}) > 1,
            "every wait is the same share of its base (%r): attendees would retry in lockstep" % waits)


if __name__ == "__main__":
    h.run(main)
