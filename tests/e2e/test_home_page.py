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
item and on its player page, linking /?track=<track>: that track's
programme alone, named, with a link back to all. /schedule.ics gives the programme for an
attendee's calendar (RFC 5545: CRLF, lines folded at 75 octets, text
escaped, the player's URL from the Host asked), ?session= one talk; the
conference page links it, and the player page of a scheduled talk its
entry. A shared link to a talk previews it (Open Graph: title, the
conference's name, speakers, start in UTC, track, format), and one to
the conference page its name."""
import datetime
import html.parser as html_parser
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def at(minutes):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# 61 characters: after "DESCRIPTION:" the next one starts at octet 73
SPK = "Professor Ada Lovelace of the Analytical Engine Society of Ox"
SESSIONS = {
    "later": {"title": "Tomorrow's talk", "passphrase": "later-secret-1", "starts": at(24 * 60),
              # a three-byte character where the 75-octet fold falls
              "track": "Hall B & <C>", "speakers": SPK + "€ Zoë, Łukasz Żółć"},
    "latecomer": {"title": "Speaker running late, again; sorry", "passphrase": "late-secret-12",
                  "format": "lightning", "starts": at(-20), "speakers": "Ada Lovelace"},
    "missed": {"title": "Talk that never happened", "passphrase": "missed-secret-1", "format": "lightning",
               "starts": at(-180)},
    "unscheduled": {"title": "Whenever", "passphrase": "unsched-secret-1"},
}


def listed_in(html, section):
    """Session ids linked in the page's <ul id=section>, in order."""
    m = re.search(r'<ul id="%s">(.*?)</ul>' % section, html, re.S)
    h.check(m, "the conference page has no <ul id=%r>:\n%s" % (section, html[:2000]))
    return re.findall(r'href="/watch/([^"]+)"', m.group(1))


def listed(pod, section):
    return listed_in(pod.get("/").body.decode(), section)


NAME = 'DevConf <2026> & "Friends"'
SITE = "DevConf &lt;2026&gt; &amp; &quot;Friends&quot;"


class Metas(html_parser.HTMLParser):
    """The <meta property|name=... content=...> of a page, unescaped."""

    def __init__(self, text):
        super().__init__()
        self.found = {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and "content" in a:
            for key in ("property", "name"):
                if key in a:
                    self.found[a[key]] = a["content"]


def check_preview(pod):
    """A shared link shows a preview card: Open Graph tags with the talk's
    title, the conference's name, and speakers, start, track and format."""
    m = Metas(pod.get("/watch/later").body.decode()).found
    s = SESSIONS["later"]
    when = datetime.datetime.strptime(s["starts"], "%Y-%m-%dT%H:%M:%SZ").strftime("%a %d %b %Y %H:%M UTC")
    want = {"og:type": "video.other", "og:title": s["title"], "og:site_name": NAME,
            "og:description": "%s \u00b7 %s \u00b7 %s \u00b7 presentation, 40 min" % (s["speakers"], when, s["track"])}
    for k, v in want.items():
        h.check(m.get(k) == v, "/watch/later %s: %r, expected %r" % (k, m.get(k), v))
    h.check(m.get("description") == want["og:description"], "/watch/later description %r" % m.get("description"))
    m = Metas(pod.get("/").body.decode()).found
    h.check(m.get("og:title") == NAME and m.get("og:type") == "website",
            "the conference page's preview: %r" % m)


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
    track = '<a class="track" href="/?track=Hall%20B%20%26%20%3CC%3E">Hall B &amp; &lt;C&gt;</a> &middot; '
    for path in ("/", "/watch/later"):
        got = pod.get(path).body.decode()
        h.check(got.count(track) == 1, "%s does not name the track of 'later' once (%r):\n%s"
                % (path, track, got[:1500]))
    # the link: that track's programme alone, saying so, with the way back
    html = pod.get("/?track=Hall%20B%20%26%20%3CC%3E").body.decode()
    h.check(listed_in(html, "upcoming") == ["later"] and not listed_in(html, "live")
            and 'Track: <strong>Hall B &amp; &lt;C&gt;</strong> &middot; <a href="/">all tracks</a>' in html,
            "the page of the track 'Hall B & <C>' lists %r, expected only 'later', named, with a link to all:\n%s"
            % (listed_in(html, "upcoming"), html[:1500]))
    html = pod.get("/?track=Nowhere").body.decode()
    h.check(listed_in(html, "upcoming") == [] and "Nothing scheduled." in html,
            "a track without talks lists %r" % listed_in(html, "upcoming"))


def unfold(body):
    """The content lines of an iCalendar text (RFC 5545 3.1), checking its
    line ends and the 75-octet limit on the way."""
    raw = body.split(b"\r\n")
    h.check(raw[-1] == b"" and not any(b"\n" in l or b"\r" in l for l in raw),
            "the calendar's lines do not all end in CRLF: %r" % body[:300])
    h.check(all(len(l) <= 75 for l in raw), "calendar lines over 75 octets: %r"
            % [l for l in raw if len(l) > 75][:2])
    lines = []
    for l in raw[:-1]:
        if l.startswith(b" "):
            lines[-1] += l[1:]
        else:
            lines.append(l)
    return [l.decode("utf-8") for l in lines]


def events(lines):
    out, cur = [], None
    for l in lines:
        if l == "BEGIN:VEVENT":
            cur = {}
        elif l == "END:VEVENT":
            out.append(cur)
            cur = None
        elif cur is not None:
            k, _, v = l.partition(":")
            cur[k] = v
    return out


def check_calendar(pod):
    """GET /schedule.ics: the programme for an attendee's calendar, each
    talk with a start once, escaped; ?session= one talk; the pages link it."""
    r = pod.get("/schedule.ics", headers={"Host": "conf.example:8443", "X-Forwarded-Proto": "https"})
    h.check(r.status == 200 and (r.header("Content-Type") or "").startswith("text/calendar"),
            "/schedule.ics -> %d %r" % (r.status, r.header("Content-Type")))
    lines = unfold(r.body)
    h.check(lines[:2] == ["BEGIN:VCALENDAR", "VERSION:2.0"] and lines[-1] == "END:VCALENDAR"
            and "X-WR-CALNAME:DevConf <2026> & \"Friends\"" in lines, "calendar frame: %r" % lines[:8])
    ev = {e.get("UID", "").split("@")[0]: e for e in events(lines)}
    want = sorted(sid for sid, s in SESSIONS.items() if "starts" in s)
    h.check(sorted(ev) == want, "calendar events for %r, expected the sessions with a start %r" % (sorted(ev), want))
    later = ev.get("later", {})
    starts = SESSIONS["later"]["starts"].replace("-", "").replace(":", "")
    h.check(later.get("DESCRIPTION", "").startswith("%s€ Zoë\\, Łukasz Żółć\\n" % SPK),
            "the speakers (a three-byte character at the 75-octet fold) read back %r" % later.get("DESCRIPTION"))
    h.check(later.get("DTSTART") == starts and later.get("DURATION") == "PT40M"
            and later.get("SUMMARY") == "Tomorrow's talk" and later.get("LOCATION") == "Hall B & <C>"
            and later.get("URL") == "https://conf.example:8443/watch/later"
            and later.get("UID") == "later@conf.example:8443" and "DTSTAMP" in later,
            "the event of 'later': %r" % later)
    late = ev.get("latecomer", {})
    h.check(late.get("DURATION") == "PT10M" and late.get("SUMMARY") == "Speaker running late\\, again\\; sorry"
            and "\\nlightning\\nWatch: https://conf.example:8443/watch/latecomer" in late.get("DESCRIPTION", ""),
            "the event of 'latecomer' (a lightning talk; its title's comma and semicolon escaped): %r" % late)
    one = events(unfold(pod.get("/schedule.ics?session=later").body))
    h.check([e.get("UID", "").split("@")[0] for e in one] == ["later"], "?session=later gave %r" % one)
    h.check(pod.get("/schedule.ics?session=nosuch").status == 404, "?session=nosuch is not 404")
    h.check('href="/schedule.ics"' in pod.get("/").body.decode(), "the conference page does not link the calendar")
    h.check('href="/schedule.ics?session=later"' in pod.get("/watch/later").body.decode(),
            "the player page of a scheduled talk does not link its calendar entry")
    h.check("schedule.ics" not in pod.get("/watch/unscheduled").body.decode(),
            "the player page of an unscheduled talk links a calendar entry")


def main(t):
    pod = t.podium(SESSIONS, server_ini="name = %s" % NAME)
    check_name(pod)
    check_preview(pod)
    check_calendar(pod)
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
