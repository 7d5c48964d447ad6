#!/usr/bin/env python3
"""Headless Chromium watches a live session (tests/browser/*.mjs, playwright-core).

- /watch/<id> names the speakers, the scheduled start (UTC), format and
  length under the title;
- an attendee opens /watch/<id> before the talk: the page says it has not
  started, when it starts and in how long (in the attendee's clock); the speaker then starts, and the same page, not reloaded, plays
  the live playlist through hls.js: video.currentTime advances by >= 3 s,
  window.podium.errors stays empty, window.podium.source is
  /live/<id>/index.m3u8, video and audio are decoded; the speaker's
  encoder is then killed (a dropped connection), and the page says the
  speaker's connection dropped (the picture freezes otherwise, unexplained);
  the speaker comes back and the page says Live again; the organizer then
  ends the talk, and the page says it has ended once
  played out;
- a talk past its start that has not started: its page says when it was
  due (in the attendee's time zone) and that it has not started yet;
- the home page (GET /): a second session's speaker starts after the page
  has loaded, and the same page, not reloaded, lists it with a LIVE mark,
  its title (HTML-escaped by podium, so it reads back verbatim), its start
  in the browser's time zone (Asia/Kolkata here; UTC in the HTML) and a
  link to /watch/<id>; the ended first session is not listed as LIVE;
- the player plays with sound where the browser allows it (the tests'
  Chromium), and where it does not (a desktop browser's own autoplay
  policy) plays muted and offers "Click for sound", which unmutes it.
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
LIGHTNING, LIGHTNING_TITLE = "lightning", "Five minutes on SRT: Q&A <live>"
DELAYED = "delayed"


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
                                "format": "lightning", "starts": starts.strftime("%Y-%m-%dT%H:%M:%SZ")},
                    DELAYED: {"title": "Running late", "passphrase": "delayed-secret-42", "format": "lightning",
                              "starts": (starts - datetime.timedelta(minutes=65)).strftime("%Y-%m-%dT%H:%M:%SZ")}})
    check_about(pod, starts)
    check_delayed(t, pod, starts - datetime.timedelta(minutes=65))

    # The attendee is early: the speaker starts once the page says so; once
    # the page has played, the speaker's connection drops (the encoder
    # killed: no goodbye on the wire); once the page says so the speaker
    # comes back, and once the page says it is live again the organizer
    # ends the talk
    ready, played = os.path.join(t.tmp, "page-waiting"), os.path.join(t.tmp, "page-played")
    pub, dropped, ended = [], [], []

    def speaker_starts_drops_and_ends():
        if not pub and os.path.exists(ready):
            h.check(pod.api(SID).get("state") == "scheduled", "API state %r before the speaker, expected "
                    "scheduled" % pod.api(SID).get("state"))
            pub.append(pod.publish(SID, duration=40))
        step = open(played).read() if os.path.exists(played) else None
        if pub and not dropped and step == "0":
            pub[0].kill()
            dropped.append(True)
        if len(pub) == 1 and step == "1":
            pub.append(pod.publish(SID, duration=40))
        if pub and not ended and step == "2":
            r = pod.request("POST", "/api/v1/sessions/%s/end" % SID, headers=pod.admin_auth())
            h.check(r.status == 202, "POST end of the live talk -> %d, expected 202" % r.status)
            ended.append(True)
    before = pod.counters(*pod.HTTP_SHARE)
    res = br.play(t, pod, "/watch/%s" % SID, "watch", min_seconds=3, timeout=60,
                  wait_status=(ready, "Not started yet"),
                  after_play=(played, "connection dropped", "Live", "The talk has ended"),
                  tick=speaker_starts_drops_and_ends)
    pod.note_http_share(before, "Chromium")
    h.check(pub, "the page never said the talk had not started, so no speaker was started")
    # the start (an hour away) and how long until then, in the attendee's clock
    local = starts.strftime("%I:%M %p")
    h.check(re.match(r"Not started yet, starts at %s \(in (59 min|1 h)\): the player starts by itself"
                     % re.escape(local), res.get("waitedStatus") or ""),
            "before the talk the page said %r, expected when it starts (%s, in an hour)"
            % (res.get("waitedStatus"), local))
    h.note("the page said %r before the speaker started, then %r" % (res.get("waitedStatus"),
                                                                    res.get("afterStatuses")))
    h.check(res.get("source") == "/live/%s/index.m3u8" % SID,
            "window.podium.source %r, expected /live/%s/index.m3u8" % (res.get("source"), SID))
    h.check(dropped and "speaker's connection dropped" in ((res.get("afterStatuses") or [""])[0]),
            "after the speaker's encoder was killed the page said %r" % res.get("afterStatuses"))
    h.check(ended and "The talk has ended" in (res.get("afterStatus") or ""),
            "after the end the page said %r" % res.get("afterStatus"))
    h.check(len(pub) == 2 and (res.get("afterStatuses") or [""] * 2)[1] == "Live",
            "after the speaker came back the page said %r" % res.get("afterStatuses"))
    pub[-1].wait(15)

    # the lobby: the page is open when the next speaker starts
    loaded = os.path.join(t.tmp, "home-loaded")
    second = []

    def second_speaker():
        if not second and os.path.exists(loaded):
            # on air until the test ends: under load the sound check's
            # browser starts long after the home page saw the talk live
            second.append(pod.publish(LIGHTNING, duration=90))
    home = br.page(t, pod, "/", "home", timeout=40, loaded_file=loaded, tick=second_speaker,
                   wait_text="LIVE " + LIGHTNING_TITLE, tz="Asia/Kolkata")
    h.check(second, "the home page never loaded, so the second speaker was not started")
    text = home.get("text") or ""
    # an attendee in India sees the start in their own time (the page's
    # HTML says it in UTC), also in the list the page redrew
    local = (starts + datetime.timedelta(hours=5, minutes=30)).strftime("%I:%M %p")
    item = [l for l in text.splitlines() if LIGHTNING_TITLE in l]
    h.check(item and local in item[0] and "GMT+5:30" in item[0] and "UTC" not in item[0],
            "the home page shows %r for %s, expected its start in Asia/Kolkata time (%s GMT+5:30)"
            % (item, LIGHTNING, local))
    h.check("LIVE " + TITLE not in text, "home page lists the ended %s as LIVE:\n%s" % (SID, text))
    watch = [l for l in home.get("links", []) if l.get("href") == "/watch/%s" % LIGHTNING]
    h.check(watch, "home page has no link to /watch/%s: %r" % (LIGHTNING, home.get("links")))
    check_sound(t, pod)


def check_sound(t, pod):
    """A desktop browser lets a page play with sound only once it has been
    used: the player then plays muted, and offers the sound (a click waits
    for the button to show), which the attendee's click turns on. The
    click waits until the player has asked for the playlist: it has tried to
    play by then, before anything playwright does counts as the user's gesture.
    Under load the player can take 15 s to start, so a minute for it all."""
    res = br.page(t, pod, "/watch/" + LIGHTNING, "watch-sound", click="#sound", timeout=60,
                  autoplay="document-user-activation-required",
                  after_request="/live/%s/index.m3u8" % LIGHTNING)
    v = res.get("video") or {}
    h.check(v.get("muted") is False and v.get("paused") is False,
            "after the click on 'Click for sound' the video is %r, expected playing unmuted" % v)
    h.check("Click for sound" not in (res.get("text") or ""), "the sound button stays after the click")
    h.note("with the desktop autoplay policy: muted, then %r after the click" % v)


def check_delayed(t, pod, due):
    """A talk past its start that has not started says so, with the time it
    was due (in the attendee's time zone), rather than a plain "not started
    yet" that leaves attendees blaming their own connection."""
    local = (due + datetime.timedelta(hours=5, minutes=30)).strftime("%I:%M %p")
    res = br.page(t, pod, "/watch/" + DELAYED, "watch-delayed", tz="Asia/Kolkata", wait_text="was due to start")
    line = [l for l in (res.get("text") or "").splitlines() if "was due to start" in l]
    h.check(line and ("at %s and has not started yet" % local) in line[0],
            "the page of a talk 5 minutes late says %r, expected it was due at %s (Asia/Kolkata)" % (line, local))
    h.note("a late talk's page says: %s" % line[0])


if __name__ == "__main__":
    h.run(main)
