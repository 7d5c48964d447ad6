#!/usr/bin/env python3
"""A publisher drops (SIGKILL) and comes back; a second publisher takes over.

Both continue the same live playlist after exactly one #EXT-X-DISCONTINUITY,
segment numbers and MEDIA-SEQUENCE never go back, and between publishers the
playlist keeps serving its last window unchanged. At the takeover the log
names the peer it closes (peer=, with new_peer=) and that peer's "publisher
disconnected" line says reason="taken over". The two scenarios run in
parallel on two sessions."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# ffmpeg's TS muxer sends audio in PES runs 0.2-0.3 s behind the video it goes with:
# a publisher cut off just after a keyframe may leave a tail segment with no audio frame.
AUDIO_LAG = 0.5

SESSIONS = {"keynote": {"title": "Keynote", "passphrase": "keynote-secret-123"},
            "panel": {"title": "Panel", "passphrase": "panel-secret-98765"}}


def check_one_discontinuity(w, first_new_seq, what):
    seqs = w.seen_seqs()
    h.check(seqs == list(range(seqs[0], seqs[-1] + 1)),
            "%s: segment numbers not contiguous across the publisher change: %r" % (what, seqs))
    d = w.disc_seqs()
    h.check(len(d) == 1, "%s: expected exactly one #EXT-X-DISCONTINUITY across all playlists, saw %d at %r"
            % (what, len(d), d))
    h.check(d[0] == first_new_seq,
            "%s: #EXT-X-DISCONTINUITY is before %d.ts, expected before %d.ts, the new publisher's first segment"
            % (what, d[0], first_new_seq))
    for q in seqs:
        tail = q == first_new_seq - 1 and w.segs[q].duration < AUDIO_LAG
        h.check_segment(w.segment_path(q), audio_may_be_empty=tail)


def reconnect(t, pod):
    sid = "keynote"
    w = pod.watch(sid)
    a = pod.publish(sid, duration=60)
    w.wait_segments(4, 20, "4 segments from the first publisher")
    a.kill()
    h.note("reconnect: publisher A killed (SIGKILL)")
    h.wait_for(lambda: pod.api(sid).get("publisher") is None, 15,
               "API publisher=null after the publisher was killed (peer idle timeout)")
    w.wait_polls(1)
    _, text1, _ = w.snapshot()
    w.wait_polls(3)
    s2, text2, _ = w.snapshot()
    h.check(text1 == text2, "reconnect: playlist changed while no publisher was connected:\n%s\n---\n%s"
            % (text1, text2))
    last_a = s2.segments[-1].seq

    b = pod.publish(sid, duration=6)
    w.wait_segments(len(w.seen_seqs()) + 4, 20, "4 segments from the returning publisher")
    b.wait_ok(20)
    h.wait_for(lambda: pod.api(sid).get("publisher") is None, 10, "API publisher=null after B ended")
    w.wait_polls(3)
    w.stop()
    w.assert_ok()
    check_one_discontinuity(w, last_a + 1, "reconnect")
    h.check_timestamp_continuity(w)
    w.check_durations_against(pod.segment_duration, 1.0)
    j = pod.api(sid)
    h.check(j.get("discontinuities") == 1, "reconnect: API discontinuities=%r, expected 1"
            % j.get("discontinuities"))


def takeover(t, pod):
    sid = "panel"
    w = pod.watch(sid)
    c = pod.publish(sid, duration=60)
    w.wait_segments(3, 20, "3 segments from the first publisher")
    addr_c = pod.api(sid, organizer=True)["publisher"]["address"]
    last_c = w.newest()
    d = pod.publish(sid, duration=6)
    rc = c.wait(10)
    h.note("takeover: first publisher ended with exit code %d" % rc)
    h.check(d.poll() is None, "takeover: the new publisher ended as well:\n%s" % d.log())
    h.wait_for(lambda: (pod.api(sid, organizer=True).get("publisher") or {}).get("address") not in (None, addr_c), 5,
               "API publisher.address to change from %s to the new publisher" % addr_c)
    w.wait_segments(len(w.seen_seqs()) + 3, 15, "3 segments after the takeover")
    d.wait_ok(20)
    w.wait_polls(3)
    w.stop()
    w.assert_ok()
    d_seqs = w.disc_seqs()
    h.check(len(d_seqs) == 1 and d_seqs[0] > last_c,
            "takeover: expected exactly one #EXT-X-DISCONTINUITY after %d.ts, saw %r" % (last_c, d_seqs))
    check_one_discontinuity(w, d_seqs[0], "takeover")
    h.check_timestamp_continuity(w)
    w.check_durations_against(pod.segment_duration, 1.0)
    h.check(pod.api(sid).get("discontinuities") == 1, "takeover: API discontinuities=%r, expected 1"
            % pod.api(sid).get("discontinuities"))
    # the log names who was closed, and says that connection ended
    recs = [r for r in pod.log_records() if r.get("session") == sid]
    taken = [r for r in recs if r.get("msg") == "publisher takeover: closing previous connection"]
    h.check(len(taken) == 1 and taken[0].get("peer") == addr_c and taken[0].get("new_peer") not in (None, addr_c),
            "takeover: expected one takeover line with peer=%s (the connection closed) and the new peer: %r"
            % (addr_c, taken))
    gone = [r for r in recs if r.get("msg") == "publisher disconnected" and r.get("peer") == addr_c]
    h.check(len(gone) == 1 and gone[0].get("reason") == "taken over",
            "takeover: expected one 'publisher disconnected' line for %s with reason=\"taken over\": %r"
            % (addr_c, gone))


def main(t):
    pod = t.podium(SESSIONS)
    h.parallel(lambda: reconnect(t, pod), lambda: takeover(t, pod))


if __name__ == "__main__":
    h.run(main)
