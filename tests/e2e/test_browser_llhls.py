#!/usr/bin/env python3
"""Headless Chromium plays an LL-HLS session and stays close to the live edge.

Podium A: [hls] format = fmp4, part_duration = 0.2, segment_duration = 1
(SRT latency 120 ms). /watch/<id> (hls.js, lowLatencyMode: true) must play
>= 3 s without player error, decoding video and audio; then hls.js's
`window.podium.hls.latency` is sampled every 500 ms for 20 s
(tests/browser/play.mjs with PODIUM_SAMPLE_LATENCY): median < 1.5 s.
Podium B: the same measurement on a plain TS session (format = ts,
segment_duration = 1), reported for comparison, not asserted. Both players
run at the same time (keeps the test under a minute)."""
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
LL_MEDIAN_MAX = 1.5


def start(t, fmt, sid, part):
    pod = ll.llhls_podium(t, {sid: {"title": sid, "passphrase": "browser-ll-secret"}}, fmt=fmt,
                          part_duration=part, segment_duration=1, latency_ms=120)
    pub = pod.publish(sid, duration=60, gop=30)
    return pod, pub


def wait_live(pod, pub, sid, n):
    def ready():
        pod.assert_running()
        h.check(pub.poll() is None, "publisher exited early (%s): %s" % (pub.poll(), pub.log()))
        r = pod.get("/live/%s/index.m3u8" % sid)
        return r.status == 200 and r.body.decode("utf-8", "replace").count("#EXTINF") >= n
    h.wait_for(ready, 15, "%d segments in /live/%s/index.m3u8" % (n, sid))


def measure(t, pod, sid, what, out):
    shot = br.shot_path(t, what)
    timeout = h.scaled(30)
    res = br.run_node("play.mjs", [pod.url("/watch/%s" % sid), shot, 3, timeout], timeout + SAMPLE_S + 30,
                      "play.mjs /watch/%s (%s)" % (sid, what), tmpdir=t.tmp,
                      env={"PODIUM_SAMPLE_LATENCY": str(SAMPLE_S)})
    out[what] = res


def check_played(res, what):
    h.check(res.get("ok") and res["_rc"] == 0, "%s: the player did not play and sample without error: %s\n%s"
            % (what, res.get("error"), br.summary(res)))
    h.check(res.get("errors") == [], "%s: window.podium.errors %r" % (what, res.get("errors")))
    h.check(res.get("hlsUsed"), "%s: the page did not use hls.js" % what)
    h.check((res.get("videoBytes") or 0) > 0 and (res.get("audioBytes") or 0) > 0,
            "%s: video/audio not decoded: %s" % (what, br.summary(res)))
    lat = res.get("latency") or []
    h.check(len(lat) >= SAMPLE_S, "%s: only %d hls.latency samples in %d s" % (what, len(lat), SAMPLE_S))
    med = statistics.median(lat)
    tl = res.get("targetLatency") or [None]
    h.note("%s: played %.1f s + %.1f s while sampling (%d stalled samples), codecs %s, warnings %r"
           % (what, res.get("advanced", 0), res.get("latencyPlayed") or 0, res.get("latencyStalls", 0),
              res.get("codecs"), res.get("warnings")))
    h.note("%s: hls.latency n=%d min %.3f median %.3f max %.3f s; hls.targetLatency median %s; samples %s"
           % (what, len(lat), min(lat), med, max(lat),
              statistics.median([x for x in tl if x is not None]) if tl != [None] else None,
              json.dumps(lat)))
    return med


def main(t):
    br.require()
    a, pa = start(t, "fmp4", "lowlat", 0.2)
    b, pb = start(t, "ts", "classic", 0)
    wait_live(a, pa, "lowlat", 2)
    wait_live(b, pb, "classic", 2)
    st, text, _ = ll.get_playlist(a, "lowlat")
    h.check("#EXT-X-PART-INF:PART-TARGET=0.2" in text, "session lowlat is not LL-HLS:\n%s" % text)
    st, text, _ = ll.get_playlist(b, "classic")
    h.check("#EXT-X-PART" not in text and ".ts" in text, "session classic is not plain TS HLS:\n%s" % text)
    res = {}
    h.parallel(lambda: measure(t, a, "lowlat", "llhls", res),
               lambda: measure(t, b, "classic", "ts", res))
    ll_med = check_played(res["llhls"], "LL-HLS (fmp4, part 0.2 s, segment 1 s)")
    ts_med = check_played(res["ts"], "TS HLS (segment 1 s)")
    h.check(res["llhls"].get("source") == "/live/lowlat/index.m3u8", "source %r" % res["llhls"].get("source"))
    h.note("HLS.JS LATENCY MEDIANS over %d s: LL-HLS (fmp4, part 0.2 s, segment 1 s, SRT 120 ms) %.3f s; "
           "TS (segment 1 s) %.3f s" % (SAMPLE_S, ll_med, ts_med))
    h.check(ll_med < LL_MEDIAN_MAX, "LL-HLS median hls.latency %.3f s, expected < %.1f s" % (ll_med, LL_MEDIAN_MAX))
    for p in (pa, pb):
        h.check(p.poll() is None, "a publisher stopped before the end: %s" % p.log())


if __name__ == "__main__":
    h.run(main)
