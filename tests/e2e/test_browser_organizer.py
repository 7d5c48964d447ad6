#!/usr/bin/env python3
"""The organizer page (/organizer) in Chromium, while a speaker is live.
Without the admin token it lists the session but not the speaker's address
(the API hides it from attendees): the publisher cell says since when one is
connected (never "undefined"), and the page asks for the token. A wrong
token is named as such (the API answers it with the attendees' view, and
the session list says "organizer": false). Once the organizer types the
token, the next refresh shows the publisher's address with its port, as the
organizer API reports it, and no token message.
Then the organizer ends the talk from the page: its end button outlives the
page's redraws (every 2 s; a button replaced between press and release
loses the click), it asks first, and "no" leaves the talk live; "yes" ends
it. Then publishes it trimmed from the page: "0:01" to "0:04" typed (kept through the page's redraw every 2 s, which
used to wipe them), publish clicked: the API gets start 1, end 4 (the page
read such times as 0 and 0 s before, parseFloat("0:04")) and the export is
done; "1:75" is refused on the page with a message, nothing sent.
Then creates a session from the page's form, in an organizer's time zone
(Europe/Berlin: 15:30 typed is 14:30Z in the API), with the passphrase the
page filled in; the page shows the speaker URL once, and ffmpeg publishing
to exactly that URL gets the session live. Deleting it from the page asks
first, and the session is gone (404) and its publisher disconnected.
Before that, the page edits it (check_edit): the form filled with its
values, the title and speakers changed and the start kept, then
rescheduled with a new passphrase; the connected speaker stays live.
When Podium stops while the page is open, the page says it cannot reach
it (the table would otherwise freeze, passing for the live state).
Each row offers only what its state allows: end while live, publish once
the recording is finalized, unpublish once published, delete for API
sessions (not config ones). With the token the page says how much space
is left for recordings, and a published recording's row links its MP4;
the publisher cell says what the speaker sends (codecs, size, frame rate,
keyframe interval). Rows go live, upcoming, to publish, published."""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import browser as br  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "keynote"
TITLE = "Opening keynote"
NEW = "panel2"


def main(t):
    br.require()
    pod = t.podium({SID: {"title": TITLE, "passphrase": "keynote-secret-42"}})
    pub = pod.publish(SID, duration=90)     # the organizer ends it before that
    j = h.wait_for(lambda: (lambda a: a if a.get("live") else None)(pod.api(SID, organizer=True)),
                   15, "session %s live" % SID)
    addr = (j.get("publisher") or {}).get("address") or ""
    h.check(addr.startswith("127.0.0.1:"), "organizer API publisher.address %r" % addr)

    listed = pod.get("/api/v1/sessions").json()
    h.check(listed.get("organizer") is False, "session list without token: organizer %r, expected false"
            % listed.get("organizer"))
    listed = pod.get("/api/v1/sessions", headers=pod.admin_auth()).json()
    h.check(listed.get("organizer") is True, "session list with the admin token: organizer %r, expected "
            "true" % listed.get("organizer"))

    # the publisher cell: since when, then what the speaker sends (its
    # keyframe interval is known from the second keyframe on)
    anon = br.page(t, pod, "/organizer", "organizer-no-token", wait_text="keyframe every")
    text = anon.get("text") or ""
    h.check("connected since" in text, "the publisher cell does not say since when:\n%s" % text)
    h.check("h264 640x360 30 fps, keyframe every 1.0 s" in text and "aac 48 kHz mono" in text,
            "the page does not say what the speaker sends (h264 640x360 30 fps, keyframe every 1.0 s; "
            "aac 48 kHz mono):\n%s" % text)
    h.check(addr not in text,
            "the organizer page shows the publisher address %s without the admin token:\n%s" % (addr, text))
    h.check("undefined" not in text, "the organizer page shows 'undefined':\n%s" % text)
    h.check("Type the admin token" in text, "the page without a token does not ask for it:\n%s" % text)

    wrong = br.page(t, pod, "/organizer", "organizer-wrong-token", fill=("#tok", "not-the-admin-token"),
                    wait_text="Wrong admin token")
    h.check(addr not in (wrong.get("text") or ""), "a wrong token showed the publisher address")

    token = pod.admin_auth()["Authorization"].split(" ", 1)[1]
    org = br.page(t, pod, "/organizer", "organizer", fill=("#tok", token), wait_text=addr)
    text = org.get("text") or ""
    h.check(SID in text and "live" in text, "the organizer page does not list %s as live:\n%s" % (SID, text))
    h.check(token not in text, "the page prints the admin token")
    h.check("admin token:" not in text and "Type the admin token" not in text,
            "with the right token the page still has a token message:\n%s" % text)
    h.check(pub.poll() is None, "the publisher stopped before the page was checked")
    disk = [l for l in text.splitlines() if l.startswith("Recording space: ")]
    h.check(disk and " GiB free of " in disk[0] and os.path.join(pod.data_dir, "recordings") in disk[0],
            "the page does not say the space left for recordings:\n%s" % text)
    h.note("the page says: %s" % disk[0])
    check_buttons(org, {"x-" + SID}, {"p-" + SID, "u-" + SID, "d-" + SID}, "live config session")

    # end the talk from the page: a confirm() first, and "no" ends nothing.
    # The page redraws every 2 s: its end button must outlive that (a click
    # on a button replaced between press and release is lost)
    no = br.page(t, pod, "/organizer", "organizer-end-no", fill=("#tok", token), click="#x-" + SID,
                 stable="#x-" + SID)
    h.check(no.get("stable") is True, "the end button of the live talk was replaced by a redraw: %r"
            % no.get("stable"))
    h.check(any(SID in d for d in no.get("dialogs", [])), "end asked no confirmation: %r" % no.get("dialogs"))
    h.check(pod.api(SID).get("live"), "the talk ended although the organizer answered no")
    br.page(t, pod, "/organizer", "organizer-end", fill=("#tok", token), click="#x-" + SID,
            dialog="accept", wait_text="end: ok")
    ru.wait_finalized(pod, SID, 15)
    bad = br.page(t, pod, "/organizer", "organizer-bad-trim",
                  fill=[("#tok", token), ("#s-" + SID, "1:75")], click="#p-" + SID,
                  wait_text="write times as seconds")
    h.check(ru.rec_json(pod, SID).get("export", {}).get("state") == "idle",
            "a trim the page refused reached the API: %r" % ru.rec_json(pod, SID).get("export"))
    h.note("the page refused '1:75': %s" % [l for l in (bad.get("text") or "").splitlines() if "publish" in l])
    br.page(t, pod, "/organizer", "organizer-publish",
            fill=[("#tok", token), ("#s-" + SID, "0:01"), ("#e-" + SID, "0:04")], click="#p-" + SID,
            wait_text="publish: ok")
    # the recording is made public once its export is done (README), a
    # moment later: wait for both
    x = ru.wait_rec(pod, SID, lambda r: r.get("export", {}).get("state") == "done" and r.get("published") is True,
                    20, "the export the page asked for, and the recording published")["export"]
    h.check((x.get("start"), x.get("end")) == (1.0, 4.0),
            "the page published %r-%r, expected the 0:01-0:04 typed, i.e. 1-4 s" % (x.get("start"), x.get("end")))
    check_new_session(t, pod, token)
    check_server_gone(t, pod)


def check_edit(t, pod, token):
    """Edit a session from the page: edit fills the form with its values
    (the start in the organizer's time zone: saved untouched, it stays
    14:30Z), save sends them; an empty passphrase keeps the speaker's. Then
    reschedule it an hour later with a new passphrase: the page gives the
    new URL, and the row the new start, in the organizer's time."""
    def api_fields():
        j = pod.get("/api/v1/sessions/" + NEW).json()
        return {k: j.get(k) for k in ("title", "speakers", "format", "starts")}
    moved = "Tooling panel (moved)"
    ed = br.page(t, pod, "/organizer", "organizer-edit", tz="Europe/Berlin", fill=("#tok", token),
                 click="#ed-" + NEW, then=[("fill", "#n-title", moved), ("fill", "#n-speakers", "Grace Hopper"),
                                           ("click", "#n-create")], wait_text="Saved " + NEW)
    want = {"title": moved, "speakers": ["Grace Hopper"], "format": "presentation",
            "starts": "2026-12-24T14:30:00Z"}
    h.check(api_fields() == want, "after the page's edit %s is %r, expected %r" % (NEW, api_fields(), want))
    h.check("Dec 24, 03:30 PM" in (ed.get("text") or ""),
            "the row does not show the start in the organizer's time (Thu, Dec 24, 03:30 PM):\n%s"
            % ed.get("text"))
    h.check("Send its speaker" not in (ed.get("text") or ""),
            "an edit that kept the passphrase offered a new speaker URL:\n%s" % ed.get("text"))
    ed = br.page(t, pod, "/organizer", "organizer-reschedule", tz="Europe/Berlin", fill=("#tok", token),
                 click="#ed-" + NEW, then=[("fill", "#n-starts", "2026-12-24T16:30"),
                                           ("fill", "#n-pass", "a-new-passphrase-1"), ("click", "#n-create")],
                 wait_text="04:30 PM")      # the row, in the organizer's time, once redrawn
    h.check("Saved " + NEW in (ed.get("text") or ""), "no 'Saved %s' after the reschedule:\n%s"
            % (NEW, ed.get("text")))
    want["starts"] = "2026-12-24T15:30:00Z"
    h.check(api_fields() == want, "rescheduled from the page, %s is %r, expected %r (16:30 in Berlin)"
            % (NEW, api_fields(), want))
    h.check("passphrase=a-new-passphrase-1" in (ed.get("text") or ""),
            "a new passphrase saved, but the page gave no URL with it:\n%s" % ed.get("text"))
    h.note("edited from the page: %r" % api_fields())


def check_server_gone(t, pod):
    """Podium stops while the page is open: the page says it cannot reach
    it, rather than showing the last state as if it were live."""
    loaded = os.path.join(t.tmp, "organizer-loaded")
    stopped = []

    def stop_podium():
        if not stopped and os.path.exists(loaded):
            stopped.append(True)
            pod.stop()
    res = br.page(t, pod, "/organizer", "organizer-gone", loaded_file=loaded, tick=stop_podium,
                  wait_text="Cannot reach Podium")
    h.check(stopped, "the page never loaded, so Podium was not stopped")
    h.note("with Podium stopped the page says: %r"
           % [l for l in (res.get("text") or "").splitlines() if "Cannot reach" in l])


def check_buttons(res, present, absent, what):
    """The page offers only the actions the state allows (end while live,
    publish once finalized, unpublish once published, delete for API
    sessions)."""
    got = set(res.get("buttons") or [])
    h.check(present <= got and not (absent & got), "%s: buttons %s, expected %s and none of %s"
            % (what, sorted(got), sorted(present), sorted(absent)))


def check_new_session(t, pod, token):
    """Create a session from the page, stream to it with the URL the page
    gives, delete it from the page."""
    made = br.page(t, pod, "/organizer", "organizer-create", tz="Europe/Berlin",
                   fill=[("#tok", token), ("#n-id", NEW), ("#n-title", "Tooling panel"),
                         ("#n-speakers", "Ada Lovelace, Alan Turing"), ("#n-starts", "2026-12-24T15:30")],
                   click="#n-create", wait_text="Tooling panel")    # its row, drawn after
    h.check("Send its speaker" in (made.get("text") or ""), "no speaker URL after create:\n%s" % made.get("text"))
    # rows by state: the upcoming panel2 before the published keynote,
    # though created after it
    rows = [l.get("href") for l in made.get("links", []) if l.get("href", "").startswith("/watch/")]
    h.check(rows == ["/watch/" + NEW, "/watch/" + SID], "rows in the order %r, expected the upcoming %s "
            "before the published %s" % (rows, NEW, SID))
    check_buttons(made, {"p-" + SID, "u-" + SID, "d-" + NEW, "ed-" + NEW},
                  {"x-" + SID, "d-" + SID, "ed-" + SID, "x-" + NEW, "p-" + NEW},
                  "published config session and scheduled API session")
    mp4 = "/vod/%s/%s.mp4" % (SID, SID)
    h.check(any(l.get("href") == mp4 for l in made.get("links", [])),
            "no link to the published MP4 %s: %r" % (mp4, made.get("links")))
    r = pod.get(mp4)
    h.check(r.status == 200 and r.header("Content-Type") == "video/mp4",
            "the page's MP4 link: %d %s" % (r.status, r.header("Content-Type")))
    j = pod.get("/api/v1/sessions/" + NEW).json()
    got = {k: j.get(k) for k in ("title", "speakers", "format", "starts", "source")}
    want = {"title": "Tooling panel", "speakers": ["Ada Lovelace", "Alan Turing"], "format": "presentation",
            "starts": "2026-12-24T14:30:00Z", "source": "api"}
    h.check(got == want, "the session the page created: %r, expected %r (15:30 typed in Berlin is 14:30 UTC)"
            % (got, want))
    m = re.search(r"Send its speaker this URL [^:]*: (srt://\S+)", made.get("text") or "")
    url = m.group(1) if m else ""
    prefix = "srt://127.0.0.1:%d?streamid=#!::r=%s,m=publish&passphrase=" % (pod.srt_port, NEW)
    h.check(url.startswith(prefix) and len(url) > len(prefix) + 10,
            "the page gave the speaker URL %r, expected %s<passphrase>..." % (url, prefix))
    pub = t.publisher(url, duration=30, label=NEW)
    h.wait_for(lambda: pod.get("/api/v1/sessions/" + NEW).json().get("live"), 15,
               "%s live with the URL the page gave" % NEW)
    h.note("the speaker URL the page gave got %s live: %s" % (NEW, url.split("passphrase=")[0] + "passphrase=..."))

    check_edit(t, pod, token)
    h.check(pub.poll() is None, "the publisher of %s stopped when the session was edited" % NEW)

    gone = br.page(t, pod, "/organizer", "organizer-delete", fill=("#tok", token), click="#d-" + NEW,
                   dialog="accept", wait_text="delete: ok")
    h.check(any(NEW in d for d in gone.get("dialogs", [])), "delete asked no confirmation: %r" % gone.get("dialogs"))
    h.check(pod.get("/api/v1/sessions/" + NEW).status == 404, "%s still listed after delete: ok" % NEW)
    h.wait_for(lambda: pub.poll() is not None, 15, "the publisher of the deleted session disconnected")


if __name__ == "__main__":
    h.run(main)
