#!/usr/bin/env python3
"""An organizer's end applies to the session it was asked of, once.

- POST .../end before the session started -> 200, nothing to end;
- POST .../end while live -> 202: the publisher is kicked, the recording
  finalized;
- POST .../end again, on the ended session -> 200 (nothing to end);
- the speaker publishes again later: the recording reopens, and when that
  publisher leaves the recording stays open for close_after (the speaker may
  come back), then is finalized: the earlier end request must not end this
  publish the moment its publisher leaves."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "panel"
CLOSE_AFTER = 6
HOLD = 3.0          # how long the reopened recording must stay open, at least


def main(t):
    pod = ru.podium(t, {SID: {"title": "Panel", "passphrase": "panel-passphrase-3141"}}, close_after=CLOSE_AFTER)
    r = ru.post(pod, SID, "end")
    h.check(r.status == 200 and r.json().get("state") == "scheduled",
            "POST .../end before the session started -> %d %r, expected 200 and state scheduled (nothing to end)"
            % (r.status, r.body[:200]))
    pub = pod.publish(SID, duration=30)
    ru.wait_rec(pod, SID, lambda r: r.get("state") == "recording" and r.get("segments", 0) >= 2, 20,
                "2 recorded segments")
    r = ru.post(pod, SID, "end")
    h.check(r.status == 202, "POST .../end while live -> %d, expected 202" % r.status)
    ru.wait_finalized(pod, SID, 5)
    h.wait_for(lambda: pub.poll() is not None or None, 10, "the kicked publisher to exit")

    r = ru.post(pod, SID, "end")
    h.check(r.status == 200 and r.json().get("state") == "ended",
            "POST .../end on the ended session -> %d %r, expected 200 and state ended (nothing to end)"
            % (r.status, r.body[:200]))

    pub2 = pod.publish(SID, duration=3)
    ru.wait_rec(pod, SID, lambda r: r.get("state") == "recording", 15, "the recording to reopen")
    h.wait_for(lambda: pub2.poll() is not None or None, 20, "the second publisher to finish its 3 s")
    h.wait_for(lambda: pod.api(SID).get("publisher") is None or None, 10, "API publisher=null")
    left = time.monotonic()
    while time.monotonic() - left < HOLD:
        state = ru.rec_json(pod, SID).get("state")
        h.check(state == "recording",
                "the recording is %r %.1f s after the second publisher left, close_after is %d s: the end "
                "asked of the session before it reopened ended this publish too" %
                (state, time.monotonic() - left, CLOSE_AFTER))
        time.sleep(0.2)
    ru.wait_finalized(pod, SID, CLOSE_AFTER + 4)
    pod.assert_running()


if __name__ == "__main__":
    h.run(main)
