#!/usr/bin/env python3
"""The organizer page (/organizer) in Chromium creates, edits and deletes
sessions. It creates one from its form, in an organizer's time zone
(Europe/Berlin: 15:30 typed is 14:30Z in the API), in a track (its row
names it), with the passphrase the
page filled in; the page shows the speaker URL once, and ffmpeg publishing
to exactly that URL gets the session live. The new (API) session's row has
edit and delete buttons, the config session's none; both upcoming, the
rows go by start (unscheduled last). Then the page edits it (check_edit):
the form filled with its values, the title and speakers changed, the
speaker let in only around the start (ingest_window strict) and the
track and start kept, then rescheduled with a new passphrase; the connected speaker
stays live. Deleting it from the page asks first, and the session is gone
(404) and its publisher disconnected."""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import browser as br  # noqa: E402

SID = "keynote"
NEW = "panel2"


def main(t):
    br.require()
    pod = t.podium({SID: {"title": "Opening keynote", "passphrase": "keynote-secret-42"}})
    token = pod.admin_auth()["Authorization"].split(" ", 1)[1]
    check_new_session(t, pod, token)


def check_new_session(t, pod, token):
    """Create a session from the page, stream to it with the URL the page
    gives, delete it from the page."""
    made = br.page(t, pod, "/organizer", "organizer-create", tz="Europe/Berlin",
                   fill=[("#tok", token), ("#n-id", NEW), ("#n-title", "Tooling panel"),
                         ("#n-speakers", "Ada Lovelace, Alan Turing"), ("#n-track", "Hall B"),
                         ("#n-starts", "2026-12-24T15:30")],
                   click="#n-create", wait_text="Tooling panel")    # its row, drawn after
    h.check("Send its speaker" in (made.get("text") or ""), "no speaker URL after create:\n%s" % made.get("text"))
    h.check("Tooling panel\nHall B" in (made.get("text") or ""), "the new row does not name its track:\n%s"
            % made.get("text"))
    br.check_buttons(made, {"d-" + NEW, "ed-" + NEW}, {"d-" + SID, "ed-" + SID, "x-" + NEW, "p-" + NEW},
                     "scheduled config session and scheduled API session")
    # both upcoming: by start, the unscheduled config session last though
    # created first
    rows = [l.get("href") for l in made.get("links", []) if l.get("href", "").startswith("/watch/")]
    h.check(rows == ["/watch/" + NEW, "/watch/" + SID], "rows in the order %r, expected %s (starts "
            "2026-12-24) before the unscheduled %s" % (rows, NEW, SID))
    j = pod.get("/api/v1/sessions/" + NEW).json()
    got = {k: j.get(k) for k in ("title", "speakers", "track", "format", "starts", "source")}
    want = {"title": "Tooling panel", "speakers": ["Ada Lovelace", "Alan Turing"], "track": "Hall B",
            "format": "presentation", "starts": "2026-12-24T14:30:00Z", "source": "api"}
    h.check(got == want, "the session the page created: %r, expected %r (15:30 typed in Berlin is 14:30 UTC)"
            % (got, want))
    m = re.search(r"Send its speaker this URL [^:]*: (srt://\S+)", made.get("text") or "")
    url = m.group(1) if m else ""
    prefix = "srt://127.0.0.1:%d?streamid=#!::r=%s,m=publish&passphrase=" % (pod.srt_port, NEW)
    h.check(url.startswith(prefix) and len(url) > len(prefix) + 10,
            "the page gave the speaker URL %r, expected %s<passphrase>..." % (url, prefix))
    pub = t.publisher(url, duration=150, label=NEW)   # the delete ends it
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



def check_edit(t, pod, token):
    """Edit a session from the page: edit fills the form with its values
    (the start in the organizer's time zone: saved untouched, it stays
    14:30Z), save sends them; an empty passphrase keeps the speaker's. Then
    reschedule it an hour later with a new passphrase: the page gives the
    new URL, and the row the new start, in the organizer's time."""
    def api_fields():
        j = pod.get("/api/v1/sessions/" + NEW).json()
        return {k: j.get(k) for k in ("title", "speakers", "track", "format", "starts", "ingest_window")}
    moved = "Tooling panel (moved)"
    ed = br.page(t, pod, "/organizer", "organizer-edit", tz="Europe/Berlin", fill=("#tok", token),
                 click="#ed-" + NEW, then=[("fill", "#n-title", moved), ("fill", "#n-speakers", "Grace Hopper"),
                                           ("click", "#n-strict"), ("click", "#n-create")],
                 wait_text="Saved " + NEW)
    # strict: the speaker on air stays; the window is checked at connection
    want = {"title": moved, "speakers": ["Grace Hopper"], "track": "Hall B", "format": "presentation",
            "starts": "2026-12-24T14:30:00Z", "ingest_window": "strict"}
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


if __name__ == "__main__":
    h.run(main)
