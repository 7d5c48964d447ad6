#!/usr/bin/env python3
"""An MPEG-TS with two programs (a broadcast encoder's main feed, 640x360 +
AAC, and a backup, 320x240 + AAC, each with its own PMT), sent as it is
(srt-live-transmit, paced): a playlist holds one program, so Podium relays
the first one's video and audio and leaves the other's out.
- the live segments and the finalized recording hold one H.264 stream at
  640x360 and one AAC stream, and decode;
- one info line names the program relayed and how many there were; no warn
  or error line.
Before, both programs' four streams went into every segment under one PMT:
twice the bytes, and players chose among two videos."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "broadcast"
SECONDS = 5.0


def streams_of(path, what):
    streams, _ = h.probe_streams(path)
    ru.decode(path, what)
    return sorted((s.get("codec_type"), s.get("codec_name"),
                   "%sx%s" % (s.get("width"), s.get("height")) if s.get("codec_type") == "video" else "")
                  for s in streams)


def main(t):
    media = h.make_media(t.path("two-programs.ts"),
                         ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                          "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                          "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                          "-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000",
                          "-t", str(SECONDS), "-map", "0", "-map", "1", "-map", "2", "-map", "3",
                          "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p",
                          "-c:a", "aac", "-b:a", "96k",
                          "-program", "program_num=1:title=main:st=0:st=1",
                          "-program", "program_num=2:title=backup:st=2:st=3"],
                         "a TS with two programs")
    progs = h.ffprobe_json(["-show_programs", media], what="ffprobe programs").get("programs", [])
    h.check(len(progs) == 2, "the generated media has %d programs, expected 2" % len(progs))
    pod = ru.podium(t, {SID: {"title": "Two programs", "passphrase": "broadcast-secret-1"}},
                    close_after=1)
    with open(media, "rb") as f:
        data = f.read()
    ru.send_recorded(t, pod, SID, data, SECONDS)
    want = [("audio", "aac", ""), ("video", "h264", "640x360")]

    live = h.Playlist(pod.get("/live/%s/index.m3u8" % SID).body.decode())
    h.check(live.segments, "no live segment")
    seg = t.path("live-%s" % live.segments[0].uri)
    with open(seg, "wb") as f:
        f.write(pod.get("/live/%s/%s" % (SID, live.segments[0].uri)).body)
    got = streams_of(seg, "live %s" % live.segments[0].uri)
    h.check(got == want, "live segment streams %r, expected the first program's %r" % (got, want))

    text = ru.disk_text(pod, SID)
    pl = ru.check_rec_playlist(text, "recording", folder=ru.rec_dir(pod, SID), ended=True)
    for s in pl.segments:
        got = streams_of(os.path.join(ru.rec_dir(pod, SID), s.uri), "recorded %s" % s.uri)
        h.check(got == want, "recorded %s has %r, expected %r" % (s.uri, got, want))

    said = pod.log_lines_matching(lambda f, _l: f.get("session") == SID
                                  and "several programs" in f.get("msg", ""))
    h.check(len(said) == 1 and h.parse_logfmt(said[0]).get("programs") == "2"
            and h.parse_logfmt(said[0]).get("program") == "1",
            "expected one info line naming program 1 of 2, got %r" % said)
    errors = pod.log_lines_matching(lambda f, _l: f.get("level") in ("warn", "error"))
    h.check(not errors, "Podium logged problems: %r" % errors[:3])
    h.note("two programs: %d recorded segments, each %r" % (len(pl.segments), want))


if __name__ == "__main__":
    h.run(main)
