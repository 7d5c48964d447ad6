#!/usr/bin/env python3
"""SIGTERM while a speaker is live finalizes the recording; numbers survive a restart.

- SIGTERM with the publisher live: podium exits 0 within 5 s and the recording
  on disk is finalized (VOD + #EXT-X-ENDLIST), every listed segment complete,
  no .tmp left;
- restart on the same data_dir: API recording.state finalized, session ended,
  recording 404 without token and identical with it;
- a publisher after the restart gets live segment numbers above the recorded
  ones: no recorded file is overwritten (byte-identical), the recorded part of
  the playlist is unchanged."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "closing"


def main(t):
    pod = ru.podium(t, {SID: {"title": "Closing", "passphrase": "closing-secret-31"}}, close_after=30)
    folder = ru.rec_dir(pod, SID)
    ru.stop_while_recording(pod, SID)       # SIGTERM, exit 0 within 5 s (harness contract)
    text, pl = ru.check_shutdown_recording(t, pod, SID, "recording after SIGTERM")
    seqs = [ru.uri_seq(s.uri) for s in pl.segments]
    hashes = {q: ru.sha256(os.path.join(folder, "%d.ts" % q)) for q in ru.disk_segments(pod, SID)}

    ru.restart(pod)
    j = pod.api(SID, organizer=True)
    h.check(j["recording"].get("state") == "finalized" and j.get("state") == "ended",
            "after the restart: state %r recording.state %r, expected ended/finalized"
            % (j.get("state"), j["recording"].get("state")))
    h.check(j["recording"].get("segments") == len(seqs), "after the restart API lists %r segments, playlist %d"
            % (j["recording"].get("segments"), len(seqs)))
    r = pod.get("/vod/%s/index.m3u8" % SID)
    h.check(r.status == 404, "finalized unpublished recording without token after restart -> %d" % r.status)
    r = pod.get("/vod/%s/index.m3u8" % SID, headers=ru.AUTH)
    h.check(r.status == 200 and r.body.decode() == text,
            "recording playlist (token) after the restart -> %d, changed: %r" % (r.status, r.body[:300]))

    w = pod.watch(SID)
    pub2 = pod.publish(SID, duration=4)
    w.wait_segments(2, 15, "2 live segments from a publisher after the restart")
    pub2.wait_ok(20)
    w.stop()
    w.assert_ok()
    live = w.seen_seqs()
    h.check(live[0] > max(hashes), "live segment numbers after the restart %r reuse recorded numbers (<= %d)"
            % (live, max(hashes)))
    for q, d in hashes.items():
        h.check(ru.sha256(os.path.join(folder, "%d.ts" % q)) == d, "recorded %d.ts was overwritten" % q)
    now = h.Playlist(ru.disk_text(pod, SID))
    h.check([ru.uri_seq(s.uri) for s in now.segments][:len(seqs)] == seqs,
            "the recorded segments are no longer listed in order: %r" % [s.uri for s in now.segments])


if __name__ == "__main__":
    h.run(main)
