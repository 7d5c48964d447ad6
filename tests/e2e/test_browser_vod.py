#!/usr/bin/env python3
"""Headless Chromium plays a published recording (tests/browser/play.mjs).

Publish ~10 s, the publisher stops; the organizer ends the session (202), the
recording is finalized, then published (POST .../publish, empty body, 202)
until state "published". /watch/<id> then plays /vod/<id>/index.m3u8 through
hls.js: video.currentTime advances by >= 3 s with no fatal player error,
video and audio decoded, and the player's duration matches the recording's.
Screenshots: $E2E_ARTIFACTS or tests/e2e/artifacts/.
Needs /usr/bin/chromium and web/node_modules/playwright-core: `scripts/deps browser`."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402
import browser as br  # noqa: E402

SID = "replay"
RECORD = 10


def main(t):
    br.require()
    pod = ru.podium(t, {SID: {"title": "Replay Talk", "passphrase": "replay-secret-77"}}, close_after=2)
    pub = pod.publish(SID, duration=RECORD)
    pub.wait_ok(RECORD + 15)
    r = ru.post(pod, SID, "end")       # 200 if close_after ended it first
    h.check(r.status in (200, 202), "POST .../end (token) -> %d, expected 202 or 200: %r"
            % (r.status, r.body[:200]))
    rec = ru.wait_finalized(pod, SID, 10)
    h.note("recording finalized: %s segments, %.3f s" % (rec.get("segments"), rec.get("duration", 0)))
    r = ru.post(pod, SID, "publish")
    h.check(r.status == 202, "POST .../publish (token, empty body) -> %d, expected 202: %r"
            % (r.status, r.body[:200]))
    j = h.wait_for(lambda: (lambda a: a if a.get("state") == "published" else None)(pod.api(SID)),
                   30, 'API state "published"', interval=0.2)
    h.check(pod.get("/vod/%s/index.m3u8" % SID).status == 200,
            "published recording playlist without token is not 200")

    res = br.play(t, pod, "/watch/%s" % SID, "watch", min_seconds=3, timeout=30)
    h.check(res.get("source") == "/vod/%s/index.m3u8" % SID,
            "window.podium.source %r, expected /vod/%s/index.m3u8" % (res.get("source"), SID))
    rec_dur = float(j.get("recording", {}).get("duration") or 0)
    dur = res.get("duration")
    h.check(isinstance(dur, (int, float)) and abs(dur - rec_dur) <= 1.5,
            "player duration %r, recording lasts %.3f s (API recording.duration)" % (dur, rec_dur))


if __name__ == "__main__":
    h.run(main)
