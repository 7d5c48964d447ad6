#!/usr/bin/env python3
"""kill -9 of podium mid-recording, restart on the same data_dir, speaker returns.

- at the kill, the publisher is live and the recording has >= 5 segments;
- after the restart (before anyone publishes again) the recording playlist is
  valid: EVENT (kept open for close_after), every listed segment exists and
  ffprobe reads it, no .tmp listed, every segment the playlist listed at the
  crash is still listed; a closed local copy decodes to its last segment with
  the duration the playlist claims;
- the speaker publishes again within close_after: the recording continues in
  the same playlist after exactly one #EXT-X-DISCONTINUITY, with higher segment
  numbers (the live playlist's numbers continue too); the recovered segments
  are untouched (byte-identical); finalized close_after after the speaker
  leaves; the whole recording decodes."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "workshop"
CLOSE_AFTER = 6      # must outlast restart + the returning publisher's connect (ASan too)
SECOND = 5


def main(t):
    pod = ru.podium(t, {SID: {"title": "Workshop", "passphrase": "workshop-secret-77"}},
                    close_after=CLOSE_AFTER)
    folder = ru.rec_dir(pod, SID)
    pub1 = pod.publish(SID, duration=60)

    def listed():
        try:
            return len(h.Playlist(ru.disk_text(pod, SID)).segments)
        except FileNotFoundError:
            return 0
    h.wait_for(lambda: (pod.assert_running() or True) and pub1.poll() is None and listed() >= 5, 20,
               "5 segments listed in %s/index.m3u8 while the publisher is live" % folder)
    ru.kill9(pod)
    crash_text = ru.disk_text(pod, SID)
    crash_files = sorted(os.listdir(folder))
    pub1.kill()
    crash_pl = h.Playlist(crash_text)
    crash_seqs = [ru.uri_seq(s.uri) for s in crash_pl.segments]
    h.note("at the crash: playlist lists %r; folder holds %r" % (crash_seqs, crash_files))
    h.check(not crash_pl.endlist, "playlist had #EXT-X-ENDLIST while the publisher was live:\n%s" % crash_text)

    ru.restart(pod)
    # Snapshot the recovered state at once, then let the speaker return within close_after.
    rj = ru.rec_json(pod, SID)
    text = ru.disk_text(pod, SID)
    snap = t.path("recovered")
    os.makedirs(snap)
    rec_pl = h.Playlist(text)
    for s in rec_pl.segments:
        src = os.path.join(folder, s.uri)
        h.check(os.path.isfile(src), "after the restart the playlist lists %s, which does not exist" % s.uri)
        shutil.copyfile(src, os.path.join(snap, s.uri))
    pub2 = pod.publish(SID, duration=SECOND)

    h.check(rj.get("state") == "recording",
            "API recording.state %r right after the restart, expected recording (kept open for close_after)"
            % rj.get("state"))
    pl = ru.check_rec_playlist(text, "recording playlist after the restart", folder=snap, ended=False)
    seqs = [ru.uri_seq(s.uri) for s in pl.segments]
    h.check(seqs == crash_seqs,
            "after the restart the playlist lists %r; at the crash it listed %r (all complete)" % (seqs, crash_seqs))
    tmp_left = [n for n in os.listdir(folder) if n.endswith(".tmp")]
    if tmp_left:
        h.note("note: .tmp files in the folder after the restart: %r" % tmp_left)
    hashes = {q: ru.sha256(os.path.join(snap, "%d.ts" % q)) for q in seqs}
    for q in seqs:
        h.check_segment(os.path.join(snap, "%d.ts" % q))
    copy = ru.local_copy(snap, text, t.path("recovered-closed"))
    frames, _ = ru.decode(copy, "closed copy of the recovered recording")
    claimed = sum(s.duration for s in pl.segments)
    h.note("recovered recording: %d segments, %.3f s; decoded %d video frames" % (len(seqs), claimed, frames))
    h.check(abs(frames / float(ru.FPS) - claimed) <= ru.SEG,
            "recovered recording decodes to %d frames (%.2f s) but its playlist claims %.3f s"
            % (frames, frames / float(ru.FPS), claimed))
    h.check(abs(rj.get("duration", -1) - claimed) < 0.05 and rj.get("segments") == len(seqs),
            "API after restart: recording segments %r duration %r; playlist %d segments %.3f s"
            % (rj.get("segments"), rj.get("duration"), len(seqs), claimed))

    # The speaker is back.
    w = pod.watch(SID, allow_endlist=True)
    pub2.wait_ok(SECOND + 20)
    ru.wait_no_publisher(pod, SID)
    ru.wait_finalized(pod, SID, CLOSE_AFTER + 10)
    w.wait_polls(2)
    w.stop()
    w.assert_ok()
    live = w.seen_seqs()
    h.check(live and live[0] > seqs[-1],
            "live segments after the restart %r do not continue after the recovered %d.ts" % (live, seqs[-1]))

    final = ru.disk_text(pod, SID)
    fpl = ru.check_rec_playlist(final, "final recording playlist", folder=folder, ended=True)
    fseqs = [ru.uri_seq(s.uri) for s in fpl.segments]
    h.check(fseqs[:len(seqs)] == seqs,
            "final recording does not start with the recovered segments %r: %r" % (seqs, fseqs))
    new = fpl.segments[len(seqs):]
    h.check(len(new) >= 3, "the returning speaker added %d segments to the recording, expected >= 3:\n%s"
            % (len(new), final))
    discs = [ru.uri_seq(s.uri) for s in fpl.segments if s.disc]
    h.check(discs == [ru.uri_seq(new[0].uri)],
            "expected exactly one #EXT-X-DISCONTINUITY, before the returning speaker's first segment %s; "
            "found before %r:\n%s" % (new[0].uri, discs, final))
    h.check(ru.uri_seq(new[0].uri) > seqs[-1], "new segment numbers do not go up: %s after %d.ts"
            % (new[0].uri, seqs[-1]))
    h.check([ru.uri_seq(s.uri) for s in new] == live,
            "segments recorded after the restart %r differ from the live ones %r"
            % ([ru.uri_seq(s.uri) for s in new], live))
    for q in seqs:
        h.check(ru.sha256(os.path.join(folder, "%d.ts" % q)) == hashes[q],
                "recovered %d.ts changed after the speaker returned" % q)
    for q in live:
        h.check(ru.sha256(w.segment_path(q)) == ru.sha256(os.path.join(folder, "%d.ts" % q)),
                "%d.ts on disk differs from the bytes /live/ served" % q)
    total = sum(s.duration for s in fpl.segments)
    frames, _ = ru.decode(pod.url("/vod/%s/index.m3u8" % SID), "the final recording over HTTP",
                          headers=ru.AUTH, allow_disc_noise=True)
    h.check(abs(frames / float(ru.FPS) - total) <= 2 * ru.SEG,
            "final recording decodes to %d frames (%.2f s), its playlist claims %.3f s"
            % (frames, frames / float(ru.FPS), total))
    h.check(abs(sum(s.duration for s in new) - SECOND) <= ru.SEG,
            "the returning speaker sent %d s, recorded %.3f s" % (SECOND, sum(s.duration for s in new)))


if __name__ == "__main__":
    h.run(main)
