#!/usr/bin/env python3
"""The conference page's lists (GET /, as the server renders them): a talk
whose slot (start, length of its format, and 30 minutes' margin) passed
without it is no longer listed as upcoming, where it would head the list for
the rest of the conference; one whose speaker is running late, still inside
that margin, is; so are later and unscheduled ones, by start time, the
unscheduled last. The missed talk's speaker can still go live, and then it
is listed under Live now. The conference's name ([server] name) is the
title and heading of the page, and ends the player's, the organizer's and
the not-found page's titles, HTML-escaped. A talk's track is named in its
item and on its player page."""
import datetime
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def at(minutes):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


SESSIONS = {
    "later": {"title": "Tomorrow's talk", "passphrase": "later-secret-1", "starts": at(24 * 60),
              "track": "Hall B & <C>"},
    "latecomer": {"title": "Speaker running late", "passphrase": "late-secret-12", "format": "lightning",
                  "starts": at(-20)},
    "missed": {"title": "Talk that never happened", "passphrase": "missed-secret-1", "format": "lightning",
               "starts": at(-180)},
    "unscheduled": {"title": "Whenever", "passphrase": "unsched-secret-1"},
}


def listed(pod, section):
    """Session ids linked in the page's <ul id=section>, in order."""
    html = pod.get("/").body.decode()
    m = re.search(r'<ul id="%s">(.*?)</ul>' % section, html, re.S)
    h.check(m, "the conference page has no <ul id=%r>:\n%s" % (section, html[:2000]))
    return re.findall(r'href="/watch/([^"]+)"', m.group(1))


NAME = 'DevConf <2026> & "Friends"'
SITE = "DevConf &lt;2026&gt; &amp; &quot;Friends&quot;"


def check_name(pod):
    """The conference's name ([server] name) heads every page, escaped."""
    html = pod.get("/").body.decode()
    h.check("<title>%s</title>" % SITE in html and "<h1>%s</h1>" % SITE in html,
            "the conference page's title and heading are not %r:\n%s" % (SITE, html[:600]))
    pages = {"/watch/later": "<title>Tomorrow&#39;s talk - %s</title>" % SITE,
             "/watch/nosuch": "<title>Not found - %s</title>" % SITE,
             "/organizer": "<title>Organizer - %s</title>" % SITE}
    for path, want in pages.items():
        got = pod.get(path, headers={"Accept": "text/html"}).body.decode()
        h.check(want in got, "%s: no %r in\n%s" % (path, want, got[:400]))
    h.check(NAME not in html, "the name is in the page unescaped")
    # parallel tracks: the talk's track is in its item and on its page
    track = '<span class="track">Hall B &amp; &lt;C&gt;</span> &middot; '
    for path in ("/", "/watch/later"):
        got = pod.get(path).body.decode()
        h.check(got.count(track) == 1, "%s does not name the track of 'later' once (%r):\n%s"
                % (path, track, got[:1500]))


def main(t):
    pod = t.podium(SESSIONS, server_ini="name = %s" % NAME)
    check_name(pod)
    up = listed(pod, "upcoming")
    h.check(up == ["latecomer", "later", "unscheduled"],
            "upcoming lists %r, expected latecomer (slot plus margin not over), later, unscheduled; "
            "not missed (its slot ended 2 h 20 min ago)" % up)
    h.check(pod.api("missed").get("state") == "scheduled", "missed: state %r" % pod.api("missed").get("state"))
    h.note("upcoming: %r" % up)

    pod.publish("missed", duration=20)
    h.wait_for(lambda: pod.api("missed").get("live"), 15, "missed live once its speaker turns up")
    h.wait_for(lambda: "missed" in listed(pod, "live"), 10, "missed under Live now")
    h.check("missed" not in listed(pod, "upcoming"), "missed listed both live and upcoming")


if __name__ == "__main__":
    h.run(main)
