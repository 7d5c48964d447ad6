#!/usr/bin/env python3
"""What each speaker sends, for the organizer to fix before the talk: the
session JSON's publisher.media gives the video (codec, size, frame rate,
keyframe interval) and the audio (codec, sample rate, channels) as
relayed, null for a kind not sent. Three speakers at once on a podium with
1 s segments: one as the README asks (keyframe every 1 s), one with
keyframes 5 s apart (what OBS's "auto" does at a larger scale), which gets
one warn line naming the interval to ask for (and whose segments, too long
to leave data_dir's page cache before the kernel would write them to disk,
go to memfds, said once), and one audio-only. Once a speaker stops, the
session shows no publisher, so no media."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SESSIONS = {"good": {"title": "Good encoder", "passphrase": "good-secret-123"},
            "slowkeys": {"title": "Keyframes 5 s apart", "passphrase": "slow-secret-123"},
            "radio": {"title": "Audio only", "passphrase": "radio-secret-123"}}


def media_of(pod, sid):
    """publisher.media once its video keyframe interval (or, audio only,
    the audio) is known."""
    def get():
        m = ((pod.api(sid).get("publisher") or {}).get("media")) or {}
        v = m.get("video")
        return m if (v and v.get("keyframe_interval_s")) or (m.get("audio") and "video" in m and not v) else None
    return h.wait_for(get, 20, "publisher.media of %s" % sid)


def close(a, b, tol):
    return a is not None and abs(a - b) <= tol


def main(t):
    pod = t.podium(SESSIONS, segment_duration=1.0)
    pubs = [pod.publish("good", duration=90, gop=30),
            pod.publish("slowkeys", duration=90, gop=150),
            pod.publish("radio", duration=90, video=False)]

    good = media_of(pod, "good")
    v, a = good.get("video") or {}, good.get("audio") or {}
    h.check((v.get("codec"), v.get("width"), v.get("height")) == ("h264", 640, 360)
            and close(v.get("fps"), 30, 0.1) and close(v.get("keyframe_interval_s"), 1.0, 0.05),
            "good: video %r, expected h264 640x360 30 fps, keyframe every 1.0 s" % v)
    h.check((a.get("codec"), a.get("sample_rate"), a.get("channels")) == ("aac", 48000, 1),
            "good: audio %r, expected aac 48000 Hz mono" % a)

    slow = media_of(pod, "slowkeys")["video"]
    h.check(close(slow.get("keyframe_interval_s"), 5.0, 0.05), "slowkeys: keyframe_interval_s %r, expected 5.0"
            % slow.get("keyframe_interval_s"))
    warn = [f for f in pod.log_records() if f.get("msg", "").startswith("keyframes far apart")]
    h.check(len(warn) == 1 and warn[0].get("session") == "slowkeys" and warn[0].get("level") == "warn"
            and close(float(warn[0].get("keyframe_interval_s", 0)), 5.0, 0.05)
            and "keyframe interval of 1 s" in warn[0].get("msg", ""),
            "expected one warn line for slowkeys asking for a 1 s keyframe interval: %r" % warn)

    radio = media_of(pod, "radio")
    h.check(radio.get("video") is None and (radio.get("audio") or {}).get("codec") == "aac",
            "radio: media %r, expected no video and AAC audio" % radio)
    h.note("media: good %r; slowkeys %r; radio %r" % (good, slow, radio))

    # a second look: still one warn line, not one per keyframe
    h.wait_for(lambda: pod.api("slowkeys").get("segments", 0) >= 4, 35, "4 segments of slowkeys")
    n = len([f for f in pod.log_records() if f.get("msg", "").startswith("keyframes far apart")])
    h.check(n == 1, "'keyframes far apart' logged %d times for one publisher, expected once" % n)
    long_segments_in_memory(pod)

    pubs[0].kill()
    h.wait_for(lambda: pod.api("good").get("publisher") is None, 15, "good without a publisher once it stopped")


def long_segments_in_memory(pod):
    """Segments live (window + 2) x their length, here 8 s for good and
    radio, 40 s for slowkeys: past the kernel's dirty expiry (30 s by
    default) they would be written to disk, so from its second segment on
    (the first has none before it to go by) slowkeys' go to memfds, said
    once; the others stay in data_dir's page cache."""
    recs = pod.log_records()
    if not any(f.get("msg", "").startswith("live segments in data_dir's page cache") for f in recs):
        h.note("data_dir is not on ext4, xfs or btrfs here: every segment is a memfd, nothing to tell apart")
        return
    with open("/proc/sys/vm/dirty_expire_centisecs") as f:
        expiry = int(f.read()) / 100.0
    said = [f for f in recs if f.get("msg", "").startswith("live segments in memfds: as long as they are")]
    h.note("dirty expiry %.0f s; segments said to outlive it: %r" % (expiry, said))
    if 8 * 5.0 < expiry:
        h.check(not said, "segments of 5 s said to outlive a dirty expiry of %.0f s: %r" % (expiry, said))
        return
    h.check(len(said) == 1 and said[0].get("session") == "slowkeys" and said[0].get("level") == "info"
            and close(float(said[0].get("segment_s", 0)), 5.0, 0.6)
            and float(said[0].get("lifetime_s", 0)) >= expiry,
            "expected one info line for slowkeys' 5 s segments outliving the %.0f s dirty expiry: %r"
            % (expiry, said))


if __name__ == "__main__":
    h.run(main)
