#!/usr/bin/env python3
"""Headless Chromium watches a live session (tests/browser/*.mjs, playwright-core).

- the home page (GET /) as rendered by the browser shows the session's title
  (HTML-escaped by podium, so it reads back verbatim), a LIVE mark and a
  link to /watch/<id>;
- /watch/<id> plays the live playlist through hls.js: video.currentTime
  advances by >= 3 s, window.podium.errors stays empty, window.podium.source
  is /live/<id>/index.m3u8, video and audio are decoded.
Noted, not asserted: how many of the page's connections and 2xx responses
livesend kept (it serves a connection only until its first request that is
not a live segment or playlist).
Screenshots: $E2E_ARTIFACTS or tests/e2e/artifacts/.
Needs /usr/bin/chromium and web/node_modules/playwright-core: `scripts/deps browser`."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import browser as br  # noqa: E402

SID = "keynote"
TITLE = "Opening Keynote: Q&A <live>"


def main(t):
    br.require()
    pod = t.podium({SID: {"title": TITLE, "passphrase": "keynote-secret-42"}})
    pub = pod.publish(SID, duration=25)

    def live_segments():
        pod.assert_running()
        h.check(pub.poll() is None, "publisher exited early (%s): %s" % (pub.poll(), pub.log()))
        r = pod.get("/live/%s/index.m3u8" % SID)
        return r.status == 200 and r.body.decode("utf-8", "replace").count("#EXTINF") >= 3
    h.wait_for(live_segments, 15, "3 segments in /live/%s/index.m3u8" % SID)
    h.check(pod.api(SID).get("state") == "live", "API state %r, expected live" % pod.api(SID).get("state"))

    home = br.page(t, pod, "/", "home")
    text = home.get("text") or ""
    h.check(TITLE in text, "home page text does not show the title %r:\n%s" % (TITLE, text))
    h.check("LIVE" in text, "home page does not mark the session LIVE:\n%s" % text)
    watch = [l for l in home.get("links", []) if l.get("href") == "/watch/%s" % SID]
    h.check(watch, "home page has no link to /watch/%s: %r" % (SID, home.get("links")))

    before = pod.counters(*pod.HTTP_SHARE)
    res = br.play(t, pod, "/watch/%s" % SID, "watch", min_seconds=3, timeout=30)
    pod.note_http_share(before, "Chromium")
    h.check(res.get("source") == "/live/%s/index.m3u8" % SID,
            "window.podium.source %r, expected /live/%s/index.m3u8" % (res.get("source"), SID))
    h.check(pub.poll() is None, "the publisher stopped before playback was checked: %s" % pub.log())


if __name__ == "__main__":
    h.run(main)
