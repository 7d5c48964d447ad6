#!/usr/bin/env python3
"""A 22 Mbit/s publisher whose keyframes are larger than the mpegts
demuxer's 200 KiB PES buffer (a 4K camera, a grainy picture, a slide of fine
print) is taken, and its frames reach viewers and the recording whole.

The publisher sends a file with -c copy: 720p of moving noise, keyframes of
315-575 KB (two and three buffers' worth). Every live segment and the
recording decode with no error, both streams are there, and the recording's
keyframes have the source's sizes, in order. Before the fix each keyframe
went out as two or three frames, and no segment decoded; and at this rate
the first audio came after the 1 MiB that probing read, so the publisher was
refused ("cannot mux its streams")."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "grain"
SENT = 6
PES_BUFFER = 200 * 1024          # MAX_PES_PAYLOAD in ffmpeg's mpegts.c


def make_fixture(path):
    # Noise makes every frame large; ipratio puts most of the bits in the
    # keyframes. Muxers send audio behind the video.
    h.make_media(path, ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                        "-t", str(SENT), "-vf", "noise=alls=30:allf=t+u",
                        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "20M", "-maxrate", "20M",
                        "-bufsize", "20M", "-x264-params", "ipratio=6",
                        "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-b:a", "96k"], "the large-keyframe fixture")


def keyframe_sizes(src, what):
    """Sizes of the video keyframes of src as ffprobe (with its parser) frames them."""
    j = h.ffprobe_json(["-select_streams", "v:0", "-show_entries", "packet=size,flags", src],
                       what="ffprobe packets of %s" % what)
    return [int(p["size"]) for p in j.get("packets", []) if "K" in p.get("flags", "")]


def main(t):
    fixture = t.path("large-keyframes.ts")
    make_fixture(fixture)
    want = keyframe_sizes(fixture, "the fixture")
    h.check(len(want) == SENT // 2 and min(want) > PES_BUFFER and max(want) > 2 * PES_BUFFER,
            "fixture: keyframes of %r bytes; the test needs %d, all over %d and one over %d"
            % (want, SENT // 2, PES_BUFFER, 2 * PES_BUFFER))
    h.note("fixture keyframes: %r bytes" % want)

    # A keyframe leaves ffmpeg as a burst of ~400 SRT packets; 500 ms of SRT
    # latency leaves room to resend any the loopback drops while the suite
    # runs beside it: this test is about framing, not loss.
    pod = ru.podium(t, {SID: {"title": "Grain", "passphrase": "grain-secret-1234"}},
                    segment_duration=2.0, latency_ms=500)
    w = pod.watch(SID, allow_endlist=True)
    pub = pod.publish(SID, duration=SENT, input_file=fixture, copy=True)

    def refused():
        return pod.log_lines_matching(lambda f, _l: "refused" in f.get("msg", ""))
    h.wait_for(lambda: refused() or len(w.seen_seqs()) >= 2, 20, "2 live segments")
    h.check(not refused(), "Podium refused the publisher: %r" % refused()[:2])
    pub.wait_ok(30)
    ru.wait_finalized(pod, SID, 20)
    w.wait_polls(2)
    w.stop()
    w.assert_ok()

    seqs = w.seen_seqs()
    h.check(len(seqs) >= SENT // 2 - 1, "only %d live segments for %d s in 2 s GOPs" % (len(seqs), SENT))
    for q in seqs:
        ru.decode(w.segment_path(q), "live segment %d.ts" % q)

    playlist = os.path.join(ru.rec_dir(pod, SID), "index.m3u8")
    ru.decode(playlist, "the recording")
    _, kinds = ru.probe_duration(playlist, "the recording")
    h.check(kinds == ["audio", "video"], "the recording has streams %r, expected audio and video" % kinds)
    got = keyframe_sizes(playlist, "the recording")
    h.check(got == want, "recording keyframes %r bytes, the publisher sent %r" % (got, want))
    errors = pod.log_lines_matching(lambda f, _l: f.get("level") == "error")
    h.check(not errors, "Podium logged errors: %r" % errors[:3])


if __name__ == "__main__":
    h.run(main)
