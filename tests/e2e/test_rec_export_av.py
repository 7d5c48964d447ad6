#!/usr/bin/env python3
"""The MP4 export keeps audio and video together at both ends of a trim, in both
recording formats ([hls] format = ts and fmp4, one podium each, in parallel).

- 12 s recorded (1 s GOP), the session ended, then published with
  {"start": 3.5, "end": 9.5}: in the MP4 the first audio frame starts within
  0.05 s of the first video frame (the keyframe at or before 3.5 s), and the
  audio ends within 0.1 s of the video's end. The mov demuxer returns a
  fragment's video before its audio, so an export deciding by reading order
  lost up to a GOP of audio at each end of an fMP4 recording;
- published again untrimmed ({} for TS; {"start": 0, "end": 99999} for fMP4,
  whose export JSON then says the recording's end): audio starts with the video, audio and video
  each last as long as in the recording (within 0.05 s; where the publisher
  was cut off they need not end together), the MP4 lasts the whole recording
  within one GOP."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "panel"
RECORD = 12.0
TRIM = (3.5, 9.5)


def stream_span(mp4, kind):
    """(first pts, end of the last frame) in seconds of the MP4's first stream of kind."""
    sel = "v:0" if kind == "video" else "a:0"
    j = h.ffprobe_json(["-select_streams", sel, "-show_entries", "packet=pts_time,duration_time",
                        "-show_packets", mp4], what="ffprobe the %s packets of %s" % (kind, mp4))
    pk = [(float(p["pts_time"]), float(p.get("duration_time") or 0)) for p in j.get("packets", [])
          if p.get("pts_time") not in (None, "N/A")]
    h.check(pk, "%s: no %s packets" % (mp4, kind))
    return min(p for p, _ in pk), max(p + d for p, d in pk)


def check_ends(mp4, what, length, recording=None):
    """Audio starts with the video; it ends with it (a trim inside the recording), or
    both last as long as in the recording (the whole of it: where the publisher was
    cut off, its audio and video need not end together)."""
    v0, v1 = stream_span(mp4, "video")
    a0, a1 = stream_span(mp4, "audio")
    h.note("%s: video %.3f..%.3f s, audio %.3f..%.3f s" % (what, v0, v1, a0, a1))
    h.check(abs(a0 - v0) <= 0.05, "%s: audio starts at %.3f s, video at %.3f s (more than 0.05 s apart)"
            % (what, a0, v0))
    if recording is None:
        h.check(abs(a1 - v1) <= 0.1, "%s: audio ends at %.3f s, video at %.3f s (more than 0.1 s apart)"
                % (what, a1, v1))
    else:
        for kind, (x0, x1) in (("video", (v0, v1)), ("audio", (a0, a1))):
            r0, r1 = stream_span(recording, kind)
            h.check(abs((x1 - x0) - (r1 - r0)) <= 0.05, "%s: %s lasts %.3f s in the MP4, %.3f s in the recording"
                    % (what, kind, x1 - x0, r1 - r0))
    h.check(abs((v1 - v0) - length) <= ru.GOP + 0.1, "%s: video lasts %.3f s, expected %.1f s within one GOP"
            % (what, v1 - v0, length))


def run(t, fmt, whole):
    pod = ru.podium(t, {SID: {"title": "Panel", "passphrase": "panel-secret-%s" % fmt}}, close_after=30,
                    start=False)
    ru.hls_options(pod, "format = %s\n" % fmt)
    ru.start_pod(pod)
    pod.publish(SID, duration=60)
    ru.wait_rec(pod, SID, lambda x: x.get("duration", 0) >= RECORD, RECORD + 15,
                "%s: %.0f s recorded" % (fmt, RECORD))
    r = ru.post(pod, SID, "end")
    h.check(r.status == 202, "%s: POST .../end -> %d" % (fmt, r.status))
    rj = ru.wait_finalized(pod, SID, 5)
    ru.export(pod, SID, {"start": TRIM[0], "end": TRIM[1]}, "%s trimmed" % fmt)
    check_ends(ru.export_path(pod, SID), "%s trimmed %.1f..%.1f" % (fmt, TRIM[0], TRIM[1]), TRIM[1] - TRIM[0])
    x = ru.export(pod, SID, whole, "%s whole" % fmt)
    want_end = rj["duration"] if whole.get("end") else 0
    h.check(abs(x.get("end", -1) - want_end) < 0.01, "%s: export %r: its end %r, expected %r"
            % (fmt, whole, x.get("end"), want_end))
    check_ends(ru.export_path(pod, SID), "%s whole" % fmt, rj["duration"],
               os.path.join(ru.rec_dir(pod, SID), "index.m3u8"))


def main(t):
    h.parallel(lambda: run(t, "ts", {}), lambda: run(t, "fmp4", {"start": 0, "end": 99999}))


if __name__ == "__main__":
    h.run(main)
