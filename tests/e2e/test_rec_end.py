#!/usr/bin/env python3
"""An organizer's end applies to the session it was asked of, once.

- POST .../end before the session started -> 200, nothing to end;
- POST .../end while live -> 202: the publisher is kicked, the recording
  finalized within 5 s even though its encoder reconnects by itself at once
  (as OBS and srt-live-transmit do): for SESSION_END_HOLD_S after the end,
  and after each refused try, publishers are refused with a warn line saying
  the organizer ended the session; the session stays ended, the recording
  does not grow (before: every reconnect was kicked again by the
  housekeeper, added a fragment, and the session never ended);
- Podium restarted while the encoder keeps reconnecting: the hold is
  restored (info line) and the encoder still refused, the session ended,
  the recording unchanged (before, the restart let it straight back in);
- POST .../end again, on the ended session -> 200 (nothing to end);
- the speaker publishes again later (after the hold): the recording reopens, and when that
  publisher leaves the recording stays open for close_after (the speaker may
  come back), then is finalized: the earlier end request must not end this
  publish the moment its publisher leaves;
- SIGTERM after that: no info line about a queue left to write."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "panel"
CLOSE_AFTER = 6
HOLD = 3.0          # how long the reopened recording must stay open, at least
END_HOLD_S = 10     # SESSION_END_HOLD_S in include/podium/session.h


class ReconnectingEncoder:
    """An encoder left running that reconnects as soon as it is dropped or
    refused (OBS, srt-live-transmit): a new ffmpeg each time one exits."""

    def __init__(self, pod, sid):
        self.pod, self.sid = pod, sid
        self.tries = 0
        self.current = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            self.current = self.pod.publish(self.sid, duration=60)
            self.tries += 1
            while self.current.poll() is None and not self.stopping.is_set():
                time.sleep(0.05)

    def stop(self):
        """Stops trying; returns the monotonic time of the end of its last try."""
        self.stopping.set()
        self.thread.join(10)
        if self.current is not None and self.current.poll() is None:
            h.kill_proc(self.current.proc)
        return time.monotonic()


def refusals(pod):
    return pod.log_lines_matching(lambda f, l: f.get("level") == "warn"
                                  and "the organizer ended the session" in f.get("msg", ""))


def main(t):
    pod = ru.podium(t, {SID: {"title": "Panel", "passphrase": "panel-passphrase-3141"}}, close_after=CLOSE_AFTER)
    r = ru.post(pod, SID, "end")
    h.check(r.status == 200 and r.json().get("state") == "scheduled",
            "POST .../end before the session started -> %d %r, expected 200 and state scheduled (nothing to end)"
            % (r.status, r.body[:200]))
    enc = ReconnectingEncoder(pod, SID)
    ru.wait_rec(pod, SID, lambda r: r.get("state") == "recording" and r.get("segments", 0) >= 2, 20,
                "2 recorded segments")
    tries = enc.tries
    r = ru.post(pod, SID, "end")
    h.check(r.status == 202, "POST .../end while live -> %d, expected 202" % r.status)
    ru.wait_finalized(pod, SID, 5)
    segs = ru.rec_json(pod, SID).get("segments")
    h.wait_for(lambda: len(refusals(pod)) >= 3 or None, 20,
               "3 reconnects of the encoder refused after the end (warn: the organizer ended the session)")
    j = pod.api(SID)
    h.check(j.get("state") == "ended" and j.get("publisher") is None,
            "while the encoder keeps reconnecting after the end: state %r publisher %r, expected ended and none"
            % (j.get("state"), j.get("publisher")))
    h.check(ru.rec_json(pod, SID).get("segments") == segs,
            "the ended recording grew from %r to %r segments while the encoder kept reconnecting"
            % (segs, ru.rec_json(pod, SID).get("segments")))
    h.note("%d encoder tries after the end, %d refused" % (enc.tries - tries, len(refusals(pod))))

    # Podium restarted (a config change, say) while the encoder keeps trying:
    # the hold outlives the restart, the talk stays ended
    pod.stop()
    ru.restart(pod)
    kept = pod.log_lines_matching(lambda f, _l: f.get("msg") == "end hold kept across the restart")
    h.check(len(kept) == 1, "no (or more than one) 'end hold kept across the restart' line: %r" % kept)
    h.wait_for(lambda: len(refusals(pod)) >= 2 or None, 20,
               "2 reconnects of the encoder refused after the restart (warn: the organizer ended the session)")
    j = pod.api(SID)
    h.check(j.get("state") == "ended" and j.get("publisher") is None,
            "after the restart, while the encoder keeps reconnecting: state %r publisher %r, expected ended "
            "and none" % (j.get("state"), j.get("publisher")))
    h.check(ru.rec_json(pod, SID).get("segments") == segs,
            "the ended recording grew from %r to %r segments after the restart"
            % (segs, ru.rec_json(pod, SID).get("segments")))
    last_try = enc.stop()

    r = ru.post(pod, SID, "end")
    h.check(r.status == 200 and r.json().get("state") == "ended",
            "POST .../end on the ended session -> %d %r, expected 200 and state ended (nothing to end)"
            % (r.status, r.body[:200]))

    # the hold runs out END_HOLD_S after the last refused try: waited out,
    # since being refused inside it is what the test checked above
    time.sleep(max(0.0, last_try + END_HOLD_S + 0.5 - time.monotonic()))
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
    # nothing is left to write: the stop says nothing about a queue at info
    # (it counted a finalize job for every recording, finalized or not)
    pod.stop()
    queued = pod.log_lines_matching(lambda f, _l: f.get("msg", "").startswith("writing what is queued")
                                    and f.get("level") != "debug")
    h.check(not queued, "stop after the recording was finalized: %r, expected no queue line at info "
            "(nothing was left to write)" % queued)


if __name__ == "__main__":
    h.run(main)
