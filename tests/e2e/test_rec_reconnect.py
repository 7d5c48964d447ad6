#!/usr/bin/env python3
"""A speaker's connection drops three times; all four publishes make one recording.

Each publisher runs ~4 s of media and is SIGKILLed (a dropped connection, no
SRT shutdown). Reconnects 1 and 3 come back right after podium noticed the
drop; reconnect 2 comes back at once (the new publisher takes over the dead
connection). Every gap is shorter than close_after=4, so:
- one recording, finalized close_after after the last drop (VOD + ENDLIST);
- exactly 3 #EXT-X-DISCONTINUITY, each before the first segment of a new
  publisher (the same place the live playlist has them);
- segment numbers contiguous, the same files live viewers got (byte-identical);
- each publisher's part lasts what it sent within one segment, the total within
  1 s per reconnect;
- the closed recording decodes end to end, without ffmpeg complaining of
  timestamps going back at a discontinuity (a new publisher's audio stamped
  before its first video frame overlapped the previous one's last frames:
  2 of 6 runs failed so before the segmenter dropped it)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "talk"
CLOSE_AFTER = 4
RUN = 4.0
PUBLISHES = 4


def main(t):
    pod = ru.podium(t, {SID: {"title": "Talk", "passphrase": "talk-secret-4242"}}, close_after=CLOSE_AFTER)
    folder = ru.rec_dir(pod, SID)
    w = pod.watch(SID, allow_endlist=True)
    sent = []
    for i in range(PUBLISHES):
        if i in (1, 3):
            ru.wait_no_publisher(pod, SID)
            r = ru.rec_json(pod, SID)
            h.check(r.get("state") == "recording",
                    "recording.state %r while the speaker is away (< close_after), expected recording"
                    % r.get("state"))
        pub = ru.progress_publish(t, pod, SID, 60, label="%s-%d" % (SID, i + 1))
        h.wait_for(lambda: (pod.assert_running() or True) and pub.poll() is None
                   and ru.sent_seconds(pub) >= RUN,
                   15, "publisher %d to send %.0f s of media" % (i + 1, RUN))
        pub.kill()
        s = ru.sent_seconds(pub)
        sent.append(s)
        h.note("publisher %d SIGKILLed after sending %.2f s of media" % (i + 1, s))
        if i == 0:
            w.wait_segments(3, 10, "live segments of the first publisher")

    ru.wait_no_publisher(pod, SID)
    ru.wait_finalized(pod, SID, CLOSE_AFTER + 10)
    h.wait_for(lambda: "#EXT-X-ENDLIST" in pod.get("/live/%s/index.m3u8" % SID).body.decode(), 5,
               "#EXT-X-ENDLIST in the live playlist after close_after")
    w.wait_polls(2)
    w.stop()
    w.assert_ok()

    r = pod.get("/vod/%s/index.m3u8" % SID, headers=ru.AUTH)
    h.check(r.status == 200, "recording playlist (token) -> %d, expected 200" % r.status)
    text = r.body.decode()
    h.check(text == ru.disk_text(pod, SID), "served recording playlist differs from the one on disk")
    pl = ru.check_rec_playlist(text, "recording playlist", folder=folder, ended=True)
    seqs = [ru.uri_seq(s.uri) for s in pl.segments]
    h.check(seqs == list(range(seqs[0], seqs[-1] + 1)),
            "recording skips segment numbers (nothing should be lost): %r" % seqs)
    h.check(ru.disk_segments(pod, SID) == seqs, "files on disk %r differ from the playlist %r"
            % (ru.disk_segments(pod, SID), seqs))
    n_disc = text.count("#EXT-X-DISCONTINUITY\n")
    discs = [ru.uri_seq(s.uri) for s in pl.segments if s.disc]
    h.check(n_disc == PUBLISHES - 1 and len(discs) == PUBLISHES - 1,
            "expected exactly %d #EXT-X-DISCONTINUITY in the recording (one per reconnect), found %d "
            "(before %r):\n%s" % (PUBLISHES - 1, n_disc, discs, text))
    h.check(discs == w.disc_seqs(),
            "recording discontinuities before %r, the live playlist had them before %r" % (discs, w.disc_seqs()))

    # Per publisher and in total, the recording lasts what was sent.
    groups, cur = [], []
    for s in pl.segments:
        if s.disc and cur:
            groups.append(cur)
            cur = []
        cur.append(s)
    groups.append(cur)
    durs = [sum(s.duration for s in g) for g in groups]
    h.note("sent %s s; recorded parts %s s" % (["%.2f" % x for x in sent], ["%.3f" % x for x in durs]))
    for i, (d, s) in enumerate(zip(durs, sent)):
        h.check(abs(d - s) <= ru.SEG,
                "publisher %d sent %.2f s but its part of the recording (%d segments from %s) lasts %.3f s"
                % (i + 1, s, len(groups[i]), groups[i][0].uri, d))
    total, total_sent = sum(durs), sum(sent)
    h.check(abs(total - total_sent) <= 1.0 * (PUBLISHES - 1),
            "recording lasts %.3f s, %.2f s were sent: more than 1 s per reconnect apart" % (total, total_sent))

    rj = pod.api(SID, organizer=True)
    h.check(rj.get("publishers_total") == PUBLISHES, "API publishers_total %r, expected %d"
            % (rj.get("publishers_total"), PUBLISHES))
    rec = rj["recording"]
    h.check(rec.get("segments") == len(seqs) and abs(rec.get("duration", -1) - total) < 0.05,
            "API recording segments %r duration %r; playlist: %d segments %.3f s"
            % (rec.get("segments"), rec.get("duration"), len(seqs), total))
    h.check(rec.get("write_errors") == 0 and rec.get("gaps") == [],
            "API recording write_errors %r gaps %r" % (rec.get("write_errors"), rec.get("gaps")))

    live = w.downloaded()
    h.check(set(live) == set(seqs), "live segments %r and recorded segments %r differ" % (live, seqs))
    for q in live:
        h.check(ru.sha256(w.segment_path(q)) == ru.sha256(os.path.join(folder, "%d.ts" % q)),
                "%d.ts on disk differs from the bytes /live/ served for it" % q)

    frames, _ = ru.decode(pod.url("/vod/%s/index.m3u8" % SID), "the recording over HTTP",
                          headers=ru.AUTH)
    h.check(abs(frames / float(ru.FPS) - total) <= 1.0 * (PUBLISHES - 1),
            "decoded %d video frames (%.2f s), the playlist says %.3f s" % (frames, frames / float(ru.FPS), total))
    for g in groups:
        h.check_segment(os.path.join(folder, g[0].uri))


if __name__ == "__main__":
    h.run(main)
