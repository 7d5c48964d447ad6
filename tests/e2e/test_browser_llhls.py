#!/usr/bin/env python3
"""Headless Chromium plays an LL-HLS session and stays close to the live edge.

Podium A: [hls] format = fmp4, part_duration = 0.2, segment_duration = 1
(SRT latency 120 ms). /watch/<id> (hls.js, lowLatencyMode: true) must play
>= 3 s without player error, decoding video and audio; then hls.js's
`window.podium.hls.latency` is sampled every 500 ms for 20 s
(tests/browser/play.mjs with PODIUM_SAMPLE_LATENCY): median < 1.5 s.
Then a network hiccup: a second player on the same session has every request
held for 4 s (PODIUM_NET_HOLD), so it stalls and falls ~4 s behind. hls.js
alone would stay there (it only speeds up within one target duration of its
target latency); the page must bring it back: median latency of the samples
taken from 8 s after the hold ends < 1.5 s. And an attendee who rewinds on
purpose stays where they went: a third player seeks 4 s back, inside the
6 s live window (6 x 1 s segments; further back, hls.js itself resyncs a
seek it cannot play from the playlist), and 2 s later and until the end
(8 s) it is still more than 2 s behind, beyond the page's jump-back range
(target latency + one target duration, ~1.8 s).
One player at a time. (Plain TS sessions play in e2e_browser_live; their
latency against LL-HLS is `scripts/bench latency`'s.) Also printed: hls.js's view when playback
started (latency, liveSyncPosition, edge, buffered), the buffer ahead of the
playhead while sampling, the first parts buffered and hls.js's non-fatal
errors, to tell a late server from a player that started far from the edge.
PODIUM_HLS_CONFIG='{"maxLiveSyncPlaybackRate":1.5}' (play.mjs) tries hls.js
settings the page does not set."""
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import browser as br  # noqa: E402
import test_llhls as ll  # noqa: E402

SAMPLE_S = 20
HOLD_AT, HOLD_S, HOLD_SAMPLE_S = 4, 4, 22
REWIND_AT, REWIND_S, REWIND_SAMPLE_S = 3, 4, 13   # REWIND_S + latency < the 6 s window
GOP = 30            # 1 s at 30 fps: a keyframe (INDEPENDENT part) per segment
SIZE = "640x360"
LL_MEDIAN_MAX = 1.5


def start(t, sid):
    pod = ll.llhls_podium(t, {sid: {"title": sid, "passphrase": "browser-ll-secret"}}, fmt="fmp4",
                          part_duration=0.2, segment_duration=1, latency_ms=120)
    pub = pod.publish(sid, duration=150, gop=GOP, size=SIZE)
    return pod, pub


def wait_live(pod, pub, sid, n):
    def ready():
        pod.assert_running()
        h.check(pub.poll() is None, "publisher exited early (%s): %s" % (pub.poll(), pub.log()))
        r = pod.get("/live/%s/index.m3u8" % sid)
        return r.status == 200 and r.body.decode("utf-8", "replace").count("#EXTINF") >= n
    h.wait_for(ready, 15, "%d segments in /live/%s/index.m3u8" % (n, sid))


def measure(t, pod, sid, what, out, seconds, env=None):
    shot = br.shot_path(t, what)
    timeout = h.scaled(30)
    res = br.run_node("play.mjs", [pod.url("/watch/%s" % sid), shot, 3, timeout], timeout + seconds + 30,
                      "play.mjs /watch/%s (%s)" % (sid, what), tmpdir=t.tmp,
                      env=dict(env or {}, PODIUM_SAMPLE_LATENCY=str(seconds)))
    res["_sampled"] = seconds
    out[what] = res


def check_played(res, what):
    h.check(res.get("ok") and res["_rc"] == 0, "%s: the player did not play and sample without error: %s\n%s"
            % (what, res.get("error"), br.summary(res)))
    h.check(res.get("errors") == [], "%s: window.podium.errors %r" % (what, res.get("errors")))
    h.check(res.get("hlsUsed"), "%s: the page did not use hls.js" % what)
    h.check((res.get("videoBytes") or 0) > 0 and (res.get("audioBytes") or 0) > 0,
            "%s: video/audio not decoded: %s" % (what, br.summary(res)))
    lat = res.get("latency") or []
    h.check(len(lat) >= res["_sampled"], "%s: only %d hls.latency samples in %d s" % (what, len(lat), res["_sampled"]))
    med = statistics.median(lat)
    tl = res.get("targetLatency") or [None]
    h.note("%s: played %.1f s + %.1f s while sampling (%d stalled samples), codecs %s, warnings %r"
           % (what, res.get("advanced", 0), res.get("latencyPlayed") or 0, res.get("latencyStalls", 0),
              res.get("codecs"), res.get("warnings")))
    h.note("%s: hls.latency n=%d min %.3f median %.3f max %.3f s; hls.targetLatency median %s; samples %s"
           % (what, len(lat), min(lat), med, max(lat),
              statistics.median([x for x in tl if x is not None]) if tl != [None] else None,
              json.dumps(lat)))
    h.note("%s: when playback started: %s" % (what, json.dumps(res.get("atStart"))))
    ahead = res.get("bufferAhead") or []
    if ahead:
        h.note("%s: buffered ahead of the playhead: median %.3f s (min %.3f, max %.3f)"
               % (what, statistics.median(ahead), min(ahead), max(ahead)))
    h.note("%s: started after %s s at currentTime %s; first buffered %s; at the end: currentTime %.3f, "
           "hls.js live edge %s, liveSyncPosition %s"
           % (what, res.get("startedAfter"), res.get("startTime"), json.dumps(res.get("firstBuffered")),
              res.get("currentTime") or 0, json.dumps(res.get("liveEdge")), res.get("liveSyncPosition")))
    if res.get("timeline"):
        h.note("%s: hls.js startup timeline: %s" % (what, json.dumps(res["timeline"])))
    if res.get("seeks"):
        h.note("%s: seeks (page time, from, to, by): %s" % (what, json.dumps(res["seeks"])))
    if res.get("warningInfo"):
        h.note("%s: hls.js errors: %s" % (what, json.dumps(res["warningInfo"])))
    return med


def disturbed(t, pod, res, what, key, seconds, knob, done, when, amount):
    """Plays the LL session with play.mjs knob=when,amount set; checks it played
    and that play.mjs reported the disturbance under done. Returns the result and
    its latency samples with their times."""
    measure(t, pod, "lowlat", key, res, seconds, env={knob: "%g,%g" % (when, amount)})
    r = res[key]
    check_played(r, what)
    lat, at = r.get("latency") or [], r.get("latencyAt") or []
    h.check(r.get(done) == [when, amount] and len(lat) == len(at),
            "%s: %s was not applied: %s" % (what, knob, br.summary(r)))
    return r, lat, at


def check_recovery(t, pod, res):
    what = "LL-HLS, requests held %d s" % HOLD_S
    r, lat, at = disturbed(t, pod, res, what, "llhls-hold", HOLD_SAMPLE_S, "PODIUM_NET_HOLD", "hold",
                           HOLD_AT, HOLD_S)
    held_end = HOLD_AT + HOLD_S
    pos = r.get("latencyT") or []
    peak = max([x for x, s in zip(lat, at) if s >= HOLD_AT] or [0])
    # playhead progress while held (the buffer ahead is ~0.6 s: it must stall)
    during = [p for p, s in zip(pos, at) if HOLD_AT <= s <= held_end]
    played = round(during[-1] - during[0], 3) if len(during) >= 2 else None
    back = next((s for x, s in zip(lat, at) if s >= held_end and x < LL_MEDIAN_MAX), None)
    after = [x for x, s in zip(lat, at) if s >= held_end + 8]
    h.note("%s: played %s s of media during the %d s hold; latency peaked at %.3f s; back under %.1f s %s s after the hold ended; median from %d s after: %s"
           % (what, played, HOLD_S, peak, LL_MEDIAN_MAX, None if back is None else round(back - held_end, 1), 8,
              statistics.median(after) if after else None))
    h.check(played is not None and played < HOLD_S - 1.5,
            "%s: the hold did not stall the player (played %s s while held)" % (what, played))
    h.check(len(after) >= 10 and statistics.median(after) < LL_MEDIAN_MAX,
            "%s: the player did not come back to the live edge: median %s s from %d s after the hold (samples %s)"
            % (what, statistics.median(after) if after else None, 8, json.dumps(list(zip(at, lat)))))


def check_rewind(t, pod, res):
    what = "LL-HLS, rewound %d s" % REWIND_S
    _, lat, at = disturbed(t, pod, res, what, "llhls-rewind", REWIND_SAMPLE_S, "PODIUM_SEEK_BACK",
                           "seekBack", REWIND_AT, REWIND_S)
    after = [x for x, s in zip(lat, at) if s >= REWIND_AT + 2]
    h.note("%s: latency from 2 s after the seek: %s" % (what, json.dumps(after)))
    h.check(len(after) >= 10 and min(after) > REWIND_S - 2,
            "%s: the player did not stay where the attendee went (latency %s)" % (what, json.dumps(after)))


def main(t):
    br.require()
    a, pa = start(t, "lowlat")
    wait_live(a, pa, "lowlat", 2)
    st, text, _ = ll.get_playlist(a, "lowlat")
    h.check("#EXT-X-PART-INF:PART-TARGET=0.2" in text, "session lowlat is not LL-HLS:\n%s" % text)
    res = {}
    # one player at a time: two Chromiums starting together on a small host
    # delay the start and hls.js (playback rate 1) never catches up
    before = a.counters(*a.HTTP_SHARE)
    measure(t, a, "lowlat", "llhls", res, SAMPLE_S)
    a.note_http_share(before, "Chromium, LL-HLS")
    ll_med = check_played(res["llhls"], "LL-HLS (fmp4, part 0.2 s, segment 1 s)")
    h.check(res["llhls"].get("source") == "/live/lowlat/index.m3u8", "source %r" % res["llhls"].get("source"))
    h.note("HLS.JS LATENCY MEDIAN: LL-HLS (fmp4, part 0.2 s, segment 1 s, SRT 120 ms; %d s) %.3f s"
           % (SAMPLE_S, ll_med))
    h.check(ll_med < LL_MEDIAN_MAX, "LL-HLS median hls.latency %.3f s, expected < %.1f s" % (ll_med, LL_MEDIAN_MAX))
    check_recovery(t, a, res)
    check_rewind(t, a, res)
    h.check(pa.poll() is None, "the publisher stopped before the end: %s" % pa.log())


if __name__ == "__main__":
    h.run(main)
