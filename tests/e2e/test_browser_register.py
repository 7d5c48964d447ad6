#!/usr/bin/env python3
"""With access = registered, an attendee registers in the player page and
then watches: /watch/<id> shows the registration form before the talk has
started (attendees arrive early), the browser fills it (name, e-mail), the
page gets a token from POST /api/v1/register and says the talk has not
started; the speaker then starts, and the page plays the live playlist with
the token (>= 3 s, no player error). Without a token the playlist answers
401, so playing at all proves the token was used. A second attendee whose
browser kept a token the server does not accept (another event's, or one
signed with an older secret) is asked to register again, and then plays.
The organizer page, with the admin token, says how many registered and
offers the list as CSV, and deletes it (asking first).
Screenshots (form and player): $E2E_ARTIFACTS or tests/e2e/artifacts/."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import browser as br  # noqa: E402

SID = "keynote"


def main(t):
    br.require()
    pod = t.podium({SID: {"title": "Members only", "passphrase": "keynote-secret-42"}},
                   server_ini="access = registered")
    ready = os.path.join(t.tmp, "registered-waiting")
    pubs = []

    def speaker_starts():
        if not pubs and os.path.exists(ready):
            pubs.append(pod.publish(SID, duration=40))
    res = br.play(t, pod, "/watch/%s" % SID, "watch", min_seconds=3, timeout=45,
                  register=("Grace Hopper", "grace@example.org"),
                  wait_status=(ready, "Not started yet"), tick=speaker_starts)
    h.check(pubs, "the page never said the talk had not started after the registration")
    pub = pubs[0]
    h.check(pod.get("/live/%s/index.m3u8" % SID).status == 401,
            "the live playlist must need a token (401) with access = registered")
    src = res.get("source") or ""
    h.check(src.startswith("/live/%s/index.m3u8?token=" % SID),
            "window.podium.source %r should carry the token" % src)
    h.check(pub.poll() is None, "the publisher stopped before playback was checked")
    regs = os.path.join(pod.data_dir, "registrations.jsonl")
    h.wait_for(lambda: os.path.exists(regs) and os.path.getsize(regs) > 0, 5,
               "registrations.jsonl written")
    with open(regs) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    h.check(any(r.get("email") == "grace@example.org" for r in rows),
            "the registration is not persisted: %r" % rows)
    h.check(oct(os.stat(regs).st_mode & 0o777) == "0o600", "registrations.jsonl must be 0600")

    # a token this server does not accept, left from an earlier visit
    stale = "v1.eyJuIjoiWCJ9.forged-signature"
    h.check(pod.get("/live/%s/index.m3u8?token=%s" % (SID, stale)).status in (401, 403),
            "the stale token is accepted by the server")
    res = br.play(t, pod, "/watch/%s" % SID, "watch-stale-token", min_seconds=2, timeout=40,
                  register=("Ada Lovelace", "ada@example.org"), local_storage={"podium-token": stale})
    src = res.get("source") or ""
    h.check(src.startswith("/live/%s/index.m3u8?token=" % SID) and stale not in src,
            "after registering again the page plays %r, expected a new token" % src)

    # the organizer sees how many registered, and can take the list away
    token = pod.admin_auth()["Authorization"].split(" ", 1)[1]
    org = br.page(t, pod, "/organizer", "organizer-registrations", fill=("#tok", token),
                  wait_text="Registered attendees: 2 (2 e-mail addresses)")
    h.check("regcsv" in org.get("buttons", []), "no button to download the registrations: %r"
            % org.get("buttons"))
    # after the event, the list goes (asked first)
    org = br.page(t, pod, "/organizer", "organizer-registrations-deleted", fill=("#tok", token),
                  click="#regdel", dialog="accept", wait_text="Registrations deleted: 2.")
    h.check(any("Delete the names and e-mail addresses of all 2 registrations" in d for d in org.get("dialogs", [])),
            "the page deleted the registrations without asking: dialogs %r" % org.get("dialogs"))
    h.wait_for(lambda: pod.get("/api/v1/registrations", headers=pod.admin_auth()).json().get("count") == 0, 5,
               "no registration listed after the organizer page deleted them")
    h.check("Registered attendees: 0" in org.get("text", ""), "the page still shows the old count: %r"
            % org.get("text", "")[:300])


if __name__ == "__main__":
    h.run(main)
