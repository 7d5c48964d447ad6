#!/usr/bin/env python3
"""An HEVC publisher (H.265 + AAC, what the README offers speakers beside
H.264), to a TS podium and an LL-HLS (fMP4) podium at once, from one file
sent with -c copy:

- TS: every live segment is HEVC + AAC, starts on a keyframe and decodes
  without error; x265's GOPs are open (CRA keyframes): the segments are the
  1 s GOPs, TARGETDURATION 1; the recording decodes end to end;
- fMP4: the init section's sample entry is hvc1 (the mp4 muxer's default,
  hev1, does not play in Safari or on iOS, the only browsers that take
  HEVC in HLS, and only in fMP4); init + segment and init + part decode;
  the recording decodes;
- the MP4 an organizer publishes from the fMP4 recording is hvc1 and
  decodes;
- each podium logs one warn line asking the organizer to ask for H.264
  (Firefox and Chromium on Linux cannot play HEVC), and no other."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402
import test_llhls as ll  # noqa: E402

SENT = 8
SESSIONS = {"hevc": {"title": "HEVC", "passphrase": "hevc-secret-1234"}}


def make_fixture(path):
    h.make_media(path, ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(SENT),
                        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                        "-x265-params", "keyint=30:min-keyint=30:scenecut=0:log-level=error",
                        "-c:a", "aac", "-b:a", "96k"], "the HEVC fixture")


def video_stream(path, what):
    j = h.ffprobe_json(["-select_streams", "v:0", "-show_entries",
                        "stream=codec_name,codec_tag_string", path], what="ffprobe %s" % what)
    s = (j.get("streams") or [{}])[0]
    return s.get("codec_name"), s.get("codec_tag_string")


def decode_file(t, data, label):
    path = t.path(label)
    with open(path, "wb") as f:
        f.write(data)
    ru.decode(path, label)
    return path


def check_fmp4(t, pod):
    sid = "hevc"
    pl = ll.fetch_pl(pod, sid)
    full = [s for s in pl.segments if s.parts]
    h.check(full, "no segment of the LL-HLS playlist lists its parts:\n%s" % pl.text)
    init = ll.fetch_bytes(pod, sid, full[-1].map_uri)
    path = decode_file(t, init + ll.fetch_bytes(pod, sid, full[-1].uri), "init+%d.mp4" % full[-1].seq)
    codec, tag = video_stream(path, "init + segment")
    h.check((codec, tag) == ("hevc", "hvc1"), "fMP4 video is %s/%s, expected hevc/hvc1" % (codec, tag))
    decode_file(t, init + ll.fetch_bytes(pod, sid, full[-1].parts[0][0]), "init+%d.0.mp4" % full[-1].seq)


def check_export(pod):
    sid = "hevc"
    r = ru.post(pod, sid, "publish", body={"start": 1, "end": SENT - 2})
    h.check(r.status == 202, "publish -> %d, expected 202: %r" % (r.status, r.body[:200]))
    h.wait_for(lambda: ru.rec_json(pod, sid)["export"].get("state") == "done", 30, "export state done")
    mp4 = os.path.join(ru.rec_dir(pod, sid), "%s.mp4" % sid)
    codec, tag = video_stream(mp4, "the published MP4")
    h.check((codec, tag) == ("hevc", "hvc1"), "published MP4 video is %s/%s, expected hevc/hvc1" % (codec, tag))
    ru.decode(mp4, "the published MP4")


def main(t):
    fixture = t.path("hevc.ts")
    make_fixture(fixture)
    ts = ru.podium(t, SESSIONS)
    fm = ru.podium(t, SESSIONS, start=False)
    with open(fm.conf_path) as f:
        text = f.read()
    with open(fm.conf_path, "w") as f:
        f.write(text.replace("\n[hls]\n", "\n[hls]\nformat = fmp4\npart_duration = %s\n" % ll.PART_TARGET, 1))
    ru.start_pod(fm)

    w = ts.watch("hevc", allow_endlist=True)
    pubs = [pod.publish("hevc", duration=SENT, input_file=fixture, copy=True) for pod in (ts, fm)]
    h.wait_for(lambda: ll.get_playlist(fm, "hevc")[1].count("#EXTINF") >= 3, 20, "3 LL-HLS segments")
    check_fmp4(t, fm)
    for p in pubs:
        p.wait_ok(30)
    for pod in (ts, fm):
        ru.wait_finalized(pod, "hevc", 20)
    w.wait_polls(2)
    w.stop()
    w.assert_ok()

    seqs = w.seen_seqs()
    h.check(len(seqs) >= SENT - 2, "only %d TS segments for %d s in 1 s GOPs" % (len(seqs), SENT))
    # x265's GOPs are open: every keyframe after the first is a CRA, decoded
    # ahead of its leading pictures, and the first segment must not run on
    # to the second one (which made TARGETDURATION 2 for 1 s GOPs)
    target = w.last.target
    durs = [w.segs[q].duration for q in seqs]
    h.check(target == 1 and max(durs) <= 1.05, "TARGETDURATION %r and EXTINFs %r for 1 s GOPs, segment_duration 1"
            % (target, durs))
    for q in seqs:
        path = w.segment_path(q)
        h.check(video_stream(path, "%d.ts" % q)[0] == "hevc", "%d.ts: video is not HEVC" % q)
        ru.check_first_video_key(path, "%d.ts" % q)
        ru.decode(path, "TS segment %d.ts" % q)
    for pod, what in ((ts, "TS"), (fm, "fMP4")):
        ru.decode(os.path.join(ru.rec_dir(pod, "hevc"), "index.m3u8"), "the %s recording" % what)
    check_export(fm)
    # Firefox and Chromium on Linux cannot play it: the organizer is told
    # to ask for H.264, once per publish
    ask = "video codec plays in some browsers only: ask the speaker for H.264"
    for pod in (ts, fm):
        asked = pod.log_lines_matching(lambda f, _l: f.get("msg") == ask and f.get("codec") == "hevc")
        h.check(len(asked) == 1, "expected one line asking for H.264: %r" % asked)
        errors = pod.log_lines_matching(lambda f, _l: f.get("level") in ("warn", "error") and f.get("msg") != ask)
        h.check(not errors, "Podium logged problems: %r" % errors[:3])


if __name__ == "__main__":
    h.run(main)
