#!/usr/bin/env python3
"""Timestamp edge cases, one session each, in parallel:
(a) wrap:      PTS crosses the 33-bit wrap a few seconds in (-output_ts_offset 95440);
(b) midgop:    the stream starts on non-keyframes (pre-cut file sent with -copyinkf);
(c) longgop:   3 s GOP with segment_duration 1: TARGETDURATION >= 3, never exceeded;
(d) gopchange: first publisher 1 s GOP fixes the target; a second publisher with a
               3 s GOP must get segments cut at the target (DESIGN: never exceed it);
(e) reset:     one SRT connection carries two concatenated MPEG-TS files, so PTS jump
               back and continuity counters restart mid-stream (an encoder restart
               without reconnecting); DESIGN: a DISCONTINUITY or rewritten timestamps,
               never an unannounced jump. Sent raw, paced, with srt-live-transmit.
               Audio neither overlaps nor leaves a hole where the video restarts
               (lip sync survives the re-anchoring);
(f) loop:      ffmpeg -stream_loop -c copy, which sends the first audio frame of
               each loop 1 tick after the last one of the loop before: no audio
               frame overlaps another in the segments;
(g) stale:     one audio PES comes again after the next one (a repeat, or late
               around a loss: seen under load with 75 publishers): it is dropped
               with a warning, and the audio after it neither overlaps nor leaves
               a hole (re-anchored, it sat 0.1-0.2 s off the video for good)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SIDS = ["wrap", "midgop", "longgop", "gopchange", "reset", "loop", "stale"]
SIZE = "426x240"


def common_checks(w, min_segs, total_range, first_key=True):
    w.wait_polls(2)
    w.stop()
    w.assert_ok()
    seqs = w.seen_seqs()
    h.check(len(seqs) >= min_segs, "%s: only %d segments, expected >= %d" % (w.sid, len(seqs), min_segs))
    h.check(seqs == list(range(seqs[0], seqs[-1] + 1)), "%s: segment numbers not contiguous: %r" % (w.sid, seqs))
    total = sum(w.segs[q].duration for q in seqs)
    h.check(total_range[0] <= total <= total_range[1], "%s: sum of EXTINF %.2f s, expected %.1f..%.1f"
            % (w.sid, total, total_range[0], total_range[1]))
    for q in seqs:
        h.check_segment(w.segment_path(q), first_key=first_key)
    return seqs


WRAP = 1 << 33


def check_publisher_wraps(t):
    """Test setup: the publisher's -output_ts_offset really puts the 33-bit wrap a few seconds in."""
    f = t.path("wrapcheck.ts")
    rc, _, err = h.run_capture(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
                                "-f", "lavfi", "-i", "testsrc2=size=%s:rate=30" % SIZE, "-t", "5",
                                "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
                                "-output_ts_offset", "95440", "-f", "mpegts", f], 60, "ffmpeg wrap check")
    h.check(rc == 0, "could not encode %s: %s" % (f, err))
    j = h.ffprobe_json(["-select_streams", "v:0", "-show_entries", "packet=pts", "-show_packets", f])
    pts = [int(p["pts"]) % WRAP for p in j.get("packets", []) if p.get("pts") not in (None, "N/A")]
    h.check(pts and pts[0] > WRAP - 8 * 90000 and min(pts) < 8 * 90000,
            "test setup: -output_ts_offset 95440 does not make the PTS cross the 33-bit wrap "
            "(first %s, min %s)" % (pts[:1], min(pts) if pts else None))


def case_wrap(t, pod):
    check_publisher_wraps(t)
    w = pod.watch("wrap")
    pub = pod.publish("wrap", duration=10, size=SIZE, extra_out=["-output_ts_offset", "95440"])
    w.wait_segments(3, 20, "3 segments of the wrapping stream")
    pub.wait_ok(25)
    h.wait_for(lambda: pod.api("wrap").get("publisher") is None, 10, "wrap: publisher=null at the end")
    # wrap happens ~2.3 s in: at least 5 segments after it
    common_checks(w, 8, (8.0, 11.5))
    w.check_durations_against(pod.segment_duration, 1.0)
    h.check_timestamp_continuity(w)


def case_midgop(t, pod):
    full, cut = t.path("gop60.ts"), t.path("midgop.ts")
    rc, _, err = h.run_capture(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
                                "-f", "lavfi", "-i", "testsrc2=size=%s:rate=30" % SIZE,
                                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "9",
                                "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-keyint_min", "60",
                                "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k",
                                "-f", "mpegts", full], 60, "generating the GOP-60 file")
    h.check(rc == 0, "could not generate %s: %s" % (full, err))
    rc, _, err = h.run_capture(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", full,
                                "-ss", "0.5", "-c", "copy", "-copyinkf", "-f", "mpegts", cut], 60,
                               "cutting the file mid-GOP")
    h.check(rc == 0, "could not cut %s: %s" % (cut, err))
    j = h.ffprobe_json(["-select_streams", "v:0", "-show_packets", "-read_intervals", "%+#1",
                        "-show_entries", "packet=flags", cut])
    h.check("K" not in j["packets"][0]["flags"],
            "test setup: %s should start on a non-keyframe (flags %r)" % (cut, j["packets"][0]["flags"]))
    w = pod.watch("midgop")
    pub = t.publisher(pod.srt_url("midgop"), duration=None, label="midgop", input_file=cut, copy=True)
    w.wait_segments(2, 20, "2 segments of the mid-GOP stream")
    pub.wait_ok(25)
    h.wait_for(lambda: pod.api("midgop").get("publisher") is None, 10, "midgop: publisher=null at the end")
    # keyframes at 2, 4, 6, 8 s of the original: 2..8.5 s is published (leading 1.5 s undecodable)
    seqs = common_checks(w, 3, (5.0, 8.6))
    h.check_segment(w.segment_path(seqs[0]), decode_first=True)
    first = w.segs[seqs[0]]
    h.check(w.first_target >= 2, "midgop: TARGETDURATION %d with a 2 s GOP" % w.first_target)
    h.check(1.5 <= first.duration <= w.first_target + 0.001,
            "midgop: first segment EXTINF %s, expected about 2 s (one GOP)" % first.extinf_text)
    w.check_durations_against(pod.segment_duration, 2.0)
    h.check_timestamp_continuity(w)


def case_longgop(t, pod):
    w = pod.watch("longgop")
    pub = pod.publish("longgop", duration=10, size=SIZE, gop=90)
    w.wait_segments(2, 20, "2 segments of the 3 s GOP stream")
    pub.wait_ok(25)
    h.wait_for(lambda: pod.api("longgop").get("publisher") is None, 10, "longgop: publisher=null at the end")
    seqs = common_checks(w, 3, (8.0, 11.5))
    h.check(w.first_target >= 3, "longgop: TARGETDURATION %d but the GOP is 3 s (segments cut on keyframes)"
            % w.first_target)
    for q in seqs[:-1]:
        d = w.segs[q].duration
        h.check(2.9 <= d <= 3.1, "longgop: %d.ts EXTINF %s, expected one 3 s GOP" % (q, w.segs[q].extinf_text))
    h.check_timestamp_continuity(w)


def case_gopchange(t, pod):
    w = pod.watch("gopchange")
    p1 = pod.publish("gopchange", duration=4, size=SIZE, gop=30)
    w.wait_segments(2, 20, "2 segments of the 1 s GOP publisher")
    p1.wait_ok(20)
    h.wait_for(lambda: pod.api("gopchange").get("publisher") is None, 10, "gopchange: publisher=null after the first")
    w.wait_polls(1)
    target = w.first_target
    last1 = w.newest()
    p2 = pod.publish("gopchange", duration=7, size=SIZE, gop=90)
    w.wait_segments(len(w.seen_seqs()) + 2, 20, "2 segments of the 3 s GOP publisher")
    p2.wait_ok(20)
    h.wait_for(lambda: pod.api("gopchange").get("publisher") is None, 10, "gopchange: publisher=null at the end")
    w.wait_polls(2)
    w.stop()
    w.assert_ok()  # includes: TARGETDURATION unchanged, every EXTINF <= TARGETDURATION
    h.check(w.first_target == target, "gopchange: TARGETDURATION changed")
    d = w.disc_seqs()
    h.check(d == [last1 + 1], "gopchange: expected one #EXT-X-DISCONTINUITY before %d.ts, saw %r" % (last1 + 1, d))
    seqs = w.seen_seqs()
    for q in seqs:
        h.check_segment(w.segment_path(q), first_key=(q <= last1 or q == last1 + 1))
    total2 = sum(w.segs[q].duration for q in seqs if q > last1)
    h.check(5.5 <= total2 <= 7.6, "gopchange: second publisher's EXTINF sum %.2f s for a 7 s stream" % total2)
    h.check_timestamp_continuity(w)


def encode(t, path, seconds, freq):
    rc, _, err = h.run_capture(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
                                "-f", "lavfi", "-i", "testsrc2=size=%s:rate=30" % SIZE,
                                "-f", "lavfi", "-i", "sine=frequency=%d:sample_rate=48000" % freq,
                                "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
                                "-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
                                "-c:a", "aac", "-b:a", "96k", "-f", "mpegts", path], 60, "encoding %s" % path)
    h.check(rc == 0, "could not encode %s: %s" % (path, err))


def case_reset(t, pod):
    sid = "reset"
    a, b = t.path("reset-a.ts"), t.path("reset-b.ts")
    encode(t, a, 4, 440)
    encode(t, b, 4, 880)
    with open(a, "rb") as f1, open(b, "rb") as f2:
        data = f1.read() + f2.read()
    w = pod.watch(sid)
    sender = h.PacedSender(t, pod, sid, data, 8.0).start()  # real time: 8 s of media
    try:
        w.wait_segments(2, 20, "reset: 2 segments")
        sender.wait_sent(30)
        h.check(sender.proc.poll() is None, "reset: srt-live-transmit ended early (podium closed the connection?):\n%s"
                % h.tail(sender.log_path))
    finally:
        sender.close()
    h.wait_for(lambda: pod.api(sid).get("publisher") is None, 15, "reset: publisher=null at the end")
    common_checks(w, 6, (6.5, 9.0))
    h.check_timestamp_continuity(w)
    # one audio frame of slack: the encoder's own A/V offset across the restart
    h.check_audio_continuity(w, max_gap=1920)
    h.note("reset: discontinuities before %r (either that or rewritten timestamps is fine)" % w.disc_seqs())


def case_loop(t, pod):
    sid = "loop"
    src = t.path("loop-src.ts")
    encode(t, src, 3, 330)
    w = pod.watch(sid)
    p = pod.publish(sid, duration=None, input_file=src, copy=True,
                    pre_input=["-stream_loop", "1"])
    p.wait_ok(30)
    h.wait_for(lambda: pod.api(sid).get("publisher") is None, 15, "loop: publisher=null at the end")
    common_checks(w, 4, (5.0, 7.0))
    h.check_audio_continuity(w, max_gap=1920)


TS = 188


def ts_pid(p):
    return ((p[1] & 0x1F) << 8) | p[2]


def ts_payload(p):
    afc = (p[3] >> 4) & 3
    if afc == 1:
        return p[4:]
    return p[5 + p[4]:] if afc == 3 else b""


def pes_pts(p):
    """PTS of the PES that TS packet p starts, else None."""
    b = ts_payload(p)
    if not (p[1] & 0x40) or len(b) < 14 or b[:3] != b"\0\0\1" or not (b[7] & 0x80):
        return None
    return (((b[9] >> 1) & 7) << 30) | (b[10] << 22) | ((b[11] >> 1) << 15) | (b[12] << 7) | (b[13] >> 1)


def repeat_audio_pes(data, pid, after_s):
    """data with the first audio PES (pid) that starts after_s in sent again
    right after the PES that follows it; the pid's continuity counters are
    renumbered, so the demuxer sees no loss. Returns (data, back step in s)."""
    pk = [data[i:i + TS] for i in range(0, len(data) - len(data) % TS, TS)]
    starts = [(i, pes_pts(p)) for i, p in enumerate(pk) if ts_pid(p) == pid and pes_pts(p) is not None]
    h.check(len(starts) > 3, "stale: test setup: no audio PES in the file")
    first = next(k for k, (_, pts) in enumerate(starts) if pts - starts[0][1] >= after_s * 90000)
    (a, pts_a), (b, pts_b), (c, _) = starts[first], starts[first + 1], starts[first + 2]
    copy = [p for p in pk[a:b] if ts_pid(p) == pid]
    out, cc = [], 0
    for i, p in enumerate(pk):
        if i == c:
            out.extend(copy)             # after PES b, before PES c begins
        out.append(p)
    fixed = []
    for p in out:
        if ts_pid(p) == pid and (p[3] >> 4) & 1:
            p = p[:3] + bytes([(p[3] & 0xF0) | (cc & 15)]) + p[4:]
            cc += 1
        fixed.append(p)
    return b"".join(fixed), (pts_a - pts_b) / 90000.0


def case_stale(t, pod):
    sid = "stale"
    src = t.path("stale-src.ts")
    encode(t, src, 8, 660)
    with open(src, "rb") as f:
        data, step = repeat_audio_pes(f.read(), 0x101, 3.0)
    h.check(-1.0 < step <= -0.1, "stale: test setup: the repeated PES steps back %.3f s, not 0.1..1 s "
            "(audio frames per PES changed?)" % step)
    w = pod.watch(sid)
    sender = h.PacedSender(t, pod, sid, data, 8.0).start()
    try:
        w.wait_segments(2, 20, "stale: 2 segments")
        sender.wait_sent(30)
    finally:
        sender.close()
    h.wait_for(lambda: pod.api(sid).get("publisher") is None, 15, "stale: publisher=null at the end")
    common_checks(w, 6, (6.5, 9.0))
    h.check(not w.disc_seqs(), "stale: a DISCONTINUITY for one stale audio PES: %r" % w.disc_seqs())
    h.check_audio_continuity(w, max_gap=1920)
    lines = [h.parse_logfmt(l) for l in pod.log_lines_matching(
        lambda r, _: r.get("session") == sid and r.get("msg") == "audio frame older than the one before it, dropped")]
    # the step is from the last frame sent, the one that ends the PES before
    h.check(len(lines) == 1 and -1.0 < float(lines[0].get("step_s", 0)) <= step + 0.001,
            "stale: expected one warning with step_s in -1..%.3f, got %r" % (step, lines))


def main(t):
    sessions = {sid: {"title": sid, "passphrase": "secret-of-%s" % sid} for sid in SIDS}
    pod = t.podium(sessions)
    h.parallel(lambda: case_wrap(t, pod), lambda: case_midgop(t, pod),
               lambda: case_longgop(t, pod), lambda: case_gopchange(t, pod), lambda: case_reset(t, pod),
               lambda: case_loop(t, pod), lambda: case_stale(t, pod))


if __name__ == "__main__":
    h.run(main, tools=("ffmpeg", "ffprobe", "srt-live-transmit"))
