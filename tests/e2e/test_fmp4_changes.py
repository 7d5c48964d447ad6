#!/usr/bin/env python3
"""fMP4 (LL-HLS) sessions whose publisher changes its stream's parameters inside
one SRT connection, timestamps running on (two TS files sent back to back, raw
and paced, the second with -output_ts_offset):

- "size": H.264 640x360 then 1280x720 (a new SPS in-band);
- "rate": AAC at 48 kHz then at 44.1 kHz (ADTS says so).

MP4 describes a stream once, in the init section, so each change must begin a
new one: in the recording's playlist a second EXT-X-MAP, after an
EXT-X-DISCONTINUITY, whose init section says 1280x720 (resp. 44100 Hz) while
the first says 640x360 (resp. 48000 Hz); init + segment decode on both sides of
the change; an info line says what changed; the live LL-HLS playlist shows
both maps and keeps the LL-HLS rules. Before, the first init section
stayed: the 44.1 kHz audio played 9% fast and the 720p pictures came under a
360p sample entry."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402
import test_llhls as ll  # noqa: E402

SESSIONS = {"size": {"title": "Size change", "passphrase": "size-secret-1234"},
            "rate": {"title": "Rate change", "passphrase": "rate-secret-1234"}}
PART = 3.0      # seconds of each half


def encode(t, name, size, rate, offset):
    return h.make_media(t.path(name),
                        ["-f", "lavfi", "-i", "testsrc2=size=%s:rate=30" % size,
                         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=%d" % rate, "-t", str(PART),
                         "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-keyint_min", "30",
                         "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k",
                         "-ar", str(rate), "-output_ts_offset", str(offset)], "%s (%s, %d Hz)" % (name, size, rate))


def maps_and_segments(text):
    """[(map uri, discontinuity before it, first segment uri after it)] of a playlist."""
    out, disc, cur = [], False, None
    for line in text.splitlines():
        if line.startswith("#EXT-X-DISCONTINUITY") and not line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE"):
            disc = True
        elif line.startswith("#EXT-X-MAP:"):
            cur = [line.split('URI="', 1)[1].split('"', 1)[0], disc, None]
            out.append(cur)
        elif line and not line.startswith("#") and cur is not None and cur[2] is None:
            cur[2] = line
        if line and not line.startswith("#"):
            disc = False
    return out


def probe_pair(t, folder, init, seg, label):
    path = t.path(label)
    with open(path, "wb") as out:
        for name in (init, seg):
            with open(os.path.join(folder, name), "rb") as f:
                out.write(f.read())
    streams, _ = h.probe_streams(path)
    ru.decode(path, label)
    v = [s for s in streams if s.get("codec_type") == "video"][0]
    a = [s for s in streams if s.get("codec_type") == "audio"][0]
    return "%sx%s" % (v.get("width"), v.get("height")), int(a.get("sample_rate"))


def run(t, pod, sid, first, second, want):
    data = b""
    for f in (first, second):
        with open(f, "rb") as fh:
            data += fh.read()
    sender = h.PacedSender(t, pod, sid, data, 2 * PART).start()
    try:
        sender.wait_sent(30)
        # the live LL-HLS playlist across the change keeps the rules (maps, parts, hints)
        st, text, _ = ll.get_playlist(pod, sid, "")
        live = ll.LLPlaylist(text)
        h.check(st == 200 and not live.problems and text.count("#EXT-X-MAP:") == 2,
                "%s: live playlist (%d) with problems %r or not two maps:\n%s" % (sid, st, live.problems, text))
    finally:
        sender.close()
    ru.wait_no_publisher(pod, sid)
    ru.wait_finalized(pod, sid, 15)
    folder = ru.rec_dir(pod, sid)
    text = ru.disk_text(pod, sid)
    maps = maps_and_segments(text)
    h.check(len(maps) == 2 and not maps[0][1] and maps[1][1] and maps[1][2],
            "%s: expected two EXT-X-MAPs, the second after an EXT-X-DISCONTINUITY: %r\n%s" % (sid, maps, text))
    got = [probe_pair(t, folder, m[0], m[2], "%s-%d.mp4" % (sid, i)) for i, m in enumerate(maps)]
    h.note("%s: init sections %r" % (sid, got))
    h.check(got == want, "%s: the init sections describe %r, expected %r" % (sid, got, want))
    said = pod.log_lines_matching(lambda f, _l: f.get("session") == sid
                                  and "parameters changed" in f.get("msg", ""))
    h.check(len(said) == 1, "%s: expected one 'parameters changed' line, got %r" % (sid, said))


def media(t):
    """The first file and the two second ones (size change, rate change)."""
    return (encode(t, "a.ts", "640x360", 48000, 0),
            encode(t, "b-size.ts", "1280x720", 48000, PART),
            encode(t, "b-rate.ts", "640x360", 44100, PART))


def run_both(t, pod, run, files, expected=lambda _f: False):
    """run(t, pod, sid, first, second, want) for both sessions at once; then
    no warn or error line but those expected(fields) accepts."""
    a, b_size, b_rate = files
    h.parallel(lambda: run(t, pod, "size", a, b_size, [("640x360", 48000), ("1280x720", 48000)]),
               lambda: run(t, pod, "rate", a, b_rate, [("640x360", 48000), ("640x360", 44100)]))
    errors = pod.log_lines_matching(lambda f, _l: f.get("level") in ("warn", "error")
                                    and not expected(f))
    h.check(not errors, "Podium logged problems: %r" % errors[:3])


def main(t):
    files = media(t)
    pod = ru.podium(t, SESSIONS, close_after=1, start=False)
    with open(pod.conf_path) as f:
        text = f.read()
    with open(pod.conf_path, "w") as f:
        f.write(text.replace("\n[hls]\n", "\n[hls]\nformat = fmp4\npart_duration = 0.2\n", 1))
    ru.start_pod(pod)
    run_both(t, pod, run, files)


if __name__ == "__main__":
    h.run(main)
