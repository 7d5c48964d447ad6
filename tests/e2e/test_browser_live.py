#!/usr/bin/env python3
"""Headless Chromium watches a live session (tests/browser/*.mjs, playwright-core).

- /watch/<id> names the speakers, the scheduled start (UTC), format and
  length under the title;
- an attendee opens /watch/<id> before the talk: the page says it has not
  started; the speaker then starts, and the same page, not reloaded, plays
  the live playlist through hls.js: video.currentTime advances by >= 3 s,
  window.podium.errors stays empty, window.podium.source is
  /live/<id>/index.m3u8, video and audio are decoded;
- the home page (GET /) as rendered by the browser shows the session's title
  (HTML-escaped by podium, so it reads back verbatim), a LIVE mark and a
  link to /watch/<id>; a second session's speaker starts after the page has
  loaded, and the same page, not reloaded, lists that one as LIVE too.
Noted, not asserted: how many of the page's connections and 2xx responses
livesend kept (it serves a connection only until its first request that is
not a live segment or playlist).
Screenshots: $E2E_ARTIFACTS or tests/e2e/artifacts/.
Needs /usr/bin/chromium and web/node_modules/playwright-core: `scripts/deps browser`."""
import datetime
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import browser as br  # noqa: E402

SID = "keynote"
TITLE = "Opening Keynote: Q&A <live>"
SPEAKERS = "Ada Lovelace, Alan Turing"
LIGHTNING, LIGHTNING_TITLE = "lightning", "Five minutes on SRT"


def check_about(pod, starts):
    r = pod.get("/watch/%s" % SID)
    m = re.search(r'<p id="about">(.*?)</p>', r.body.decode())
    about = re.sub(r"<[^>]+>", "", m.group(1)).replace("&middot;", "-") if m else None
    want = [SPEAKERS, starts.strftime("%a %d %b %H:%M UTC"), "presentation, 40 min"]
    h.check(about and all(w in about for w in want),
            "/watch/%s says %r under the title, expected %r" % (SID, about, want))


def main(t):
    br.require()
    # in an hour: scheduled, and the (open) ingest window lets the speaker in now
    starts = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0) \
        + datetime.timedelta(hours=1)
    pod = t.podium({SID: {"title": TITLE, "passphrase": "keynote-secret-42", "speakers": SPEAKERS,
                          "format": "presentation", "starts": starts.strftime("%Y-%m-%dT%H:%M:%SZ")},
                    LIGHTNING: {"title": LIGHTNING_TITLE, "passphrase": "lightning-secret-42",
                                "format": "lightning"}})
    check_about(pod, starts)

    # The attendee is early: the speaker starts once the page says so
    ready = os.path.join(t.tmp, "page-waiting")
    pub = []

    def speaker_starts():
        if not pub and os.path.exists(ready):
            h.check(pod.api(SID).get("state") == "scheduled", "API state %r before the speaker, expected "
                    "scheduled" % pod.api(SID).get("state"))
            pub.append(pod.publish(SID, duration=25))
    before = pod.counters(*pod.HTTP_SHARE)
    res = br.play(t, pod, "/watch/%s" % SID, "watch", min_seconds=3, timeout=45,
                  wait_status=(ready, "Not started yet"), tick=speaker_starts)
    pod.note_http_share(before, "Chromium")
    h.check(pub, "the page never said the talk had not started, so no speaker was started")
    h.note("the page said %r before the speaker started" % res.get("waitedStatus"))
    h.check(res.get("source") == "/live/%s/index.m3u8" % SID,
            "window.podium.source %r, expected /live/%s/index.m3u8" % (res.get("source"), SID))
    pub = pub[0]
    h.check(pod.api(SID).get("state") == "live", "API state %r, expected live" % pod.api(SID).get("state"))

    # the lobby: the page is open when the next speaker starts
    loaded = os.path.join(t.tmp, "home-loaded")
    second = []

    def second_speaker():
        if not second and os.path.exists(loaded):
            second.append(pod.publish(LIGHTNING, duration=20))
    home = br.page(t, pod, "/", "home", timeout=40, loaded_file=loaded, tick=second_speaker,
                   wait_text="LIVE " + LIGHTNING_TITLE)
    h.check(second, "the home page never loaded, so the second speaker was not started")
    text = home.get("text") or ""
    h.check(TITLE in text, "home page text does not show the title %r:\n%s" % (TITLE, text))
    h.check("LIVE" in text, "home page does not mark the session LIVE:\n%s" % text)
    watch = [l for l in home.get("links", []) if l.get("href") == "/watch/%s" % SID]
    h.check(watch, "home page has no link to /watch/%s: %r" % (SID, home.get("links")))
    h.check(pub.poll() is None, "the publisher stopped before playback was checked: %s" % pub.log())


if __name__ == "__main__":
    h.run(main)
