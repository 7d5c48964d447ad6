#!/usr/bin/env python3
"""MPEG-TS sessions whose publisher changes its stream's parameters inside
one SRT connection, timestamps running on (the two-file streams of
test_fmp4_changes, sent raw and paced):

- "size": H.264 640x360 then 1280x720 (a new SPS in-band);
- "rate": AAC at 48 kHz then at 44.1 kHz (ADTS says so).

TS segments carry the new parameters in-band, but RFC 8216 4.3.2.3 wants an
EXT-X-DISCONTINUITY before a change of encoding parameters, and hls.js reads
an AAC track's rate once per discontinuity. So: in the recording's playlist
exactly one DISCONTINUITY, before the first segment of the second file,
which decodes and whose every frame is 1280x720 (resp. 44100 Hz) while every
frame of the segment before it is 640x360 (resp. 48000 Hz); the live playlist has it before the same
segment; the published MP4 decodes and is as long as the recording, and
its export warns (API and one warn line) that it plays the audio after a
rate change at the wrong speed, and only then; one info line says what
changed; no other warn or error line. Before,
nothing marked the change."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402
import test_fmp4_changes as fc  # noqa: E402

SESSIONS = {"size": {"title": "Size change", "passphrase": "size-secret-1234"},
            "rate": {"title": "Rate change", "passphrase": "rate-secret-1234"}}


def disc_segments(text):
    """The segment URIs that follow an EXT-X-DISCONTINUITY, in order."""
    out, disc = [], False
    for line in text.splitlines():
        if line == "#EXT-X-DISCONTINUITY":
            disc = True
        elif line and not line.startswith("#"):
            if disc:
                out.append(line)
            disc = False
    return out


def size_and_rate(t, path, label):
    """(picture size, audio rate) of every decoded frame of a segment, which
    must all agree: a segment mixing both sides of the change fails."""
    ru.decode(path, label)
    frames = h.ffprobe_json(["-show_frames", "-show_entries",
                             "frame=media_type,width,height,nb_samples,pkt_duration", path],
                            what="ffprobe -show_frames %s" % label).get("frames", [])
    sizes = {"%sx%s" % (f.get("width"), f.get("height")) for f in frames
             if f.get("media_type") == "video"}
    # ffprobe 5.1 prints no rate per audio frame; the AAC parser gives each
    # packet its duration from its own ADTS header (90 kHz ticks)
    rates = {round(f["nb_samples"] * 90000 / f["pkt_duration"], -2) for f in frames
             if f.get("media_type") == "audio" and f.get("pkt_duration")}
    h.check(len(sizes) == 1 and len(rates) == 1,
            "%s: its frames have sizes %r and audio rates %r, expected one of each"
            % (label, sorted(sizes), sorted(rates)))
    return sizes.pop(), int(rates.pop())


def run(t, pod, sid, first, second, want):
    data = b""
    for f in (first, second):
        with open(f, "rb") as fh:
            data += fh.read()
    ru.send_recorded(t, pod, sid, data, 2 * fc.PART)
    live = pod.get("/live/%s/index.m3u8" % sid)
    h.check(live.status == 200, "%s: live playlist -> %d" % (sid, live.status))
    live_text = live.body.decode()
    text = ru.disk_text(pod, sid)
    pl = ru.check_rec_playlist(text, "%s recording" % sid, folder=ru.rec_dir(pod, sid), ended=True)
    after = disc_segments(text)
    h.check(len(after) == 1, "%s: expected one EXT-X-DISCONTINUITY in the recording, before the "
            "second file's first segment; found it before %r:\n%s" % (sid, after, text))
    uris = [s.uri for s in pl.segments]
    i = uris.index(after[0])
    h.check(i > 0, "%s: the DISCONTINUITY is before the recording's first segment:\n%s" % (sid, text))
    h.check(disc_segments(live_text) == after,
            "%s: the live playlist has DISCONTINUITY before %r, the recording before %r:\n%s"
            % (sid, disc_segments(live_text), after, live_text))
    folder = ru.rec_dir(pod, sid)
    got = [size_and_rate(t, os.path.join(folder, uris[k]), "%s %s" % (sid, uris[k]))
           for k in (i - 1, i)]
    h.note("%s: %s %r, then %s %r" % (sid, uris[i - 1], got[0], uris[i], got[1]))
    h.check(got == want, "%s: the segments around the DISCONTINUITY say %r, expected %r"
            % (sid, got, want))
    # the published MP4 spans the change: re-anchored at the discontinuity,
    # it must neither gap nor overlap there
    x = ru.export(pod, sid, {}, "%s publish" % sid)
    warning = x.get("warning", "")
    if want[0][1] != want[1][1]:
        h.check("%d Hz" % want[0][1] in warning and "%d Hz" % want[1][1] in warning,
                "%s: the export does not warn that the MP4 cannot hold both audio rates: %r"
                % (sid, x))
        said = pod.log_lines_matching(lambda f, _l: f.get("session") == sid
                                      and f.get("level") == "warn" and f.get("msg") == "export: "
                                      + warning)
        h.check(len(said) == 1, "%s: expected one warn line with the export's warning, got %r"
                % (sid, said))
    else:
        h.check(not warning, "%s: the export warns %r, but the audio never changed" % (sid, warning))
    mp4 = ru.export_path(pod, sid)
    ru.decode(mp4, "%s MP4" % sid)
    dur, kinds = ru.probe_duration(mp4, "%s MP4" % sid)
    recorded = sum(seg.duration for seg in pl.segments)
    h.check(kinds == ["audio", "video"] and abs(dur - recorded) < 0.1,
            "%s: the MP4 has %r for %.3f s, the recording is %.3f s" % (sid, kinds, dur, recorded))
    said = pod.log_lines_matching(lambda f, _l: f.get("session") == sid
                                  and "parameters changed" in f.get("msg", ""))
    h.check(len(said) == 1, "%s: expected one 'parameters changed' line, got %r" % (sid, said))


def main(t):
    files = fc.media(t)
    pod = ru.podium(t, SESSIONS, close_after=1)
    fc.run_both(t, pod, run, files, expected=lambda f: f.get("session") == "rate"
                and f.get("msg", "").startswith("export: audio changes"))


if __name__ == "__main__":
    h.run(main)
