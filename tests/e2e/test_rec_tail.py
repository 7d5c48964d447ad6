#!/usr/bin/env python3
"""A talk's last second is in its recording.

A speaker far away streams with a long SRT latency; when the encoder stops,
libsrt reports the connection lost at once, while the last latency's worth
of messages still waits in its receive buffer for its play time. Podium
reads those as they come due. Speakers one after the other:

- ffmpeg (what OBS is built on) with a 1 s latency sends a 6 s file with -c
  copy and exits; before, its recording ended a second early (31 of 180
  video frames missing), now it lacks at most what ffmpeg itself never sent
  (its close drops what libsrt has not sent yet: ~75 ms measured, and with
  it the muxer's last audio PES, 12 frames; the check allows 0.5 s);
- srt-live-transmit sends the same file paced, and closes when told; libsrt
  1.5.1's read blocked at that moment copies the next message out and then
  fails, dropping it: reading on without taking that message left a hole in
  the last second, and a picture that decoded with errors;
- both recordings, once finalized, decode without an error;
- an Opus speaker whose last audio frame was cut short (the file cut after
  the first TS packet of its last audio PES, then null packets for what
  srt-live-transmit drops at its close): libav's complaint about it ("Error
  parsing Ogg TS header") is a debug line, not a warning (before: warn, and
  test_audio_codecs failed on it once the tail was read);
- a speaker with a 2 s latency who stops and starts again at once: the
  second connection arrives while the first one's last messages are still
  read. Before, it was taken for a takeover, the old connection closed and
  its last 2 s cut from the recording; now the old one reads on, and the
  recording holds both takes whole."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

FAR, PACED, OPUS, AGAIN = "farspeaker", "lightning", "opus", "again"
SECONDS = 6
LATENCY_US = 1000000
AGAIN_LATENCY_US, AGAIN_SECONDS = 2000000, 3
ALLOWED_S = 0.5          # what a sender itself may drop at its close
FPS, AUDIO_FPS = 30, 48000 / 1024.0
TS = 188
AUDIO_PID = 0x101                 # ffmpeg's mpegts muxer: the second stream
NULL_PACKET = bytes([0x47, 0x1F, 0xFF, 0x10]) + b"\xff" * 184


def packet_counts(src, what, headers=None):
    """{codec_type: packets} of src, counted by ffprobe."""
    args = []
    if headers:
        args += ["-headers", "".join("%s: %s\r\n" % kv for kv in headers.items())]
    j = h.ffprobe_json(args + ["-count_packets", "-show_entries", "stream=codec_type,nb_read_packets",
                               src], timeout=60, what="ffprobe -count_packets of " + what)
    return {s["codec_type"]: int(s["nb_read_packets"]) for s in j["streams"]}


def check_recording(pod, sid, sent, who, takes=1):
    """The finalized recording of sid holds what was sent, less the last
    video frame and ALLOWED_S of each take, and decodes cleanly."""
    vod = pod.url("/vod/%s/index.m3u8" % sid)
    got = packet_counts(vod, "the recording of " + sid, headers=ru.AUTH)
    h.note("%s's recording: %r (sent %r)" % (who, got, sent))
    video_min = sent["video"] - takes * (1 + int(ALLOWED_S * FPS))
    audio_min = sent["audio"] - takes * int(ALLOWED_S * AUDIO_FPS)
    h.check(got.get("video", 0) >= video_min and got.get("audio", 0) >= audio_min,
            "%s's recording holds %d of the %d video frames and %d of the %d audio frames sent, "
            "expected at least %d and %d: the end of the talk is missing"
            % (who, got.get("video", 0), sent["video"], got.get("audio", 0), sent["audio"],
               video_min, audio_min))
    ru.decode(vod, "%s's recording over HTTP" % who, headers=ru.AUTH)


def make_talk(t, name, seconds, what, extra_out=()):
    """t's file name: a lavfi talk of `seconds` (H.264 + AAC unless
    extra_out says otherwise)."""
    path = t.path(name)
    rc, _, err = h.run_capture(h.ffmpeg_cmd(path, duration=seconds, extra_out=extra_out), 60,
                               "ffmpeg making " + what)
    h.check(rc == 0, "ffmpeg making %s exited %d: %s" % (what, rc, err[-800:]))
    return path


def torn_opus(t):
    """A 4 s H.264 + Opus TS cut after the first packet of its last audio PES
    of two packets or more, padded with 30 messages of null packets."""
    full = make_talk(t, "opus.ts", 4, "the Opus talk", extra_out=("-c:a", "libopus"))
    with open(full, "rb") as f:
        data = f.read()
    pkts = [data[i:i + TS] for i in range(0, len(data) - TS + 1, TS)]
    pid = [((p[1] & 0x1F) << 8) | p[2] for p in pkts]
    starts = [i for i, p in enumerate(pkts) if pid[i] == AUDIO_PID and p[1] & 0x40]
    cut = None
    for s in reversed(starts):
        after = [i for i in range(s + 1, len(pkts)) if pid[i] == AUDIO_PID]
        if after and not pkts[after[0]][1] & 0x40:
            cut = s + 1
            break
    h.check(cut is not None, "no Opus PES of two TS packets in %s" % full)
    return b"".join(pkts[:cut]) + NULL_PACKET * 7 * 30


def far_url(pod, sid, latency_us):
    url = pod.srt_url(sid).replace("latency=120000", "latency=%d" % latency_us)
    h.check("latency=%d" % latency_us in url, "the publisher URL %s has no %d us latency" % (url, latency_us))
    return url


def check_comeback(t, pod):
    """Two takes of a short file, the second started as soon as the first
    ffmpeg exited."""
    short = make_talk(t, "again.ts", AGAIN_SECONDS, "the take")
    both = {k: 2 * v for k, v in packet_counts(short, "the take").items()}
    url = far_url(pod, AGAIN, AGAIN_LATENCY_US)
    first = t.publisher(url, duration=None, label=AGAIN + "-1", input_file=short, copy=True)
    first.wait_ok(AGAIN_SECONDS + 20)
    second = t.publisher(url, duration=None, label=AGAIN + "-2", input_file=short, copy=True)
    second.wait_ok(AGAIN_SECONDS + 20)
    ru.wait_no_publisher(pod, AGAIN)
    ru.wait_finalized(pod, AGAIN, 15)
    check_recording(pod, AGAIN, both, "the speaker who came back", takes=2)
    back = [f.get("msg") for f in pod.log_records() if f.get("session") == AGAIN
            and f.get("msg", "").startswith(("publisher takeover", "publisher reconnected"))]
    gone = [f.get("reason") for f in pod.log_records() if f.get("session") == AGAIN
            and f.get("msg") == "publisher disconnected"]
    h.note("the second connection's arrival: %r; disconnect reasons: %r" % (back, gone))
    h.check(len(back) == 1 and back[0].startswith("publisher reconnected"),
            "the second take was not logged as the speaker reconnecting while the first one's last "
            "messages were read (it came too late, or was taken for a takeover): %r" % back)
    h.check(gone == ["reconnected", None], "disconnect reasons %r, expected the first take's to say "
            "reconnected and the second's none" % gone)


def main(t):
    src = make_talk(t, "talk.ts", SECONDS, "the talk")
    sent = packet_counts(src, "the file sent")

    pod = ru.podium(t, {FAR: {"title": "From far away", "passphrase": "far-away-passphrase-27"},
                        PACED: {"title": "Lightning", "passphrase": "lightning-passphrase-8"},
                        OPUS: {"title": "Opus", "passphrase": "opus-passphrase-8128"},
                        AGAIN: {"title": "Again", "passphrase": "again-passphrase-2718"}},
                    close_after=2)
    url = far_url(pod, FAR, LATENCY_US)
    pub = t.publisher(url, duration=None, label=FAR, input_file=src, copy=True)
    pub.wait_ok(SECONDS + 20)
    ru.wait_no_publisher(pod, FAR)
    ru.wait_finalized(pod, FAR, 15)
    check_recording(pod, FAR, sent, "ffmpeg")
    check_comeback(t, pod)

    with open(src, "rb") as f:
        ru.send_recorded(t, pod, PACED, f.read(), SECONDS)
    check_recording(pod, PACED, sent, "srt-live-transmit")

    ru.send_recorded(t, pod, OPUS, torn_opus(t), 4)
    noisy = [f for f in pod.log_records() if f.get("level") in ("warn", "error")
             and f.get("msg", "").startswith("libav: ")]
    h.check(not noisy, "libav's complaints about the cut-short last frames are warnings: %r"
            % noisy[:5])


if __name__ == "__main__":
    h.run(main)
