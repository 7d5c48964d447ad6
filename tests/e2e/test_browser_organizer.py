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
Then its row links the published MP4, and rows go by state (the late
talk before the published keynote, created first).
Creating, editing and deleting sessions: test_browser_organizer_sessions.
When Podium stops while the page is open, the page says it cannot reach
it (the table would otherwise freeze, passing for the live state).
Each row offers only what its state allows: end while live, publish once
the recording is finalized, unpublish once published (no edit or delete
for config sessions). With the token the page says how much space is left
for recordings (with nothing live, for one talk at 3.3 Mb/s); the
publisher cell says what the speaker sends (codecs, size, frame rate,
keyframe interval). A talk past its start without a
speaker says how late it is, and a speaker refused for a wrong
passphrase is listed under Recent problems, and so is one without a stream
id, as Podium's."""
import datetime
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
LATE = "late1"


def main(t):
    br.require()
    late = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=12)
    pod = t.podium({SID: {"title": TITLE, "passphrase": "keynote-secret-42"},
                    LATE: {"title": "Speaker missing", "passphrase": "late-secret-1234", "format": "lightning",
                           "starts": late.strftime("%Y-%m-%dT%H:%M:%SZ")}})
    # the organizer ends it; under load the pages before that took 92 s
    # (-j6, 2026-12-07), longer than the 90 s this speaker had
    pub = pod.publish(SID, duration=600)
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

    # a speaker of the late talk tries with a wrong passphrase: the
    # organizer sees why on the page, without the server's log
    bad = pod.publish(LATE, duration=5, passphrase="not-the-passphrase-1")
    h.check(bad.wait(15) != 0, "a wrong passphrase got in")
    # and one pasted the server's address without the stream id: the line
    # names no session, the page says it is Podium's own
    nosid = pod.publish(LATE, duration=5, streamid="")
    h.check(nosid.wait(15) != 0, "a publisher without a stream id got in")
    token = pod.admin_auth()["Authorization"].split(" ", 1)[1]
    org = br.page(t, pod, "/organizer", "organizer", fill=("#tok", token), wait_text=addr)
    text = org.get("text") or ""
    h.check("Recent problems" in text and "%s: connection refused: wrong passphrase (peer=127.0.0.1:" % LATE in text,
            "the page does not show the refused speaker of %s under Recent problems:\n%s" % (LATE, text))
    h.check("Podium: connection refused: empty stream id (peer=127.0.0.1:" in text,
            "the page does not show the speaker refused for an empty stream id under Recent "
            "problems:\n%s" % text)
    h.check(SID in text and "live" in text, "the organizer page does not list %s as live:\n%s" % (SID, text))
    h.check("report" in org.get("buttons", []), "no button for the sessions report: %r" % org.get("buttons"))
    h.check(token not in text, "the page prints the admin token")
    h.check(re.search(r"scheduled\s+1[23] min late, no speaker yet", text),
            "the row of %s, due 12 minutes ago without a speaker, does not say it is late:\n%s" % (LATE, text))
    h.check("admin token:" not in text and "Type the admin token" not in text,
            "with the right token the page still has a token message:\n%s" % text)
    h.check(pub.poll() is None, "the publisher stopped before the page was checked")
    disk = [l for l in text.splitlines() if l.startswith("Recording space: ")]
    h.check(disk and " GiB free of " in disk[0] and os.path.join(pod.data_dir, "recordings") in disk[0],
            "the page does not say the space left for recordings:\n%s" % text)
    h.note("the page says: %s" % disk[0])
    br.check_buttons(org, {"x-" + SID}, {"p-" + SID, "u-" + SID, "d-" + SID}, "live config session")

    # end the talk from the page: a confirm() first, and "no" ends nothing.
    # The page redraws every 2 s: its end button must outlive that (a click
    # on a button replaced between press and release is lost)
    no = br.page(t, pod, "/organizer", "organizer-end-no", fill=("#tok", token), click="#x-" + SID,
                 stable="#x-" + SID)
    h.check(no.get("stable") is True, "the end button of the live talk was replaced by a redraw: %r"
            % no.get("stable"))
    h.check(any(SID in d for d in no.get("dialogs", [])), "end asked no confirmation: %r" % no.get("dialogs"))
    h.check(pod.api(SID).get("live"), "the talk ended although the organizer answered no%s"
            % ("" if pub.poll() is None else " (its speaker had stopped: %s)" % pub.log()[-300:]))
    br.page(t, pod, "/organizer", "organizer-end", fill=("#tok", token), click="#x-" + SID,
            dialog="accept", wait_text="end: ok")
    ru.wait_finalized(pod, SID, 15)
    bad = br.page(t, pod, "/organizer", "organizer-bad-trim",
                  fill=[("#tok", token), ("#s-" + SID, "1:75")], click="#p-" + SID,
                  wait_text="write times as seconds")
    h.check(ru.rec_json(pod, SID).get("export", {}).get("state") == "idle",
            "a trim the page refused reached the API: %r" % ru.rec_json(pod, SID).get("export"))
    # nothing live now: the space is told for one talk
    h.check(re.search(r"Recording space: .* of recording for one talk at 3\.3 Mb/s \(nothing is being "
                      r"recorded now\)", bad.get("text") or ""),
            "with nothing live the page does not tell the space for one talk:\n%s" % bad.get("text"))
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
    # a published recording's row links its MP4; rows go by state, the
    # late talk (scheduled) before the published keynote, created first
    mp4 = "/vod/%s/%s.mp4" % (SID, SID)
    done = br.page(t, pod, "/organizer", "organizer-published", fill=("#tok", token), wait_text="MP4")
    h.check(any(l.get("href") == mp4 for l in done.get("links", [])),
            "no link to the published MP4 %s: %r" % (mp4, done.get("links")))
    r = pod.get(mp4)
    h.check(r.status == 200 and r.header("Content-Type") == "video/mp4",
            "the page's MP4 link: %d %s" % (r.status, r.header("Content-Type")))
    rows = [l.get("href") for l in done.get("links", []) if l.get("href", "").startswith("/watch/")]
    h.check(rows == ["/watch/" + LATE, "/watch/" + SID], "rows in the order %r, expected the scheduled %s "
            "before the published %s" % (rows, LATE, SID))
    br.check_buttons(done, {"p-" + SID, "u-" + SID}, {"x-" + SID, "d-" + SID, "ed-" + SID},
                     "published config session")
    check_server_gone(t, pod)


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


if __name__ == "__main__":
    h.run(main)
