#!/usr/bin/env python3
"""Codecs that not every browser plays. Podium relays what a speaker sends
as it is, but only H.264 and AAC play everywhere: Chromium on Linux and
Firefox have no HEVC decoder, and hls.js reads no Opus from TS (video
plays, attendees hear nothing). Three speakers at once: H.264+AAC as the
README asks, HEVC+AAC (an OBS set to its HEVC encoder), H.264+Opus.

- each of the other two gets one warn line naming the codec and what to
  ask for, and publisher.media says it (ask_for); the H.264+AAC speaker
  neither;
- the organizer page marks each of them in red with what to ask for
  (H.264, AAC), and nothing in the good speaker's row;
- an attendee whose browser has no HEVC decoder (this Chromium) is told
  so on the player page, with the codec, instead of hls.js's error name.
Needs /usr/bin/chromium and web/node_modules/playwright-core: `scripts/deps browser`."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import browser as br  # noqa: E402

SESSIONS = {"good": {"title": "H.264 and AAC", "passphrase": "good-secret-123"},
            "hevc": {"title": "HEVC video", "passphrase": "hevc-secret-123"},
            "opus": {"title": "Opus audio", "passphrase": "opus-secret-123"}}
ASK = "plays in some browsers only: ask for "


def codecs_of(pod, sid):
    def get():
        m = (pod.api(sid).get("publisher") or {}).get("media") or {}
        return m if m.get("video") and m.get("audio") else None
    m = h.wait_for(get, 30, "publisher.media of %s" % sid)
    return m["video"]["codec"], m["audio"]["codec"]


def main(t):
    br.require()
    pod = t.podium(SESSIONS)
    # small and slow: x265 is costly, and the suite runs tests side by side
    small = dict(duration=150, size="320x180", rate=15, gop=15)
    pubs = [pod.publish("good", **small),
            pod.publish("hevc", extra_out=["-c:v", "libx265", "-x265-params",
                                           "keyint=15:min-keyint=15:log-level=error"], **small),
            pod.publish("opus", extra_out=["-c:a", "libopus"], **small)]
    got = {sid: codecs_of(pod, sid) for sid in SESSIONS}
    h.check(got == {"good": ("h264", "aac"), "hevc": ("hevc", "aac"), "opus": ("h264", "opus")},
            "publisher.media codecs %r: the speakers' codecs were not relayed as sent" % got)
    asks = {sid: tuple(((pod.api(sid)["publisher"]["media"][k] or {}).get("ask_for") for k in ("video", "audio")))
            for sid in SESSIONS}
    h.check(asks == {"good": (None, None), "hevc": ("H.264", None), "opus": (None, "AAC")},
            "publisher.media ask_for %r, expected H.264 for the HEVC speaker's video, AAC for the Opus "
            "speaker's audio" % asks)

    warned = [(f.get("session"), f.get("codec"), f.get("msg", "")) for f in pod.log_records()
              if f.get("level") == "warn" and "plays in some browsers only" in f.get("msg", "")]
    ask = "codec plays in some browsers only: ask the speaker for "
    h.check(sorted(warned) == [("hevc", "hevc", "video " + ask + "H.264"), ("opus", "opus", "audio " + ask + "AAC")],
            "expected one warn line for the HEVC speaker asking for H.264 and one for the Opus "
            "speaker asking for AAC, none for the good one: %r" % warned)

    token = pod.admin_auth()["Authorization"].split(" ", 1)[1]
    org = br.page(t, pod, "/organizer", "codecs-organizer", fill=("#tok", token), wait_text="opus 48 kHz")
    text = org.get("text") or ""
    rows = {sid: next((l for l in text.splitlines() if l.startswith(SESSIONS[sid]["title"])), "")
            for sid in SESSIONS}
    h.check(text.count(ASK) == 2 and "hevc 320x180" in text and ASK + "H.264" in text
            and ASK + "AAC" in text,
            "the organizer page does not ask for H.264 for the HEVC speaker and AAC for the Opus "
            "one (once each):\n%s" % text)
    h.check(ASK not in rows["good"], "the good speaker's row asks for a change: %r" % rows["good"])
    bad = sorted(c for c in org.get("bad") or [] if ASK in c)
    h.check(bad == [ASK + "AAC", ASK + "H.264"], "the two codec hints are not marked red: %r" % org.get("bad"))

    res = br.page(t, pod, "/watch/hevc", "codecs-hevc-player",
                  wait_text="This browser cannot play the talk's video (HEVC)")
    status = [l for l in (res.get("text") or "").splitlines() if "cannot play" in l]
    h.note("the HEVC talk's player says: %r" % status)
    h.check(all(p.poll() is None for p in pubs), "a speaker stopped before the pages were checked")


if __name__ == "__main__":
    h.run(main)
