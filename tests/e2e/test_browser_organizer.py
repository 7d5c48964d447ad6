#!/usr/bin/env python3
"""The organizer page (/organizer) in Chromium, while a speaker is live.
Without the admin token it lists the session but not the speaker's address
(the API hides it from attendees); once the organizer types the token, the
next refresh shows the publisher's address with its port, as the organizer
API reports it."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import browser as br  # noqa: E402

SID = "keynote"
TITLE = "Opening keynote"


def main(t):
    br.require()
    pod = t.podium({SID: {"title": TITLE, "passphrase": "keynote-secret-42"}})
    pub = pod.publish(SID, duration=40)
    j = h.wait_for(lambda: (lambda a: a if a.get("live") else None)(pod.api(SID, organizer=True)),
                   15, "session %s live" % SID)
    addr = (j.get("publisher") or {}).get("address") or ""
    h.check(addr.startswith("127.0.0.1:"), "organizer API publisher.address %r" % addr)

    anon = br.page(t, pod, "/organizer", "organizer-no-token", wait_text=TITLE)
    h.check("127.0.0.1" not in (anon.get("text") or ""),
            "the organizer page shows a publisher address without the admin token:\n%s"
            % anon.get("text"))

    token = pod.admin_auth()["Authorization"].split(" ", 1)[1]
    org = br.page(t, pod, "/organizer", "organizer", fill=("#tok", token), wait_text=addr)
    h.check(SID in org.get("text", "") and "live" in org.get("text", ""),
            "the organizer page does not list %s as live:\n%s" % (SID, org.get("text")))
    h.check(token not in (org.get("text") or ""), "the page prints the admin token")
    h.check(pub.poll() is None, "the publisher stopped before the page was checked")


if __name__ == "__main__":
    h.run(main)
