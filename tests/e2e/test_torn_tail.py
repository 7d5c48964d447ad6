#!/usr/bin/env python3
"""A publisher's input that ends inside a video frame, as libsrt leaves it
when it drops what was not acknowledged at the close: the recording has no
torn frame. Fed through the production demux -> segment -> record path by
tests/pipeline_driver (no network: the cut is exact), for both framings:
H.264 + AAC (PES-framed) and H.264 + MP3 (the parsers' path).

- the TS is cut halfway between the start of its last video PES and the end
  of the file (on a TS packet boundary);
- every recorded segment decodes without an error (ffmpeg -v error);
- the recording holds every frame of the cut input but its last (the one
  cut short): frames recorded == frames ffprobe counts in the cut input - 1."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TS = 188
VIDEO_PID = 0x100                     # ffmpeg's mpegts muxer: first stream


def make_input(t, name, audio):
    path = t.path(name + ".ts")
    rc, _, err = h.run_capture(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "5",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-b:v", "2M", "-pix_fmt", "yuv420p",
         "-c:a", audio, "-b:a", "128k", "-f", "mpegts", path], 60, "ffmpeg making %s" % name)
    h.check(rc == 0, "ffmpeg could not make %s: %s" % (name, err[-500:]))
    return path


def cut_in_last_video_frame(src, dst):
    """Writes src up to halfway into its last video PES; returns the cut."""
    with open(src, "rb") as f:
        data = f.read()
    last = None
    for off in range(0, len(data) - TS + 1, TS):
        pkt = data[off:off + TS]
        pid = ((pkt[1] & 0x1f) << 8) | pkt[2]
        if pkt[0] == 0x47 and pid == VIDEO_PID and pkt[1] & 0x40:
            last = off
    h.check(last is not None, "%s: no video PES start on PID 0x%x" % (src, VIDEO_PID))
    cut = last + ((len(data) - last) // TS // 2) * TS
    h.check(cut > last + TS, "%s: the last video PES is a single TS packet" % src)
    with open(dst, "wb") as f:
        f.write(data[:cut])
    return cut


def video_frames(path):
    rc, out, err = h.run_capture(["ffprobe", "-v", "error", "-select_streams", "v", "-count_frames",
                                  "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path],
                                 60, "ffprobe %s" % path)
    counts = [int(x) for x in out.split() if x.isdigit()]
    h.check(rc == 0 and counts, "ffprobe %s: %r %r" % (path, out, err[-300:]))
    return counts[0]


def check(t, driver, name, audio):
    whole = make_input(t, name, audio)
    cut_path = t.path(name + "-cut.ts")
    cut = cut_in_last_video_frame(whole, cut_path)
    data_dir = t.path(name + "-data")
    rc, out, err = h.run_capture([driver, cut_path, data_dir], 120, "pipeline_driver %s" % name)
    h.check(rc == 0, "pipeline_driver %s exited %d: %s" % (name, rc, err[-800:]))
    segs = []
    for root, _, files in os.walk(data_dir):
        segs += [os.path.join(root, f) for f in files if f.endswith(".ts")]
    segs.sort(key=lambda p: int(os.path.basename(p)[:-3]))
    h.check(segs, "%s: no segment recorded under %s" % (name, data_dir))
    recorded = 0
    for seg in segs:
        rc, _, err = h.run_capture(["ffmpeg", "-v", "error", "-i", seg, "-f", "null", "-"], 60,
                                   "decoding %s" % seg)
        h.check(rc == 0 and not err.strip(), "%s: recorded segment %s does not decode cleanly:\n%s"
                % (name, os.path.basename(seg), err[-600:]))
        recorded += video_frames(seg)
    # the cut input's frames, its torn last one included (ffprobe counts it)
    sent = video_frames(cut_path)
    h.check(recorded == sent - 1,
            "%s: %d frames recorded of %d in the cut input; expected all but the torn last one"
            % (name, recorded, sent))
    h.note("%s (%s): input cut at byte %d; %d of %d frames recorded, %d segments, all decode cleanly"
           % (name, audio, cut, recorded, sent, len(segs)))


def main(t):
    driver = os.path.join(os.path.dirname(t.bin), "tests", "pipeline_driver")
    h.check(os.access(driver, os.X_OK), "no pipeline_driver next to %s" % t.bin)
    check(t, driver, "pes", "aac")
    check(t, driver, "parser", "libmp3lame")


if __name__ == "__main__":
    h.run(main)
