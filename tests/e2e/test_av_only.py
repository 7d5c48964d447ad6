#!/usr/bin/env python3
"""An audio-only and a video-only publisher (two sessions, in parallel) each
produce playable HLS carrying only their own kind of stream. A third
publisher declares audio but sends its first audio frame 3 s after its video
(an encoder whose audio starts late): Podium goes live with the video only
and says so in a warn line, rather than refusing the speaker. The
audio-only session is listed within segment_duration + 3 s of its
publisher's start (it took 8 s when framing waited for 24 audio PES).
A fourth sends H.264 + AAC + a private data stream (bin_data, sent raw and
paced): its A/V is live within segment_duration + 3 s (the demuxer held every
packet behind the data stream's codec probe, 8 MB of the stream) and its
segments carry video and audio only."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SESSIONS = {"radio": {"title": "Audio only", "passphrase": "radio-secret-123"},
            "silent": {"title": "Video only", "passphrase": "silent-secret-123"},
            "late": {"title": "Late audio", "passphrase": "late-secret-1234"},
            "data": {"title": "With data", "passphrase": "data-secret-1234"}}


def late_audio_file(t):
    return h.make_media(t.path("late-audio.ts"),
                        ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                         "-itsoffset", "3", "-f", "lavfi", "-i", "sine=sample_rate=48000", "-t", "8",
                         "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p",
                         "-c:a", "aac", "-b:a", "96k"], "the late-audio file", timeout=60)


def data_file(t):
    payload = t.path("payload.bin")
    with open(payload, "wb") as f:
        f.write(b"private-data-" * 200)
    return h.make_media(t.path("with-data.ts"),
                        ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                         "-f", "lavfi", "-i", "sine=sample_rate=48000", "-f", "data", "-i", payload,
                         "-map", "0:v", "-map", "1:a", "-map", "2:d", "-t", "8",
                         "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p",
                         "-c:a", "aac", "-b:a", "96k", "-c:d", "copy"], "the file with a data stream",
                        timeout=60)


def check_data_session(t, pod):
    with open(data_file(t), "rb") as f:
        data = f.read()
    kinds = sorted(s.get("codec_type") for s in h.probe_streams(t.path("with-data.ts"))[0])
    h.check(kinds == ["audio", "data", "video"], "test setup: the data file has streams %r" % kinds)
    w = pod.watch("data")
    sender = h.PacedSender(t, pod, "data", data, 8.0).start()
    t0 = time.monotonic()
    try:
        h.wait_for(lambda: pod.get("/live/data/index.m3u8").status == 200, 20,
                   "the data session's first playlist", interval=0.05)
        first = time.monotonic() - t0
        h.note("with a data stream: first playlist %.2f s after the feed started" % first)
        h.check(first <= h.scaled(pod.segment_duration + 3.0),
                "with a data stream: first playlist %.2f s after the feed started, expected <= %.1f s"
                % (first, h.scaled(pod.segment_duration + 3.0)))
        w.wait_segments(3, 20, "3 segments of the session with a data stream")
        sender.wait_sent(30)
    finally:
        sender.close()
    w.wait_polls(2)
    w.stop()
    w.assert_ok()
    for q in w.downloaded():
        h.check_segment(w.segment_path(q), video=True, audio=True)


def av_only(t, pod):
    late = late_audio_file(t)
    pa = pod.publish("radio", duration=8, video=False, audio=True)
    pv = pod.publish("silent", duration=8, video=True, audio=False)
    pl = pod.publish("late", duration=8, input_file=late, copy=True)
    h.wait_for(lambda: pod.get("/live/radio/index.m3u8").status == 200, 20,
               "the audio-only session's first playlist", interval=0.05)
    first = time.monotonic() - pa.started
    h.note("audio-only: first playlist %.2f s after its publisher started" % first)
    h.check(first <= h.scaled(pod.segment_duration + 3.0),
            "audio-only: first playlist %.2f s after its publisher started, expected <= %.1f s "
            "(segment_duration + 3 s)" % (first, h.scaled(pod.segment_duration + 3.0)))
    wa = pod.watch("radio")
    wv = pod.watch("silent")
    wl = pod.watch("late")
    wa.wait_segments(3, 20, "3 segments of the audio-only session")
    wv.wait_segments(3, 20, "3 segments of the video-only session")
    wl.wait_segments(3, 20, "3 segments of the late-audio session")
    pa.wait_ok(25)
    pv.wait_ok(25)
    pl.wait_ok(25)
    ignored = pod.log_lines_matching(lambda f, _l: f.get("level") == "warn" and f.get("session") == "late"
                                     and f.get("msg", "").startswith("input stream ignored"))
    h.check(len(ignored) == 1 and "codec=aac" in ignored[0],
            "late-audio session: expected one warn line saying its AAC stream is ignored, got %r" % ignored)
    for sid, w, video, audio in (("radio", wa, False, True), ("silent", wv, True, False),
                                 ("late", wl, True, False)):
        h.wait_for(lambda: pod.api(sid).get("publisher") is None, 10, "API %s publisher=null at the end" % sid)
        w.wait_polls(2)
        w.stop()
        w.assert_ok()
        seqs = w.seen_seqs()
        h.check(len(seqs) >= 5, "%s: only %d segments for an 8 s stream" % (sid, len(seqs)))
        h.check(seqs == list(range(seqs[0], seqs[-1] + 1)), "%s: segment numbers not contiguous: %r" % (sid, seqs))
        h.check(not w.disc_seqs(), "%s: unexpected discontinuities at %r" % (sid, w.disc_seqs()))
        w.check_durations_against(pod.segment_duration, 1.0 if video else 0.1)
        total = sum(w.segs[q].duration for q in seqs)
        h.check(6.0 <= total <= 9.5, "%s: sum of EXTINF %.2f s for an 8 s stream" % (sid, total))
        for q in seqs:
            h.check_segment(w.segment_path(q), video=video, audio=audio)
        h.check_timestamp_continuity(w, video=video)
        # decode a whole segment, not just probe it
        q = seqs[len(seqs) // 2]
        rc, _, err = h.run_capture(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-xerror",
                                    "-i", w.segment_path(q), "-f", "null", "-"], 30, "ffmpeg decoding %d.ts" % q)
        h.check(rc == 0, "%s: %d.ts does not decode cleanly (exit %d): %s" % (sid, q, rc, err[-600:]))
        final, _, _ = w.snapshot()
        local = h.closed_copy(w, final, os.path.join(w.dir, "closed.m3u8"))
        streams, _ = h.probe_streams(local)
        kinds = sorted(s.get("codec_type") for s in streams)
        want = (["audio"] if audio else []) + (["video"] if video else [])
        h.check(kinds == want, "%s: ffprobe of the playlist found %r, expected %r" % (sid, kinds, want))


def main(t):
    pod = t.podium(SESSIONS)
    h.parallel(lambda: av_only(t, pod), lambda: check_data_session(t, pod))


if __name__ == "__main__":
    h.run(main)
