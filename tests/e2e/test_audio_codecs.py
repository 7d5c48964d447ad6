#!/usr/bin/env python3
"""Opus and MP3 audio (DESIGN: "H.264 or HEVC video and AAC (or Opus/MP3)
audio"), and MP2, which Podium takes too; all take the parser path rather
than the PES-framed one. Three sessions, H.264 + Opus, + MP3 and + MP2, on
a TS podium and on an fMP4 one:
- the input streams are logged with their codec, and no warn or error line
  comes from either podium but the one asking for AAC instead of Opus in
  TS (hls.js reads none from TS: attendees would hear nothing);
- a live segment (init section first for fMP4) holds H.264 and the
  publisher's audio codec at 48 kHz and decodes without an error;
- the recording, finalized, holds the same and decodes end to end, as long
  as what was sent within two segments;
- published, its MP4 export holds the same two streams, audio as long as
  the video within a segment, and decodes."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

CODECS = {"opus": ["-c:a", "libopus", "-b:a", "96k"],
          "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
          "mp2": ["-c:a", "mp2", "-b:a", "128k"]}     # taken as well (broadcast encoders)
SECONDS = 5


def streams_of(path, what):
    j = h.ffprobe_json(["-show_streams", path], what="ffprobe %s" % what)
    return sorted((s.get("codec_type"), s.get("codec_name"), s.get("sample_rate"))
                  for s in j.get("streams", []))


def expect_streams(path, codec, what, mp4):
    if mp4 and codec == "mp2":
        # MP4 has one object type for MPEG-1 audio: ffmpeg's own MP2 in
        # MP4 reads back as mp3 too (and decodes)
        codec = "mp3"
    got = streams_of(path, what)
    want = sorted([("audio", codec, "48000"), ("video", "h264", None)])
    h.check(got == want, "%s: streams %r, expected %r" % (what, got, want))


def check_live(pod, sid, codec, fmt):
    def listed():
        r = pod.get("/live/%s/index.m3u8" % sid)
        uris = [l for l in r.body.decode().splitlines() if l and not l.startswith("#")]
        return r.body.decode() if r.status == 200 and len(uris) >= 2 else None
    text = h.wait_for(listed, 15, "two segments of %s (%s) listed" % (sid, fmt))
    maps = [l.split('"')[1] for l in text.splitlines() if l.startswith("#EXT-X-MAP:")]
    seg = [l for l in text.splitlines() if l and not l.startswith("#")][1]
    body = b""
    for uri in maps[-1:] + [seg]:
        r = pod.get("/live/%s/%s" % (sid, uri))
        h.check(r.status == 200, "GET %s of %s -> %d" % (uri, sid, r.status))
        body += r.body
    path = os.path.join(pod.dir, "%s-live%s" % (sid, ".mp4" if fmt == "fmp4" else ".ts"))
    with open(path, "wb") as f:
        f.write(body)
    what = "%s live segment %s (%s)" % (sid, seg, fmt)
    expect_streams(path, codec, what, fmt == "fmp4")
    ru.decode(path, what)


def check_export(pod, sid, fmt):
    ru.export(pod, sid, {}, "%s (%s)" % (sid, fmt))
    mp4 = ru.export_path(pod, sid)
    what = "%s MP4 export (%s)" % (sid, fmt)
    expect_streams(mp4, sid, what, True)
    j = h.ffprobe_json(["-show_streams", mp4], what="ffprobe durations of %s" % what)
    dur = {s["codec_type"]: float(s.get("duration") or 0) for s in j.get("streams", [])}
    audio, video = dur.get("audio", 0), dur.get("video", 0)
    h.check(abs(audio - video) <= ru.SEG,
            "%s: audio %.3f s against video %.3f s" % (what, audio, video))
    ru.decode(mp4, what)


def run_format(t, fmt):
    pod = ru.podium(t, {sid: {"passphrase": "audio-%s-pass" % sid} for sid in CODECS}, start=False)
    if fmt == "fmp4":
        ru.hls_options(pod, "format = fmp4\n")
    ru.start_pod(pod)
    pubs = {sid: pod.publish(sid, duration=SECONDS, extra_out=args) for sid, args in CODECS.items()}
    for sid in CODECS:
        check_live(pod, sid, sid, fmt)
    for sid, pub in pubs.items():
        pub.wait_ok(SECONDS + 20)
    for sid in CODECS:
        ru.wait_finalized(pod, sid, 20)
        index = os.path.join(ru.rec_dir(pod, sid), "index.m3u8")
        what = "%s recording (%s)" % (sid, fmt)
        expect_streams(index, sid, what, fmt == "fmp4")
        _, seconds = ru.decode(index, what)
        h.check(abs(seconds - SECONDS) <= 2 * ru.SEG,
                "%s: %.2f s decoded, %d s sent" % (what, seconds, SECONDS))
        check_export(pod, sid, fmt)
        inputs = pod.log_lines_matching(lambda f, _l: f.get("session") == sid
                                        and f.get("msg") == "input stream"
                                        and f.get("type") == "audio")
        h.check(len(inputs) == 1 and h.parse_logfmt(inputs[0]).get("codec") == sid,
                "%s (%s): input stream lines for audio %r, expected one codec=%s"
                % (sid, fmt, inputs, sid))
    # hls.js reads no Opus from TS: the organizer is told to ask for AAC
    # (one line); Opus in fMP4 and MPEG audio play
    ask = "audio codec plays in some browsers only: ask the speaker for AAC"
    asked = pod.log_lines_matching(lambda f, _l: f.get("msg") == ask)
    h.check(len(asked) == (1 if fmt == "ts" else 0) and all("session=opus " in l and " codec=opus" in l
                                                          for l in asked),
            "%s podium: lines asking for AAC %r, expected %s" % (fmt, asked, "one for opus" if fmt == "ts"
                                                                 else "none"))
    noisy = pod.log_lines_matching(lambda f, _l: f.get("level") in ("warn", "error") and f.get("msg") != ask)
    h.check(not noisy, "%s podium logged warnings or errors:\n%s" % (fmt, "\n".join(noisy[:10])))
    pod.stop()


def main(t):
    for fmt in ("ts", "fmp4"):
        run_format(t, fmt)


h.run(main)
