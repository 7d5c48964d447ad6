"""Helpers for the recording end-to-end tests (test_rec_*.py). Python 3 stdlib only.

Builds on harness.py (imported, not modified): podiums with an admin token and
extra environment, kill -9 / restart on the same data_dir, the organizer API,
the recording folder and its playlist, decoding with real ffmpeg/ffprobe, MP4
box scanning."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ADMIN_TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": "Bearer " + ADMIN_TOKEN}
FPS = 30          # publisher frame rate (harness.ffmpeg_cmd default)
GOP = 1.0         # publisher GOP in seconds (-g 30 at 30 fps)
SEG = 1.0         # segment_duration used by these tests

_env_lock = threading.Lock()
_create_lock = threading.Lock()


# ---------------------------------------------------------------- podium

def podium(t, sessions, close_after=2, start=True, env=None, data_dir=None,
           admin_token=ADMIN_TOKEN, **kw):
    """A harness Podium with [server] admin_token set (admin_token=None: none,
    Podium generates data_dir/admin.token), optionally another data_dir and
    extra environment variables for the podium process."""
    kw.setdefault("segment_duration", SEG)
    with _create_lock:      # harness names podiums by count: no two threads at once
        pod = t.podium(sessions, start=False, close_after=close_after, **kw)
    with open(pod.conf_path) as f:
        text = f.read()
    if admin_token is not None:
        text = text.replace("[server]\n", "[server]\nadmin_token = %s\n" % admin_token, 1)
    if data_dir is not None:
        text = re.sub(r'(?m)^data_dir\s*=.*$', "data_dir    = %s" % data_dir, text, count=1)
        pod.data_dir = data_dir
    with open(pod.conf_path, "w") as f:
        f.write(text)
    pod.rec_env = dict(env or {})
    pod.generation = 0
    if start:
        start_pod(pod)
    return pod


def start_pod(pod):
    """Start (or restart) pod's process with its extra environment. The podium
    process inherits os.environ at spawn time; it is restored right after (under
    a lock, so podiums started from parallel threads do not inherit each other's)."""
    with _env_lock:
        env = getattr(pod, "rec_env", {})
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            pod.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return pod


def kill9(pod):
    """SIGKILL exactly this podium's PID and reap it."""
    h.check(pod.proc.poll() is None, "podium %s already dead before kill -9 (exit %s)"
            % (pod.name, pod.proc.returncode))
    h.kill_proc(pod.proc, signal.SIGKILL)
    h.note("%s killed with SIGKILL (pid %d)" % (pod.name, pod.proc.pid))


def restart(pod):
    """Start a new process on the same config and data_dir after the old one
    exited. The old log is kept as podium.log.<n>."""
    h.check(pod.proc is None or pod.proc.poll() is not None, "restart: old podium still running")
    pod.generation = getattr(pod, "generation", 0) + 1
    old = "%s.%d" % (pod.log_path, pod.generation)
    if os.path.exists(pod.log_path):
        os.rename(pod.log_path, old)
    pod.old_logs = getattr(pod, "old_logs", []) + [old]
    pod.proc = None
    pod.stopped = False
    return start_pod(pod)


# ---------------------------------------------------------------- API

def post(pod, sid, action, body=None, token=True, raw=None):
    """POST /api/v1/sessions/<sid>/<action>; body is JSON-encoded, raw is sent as is."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    headers = pod.admin_auth() if token else {}
    if body is not None or raw is not None:
        headers["Content-Type"] = "application/json"
    return pod.request("POST", "/api/v1/sessions/%s/%s" % (sid, action), data=data, headers=headers)


def rec_json(pod, sid):
    """The recording as the organizer sees it (attendees see an unpublished
    one of an ended session as no recording at all)."""
    return pod.api(sid, organizer=True).get("recording") or {}


def wait_rec(pod, sid, pred, timeout, what):
    """Poll the session JSON until pred(recording_json) holds; return that JSON."""
    def cond():
        pod.assert_running()
        r = rec_json(pod, sid)
        return r if pred(r) else None
    return h.wait_for(cond, timeout, what, interval=0.2)


def wait_finalized(pod, sid, timeout):
    return wait_rec(pod, sid, lambda r: r.get("state") == "finalized", timeout,
                    "recording of %s to be finalized (API recording.state == finalized)" % sid)


def export(pod, sid, body, what):
    """POST .../publish with body (a trim, or {}) and wait until the MP4
    export of that start is done; returns the export JSON."""
    r = post(pod, sid, "publish", body=body)
    h.check(r.status == 202, "%s: publish %r -> %d: %r" % (what, body, r.status, r.body[:200]))

    def done():
        x = rec_json(pod, sid)["export"]
        h.check(x.get("state") in ("running", "done"), "%s: export state %r" % (what, x))
        return x if x.get("state") == "done" and x.get("start") == body.get("start", 0) else None
    return h.wait_for(done, 30, "%s: export done" % what)


def export_path(pod, sid):
    return os.path.join(rec_dir(pod, sid), "%s.mp4" % sid)


def hls_options(pod, lines):
    """Adds lines (e.g. "format = fmp4\n") to the [hls] section of a podium
    not started yet."""
    with open(pod.conf_path) as f:
        text = f.read()
    with open(pod.conf_path, "w") as f:
        f.write(text.replace("\n[hls]\n", "\n[hls]\n" + lines, 1))


def send_recorded(t, pod, sid, data, seconds):
    """Sends MPEG-TS bytes over SRT paced over `seconds` (srt-live-transmit),
    then waits until the publisher has left and the recording is finalized
    (needs a short close_after)."""
    sender = h.PacedSender(t, pod, sid, data, seconds).start()
    try:
        sender.wait_sent(30)
    finally:
        sender.close()
    wait_no_publisher(pod, sid)
    wait_finalized(pod, sid, 15)


def wait_no_publisher(pod, sid, timeout=15):
    h.wait_for(lambda: pod.api(sid).get("publisher") is None, timeout,
               "API publisher=null for %s (dropped publisher detected)" % sid)


# ---------------------------------------------------------------- recording on disk

def rec_dir(pod, sid):
    return os.path.join(pod.data_dir, "recordings", sid)


def disk_text(pod, sid):
    with open(os.path.join(rec_dir(pod, sid), "index.m3u8")) as f:
        return f.read()


def disk_segments(pod, sid):
    """Sequence numbers of the complete <n>.ts files in the recording folder."""
    d = rec_dir(pod, sid)
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return []
    return sorted(int(n[:-3]) for n in names if re.fullmatch(r'\d+\.ts', n))


def uri_seq(uri):
    m = re.fullmatch(r'(\d+)\.ts', uri)
    h.check(m, "recording playlist lists %r, expected <n>.ts" % uri)
    return int(m.group(1))


def check_rec_playlist(text, where, folder=None, ended=None):
    """Validate a recording playlist; return the harness Playlist.

    Recording playlists list <n>.ts by the segment's global number, which may
    skip numbers (segments lost to a gap or a crash) while MEDIA-SEQUENCE only
    counts the listed entries, so the harness' "<n>.ts == sequence number" rule
    for live playlists is not applied; numbers must strictly increase instead.
    folder: every listed file must exist there, be non-empty MPEG-TS."""
    pl = h.Playlist(text)
    problems = [p for p in pl.problems if "expected" not in p or "(sequence number)" not in p]
    h.check(not problems, "%s: recording playlist problems:\n  - %s\n%s"
            % (where, "\n  - ".join(problems), text))
    h.check(pl.segments, "%s: recording playlist lists no segment:\n%s" % (where, text))
    seqs = [uri_seq(s.uri) for s in pl.segments]
    h.check(all(b > a for a, b in zip(seqs, seqs[1:])),
            "%s: segment numbers do not strictly increase: %r" % (where, seqs))
    for s in pl.segments:
        h.check(not s.uri.endswith(".tmp") and ".tmp" not in s.uri,
                "%s: playlist lists a temporary file %r" % (where, s.uri))
    types = re.findall(r'(?m)^#EXT-X-PLAYLIST-TYPE:(\S+)\s*$', text)
    if ended is True:
        h.check(pl.endlist, "%s: expected #EXT-X-ENDLIST (finalized recording):\n%s" % (where, text))
        h.check(types == ["VOD"], "%s: expected #EXT-X-PLAYLIST-TYPE:VOD, found %r" % (where, types))
    elif ended is False:
        h.check(not pl.endlist, "%s: unexpected #EXT-X-ENDLIST (recording should be open):\n%s"
                % (where, text))
        h.check(types == ["EVENT"], "%s: expected #EXT-X-PLAYLIST-TYPE:EVENT, found %r" % (where, types))
    if folder is not None:
        for s in pl.segments:
            p = os.path.join(folder, s.uri)
            h.check(os.path.isfile(p), "%s: listed segment %s does not exist in %s" % (where, s.uri, folder))
            size = os.path.getsize(p)
            with open(p, "rb") as f:
                first = f.read(1)
            h.check(size > 0 and size % 188 == 0 and first == b"\x47",
                    "%s: listed segment %s is not complete MPEG-TS (%d bytes)" % (where, s.uri, size))
    return pl


def sha256(path):
    d = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            d.update(chunk)
    return d.hexdigest()


def local_copy(src_dir, text, dest_dir, endlist=True):
    """Copy a playlist (text) and the segments it lists into dest_dir, appending
    #EXT-X-ENDLIST when missing; return the playlist path."""
    os.makedirs(dest_dir, exist_ok=True)
    pl = h.Playlist(text)
    for s in pl.segments:
        shutil.copyfile(os.path.join(src_dir, s.uri), os.path.join(dest_dir, s.uri))
    if endlist and "#EXT-X-ENDLIST" not in text:
        text = text.rstrip("\n") + "\n#EXT-X-ENDLIST\n"
    path = os.path.join(dest_dir, "index.m3u8")
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------- decoding

# ffmpeg's HLS reader may complain at a #EXT-X-DISCONTINUITY (FIELD-NOTES); that
# is the reader, not the file. Anything else on stderr at -v error is a failure.
READER_NOISE = re.compile(r'non monotonically increasing dts|Non-monotonous DTS|'
                          r'Application provided invalid, non monotonically', re.I)


def decode(src, what, headers=None, timeout=90, allow_disc_noise=False):
    """Decode src (file or URL) end to end with ffmpeg -f null; fail on a
    non-zero exit or any error output. Returns (video_frames, out_time_s)."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-progress", "pipe:1"]
    if headers:
        cmd += ["-headers", "".join("%s: %s\r\n" % kv for kv in headers.items())]
    cmd += ["-i", src, "-map", "0", "-f", "null", "-"]
    rc, out, err = h.run_capture(cmd, timeout, "ffmpeg decode of %s" % what)
    lines = [l for l in err.splitlines() if l.strip()]
    if allow_disc_noise:
        lines = [l for l in lines if not READER_NOISE.search(l)]
    h.check(rc == 0, "ffmpeg decoding %s exited %d:\n%s" % (what, rc, err.strip()[-1500:]))
    h.check(not lines, "ffmpeg decoding %s reported errors:\n%s" % (what, "\n".join(lines[:30])))
    frames = out_us = None
    for l in out.splitlines():
        k, _, v = l.partition("=")
        if k == "frame":
            frames = int(v)
        elif k == "out_time_us" and v.strip().lstrip("-").isdigit():
            out_us = int(v)
    h.check(frames is not None, "ffmpeg decoding %s printed no progress:\n%s" % (what, out[-500:]))
    return frames, (out_us or 0) / 1e6


def check_first_video_key(path, what=None):
    """The first video packet of path carries the keyframe flag and the first
    decoded video frame is a keyframe."""
    what = what or path
    j = h.ffprobe_json(["-select_streams", "v:0", "-show_packets", "-read_intervals", "%+#1",
                        "-show_entries", "packet=pts,dts,flags", path], what="ffprobe first packet of %s" % what)
    pk = j.get("packets", [])
    h.check(pk, "%s: no video packet" % what)
    h.check("K" in pk[0].get("flags", ""), "%s: first video packet is not a keyframe (flags=%r)"
            % (what, pk[0].get("flags")))
    j = h.ffprobe_json(["-select_streams", "v:0", "-show_frames", "-read_intervals", "%+#1",
                        "-show_entries", "frame=key_frame,pict_type", path], what="ffprobe first frame of %s" % what)
    fr = j.get("frames", [])
    h.check(fr and int(fr[0].get("key_frame", 0)) == 1,
            "%s: first decoded video frame is not a keyframe: %r" % (what, fr[:1]))


def probe_duration(src, what):
    j = h.ffprobe_json(["-show_entries", "format=duration:stream=codec_type,codec_name", src],
                       what="ffprobe %s" % what)
    try:
        dur = float(j.get("format", {}).get("duration"))
    except (TypeError, ValueError):
        h.fail("ffprobe %s: no duration in %r" % (what, j.get("format")))
    return dur, sorted(s.get("codec_type") for s in j.get("streams", []))


# ---------------------------------------------------------------- clean shutdown

def stop_while_recording(pod, sid, sig=signal.SIGTERM, segments=4, timeout=20):
    """Publish to sid until `segments` segments are on disk, then stop podium
    with sig while the publisher is still sending (the harness: exit 0 within
    5 s); the publisher is killed afterwards. Returns the seconds to exit."""
    pub = pod.publish(sid, duration=60)
    h.wait_for(lambda: (pod.assert_running() or True) and pub.poll() is None
               and len(disk_segments(pod, sid)) >= segments, timeout,
               "%d recorded segments of %s while live" % (segments, sid))
    took = pod.stop(sig)
    pub.kill()
    return took


def check_shutdown_recording(t, pod, sid, what, min_segments=4):
    """The recording a clean shutdown left: finalized (VOD + #EXT-X-ENDLIST),
    every listed segment complete MPEG-TS, at least min_segments of them, no
    .tmp file, and it decodes end to end. Returns (playlist text, Playlist)."""
    folder = rec_dir(pod, sid)
    text = disk_text(pod, sid)
    pl = check_rec_playlist(text, what, folder=folder, ended=True)
    seqs = [uri_seq(s.uri) for s in pl.segments]
    h.check(len(seqs) >= min_segments, "%s lists %r, expected >= %d segments" % (what, seqs, min_segments))
    leftovers = [n for n in os.listdir(folder) if n.endswith(".tmp")]
    h.check(not leftovers, "%s: .tmp files left after a clean shutdown: %r" % (what, leftovers))
    decode(local_copy(folder, text, t.path("copy-%s" % sid)), what)
    return text, pl


# ---------------------------------------------------------------- publishers

def progress_publish(t, pod, sid, duration, label=None):
    """Publish with ffmpeg writing -progress to a file; returns (publisher, progress_path)."""
    t._rec_n = getattr(t, "_rec_n", 0) + 1
    path = os.path.join(t.tmp, "progress-%s-%d.txt" % (sid, t._rec_n))
    pub = t.publisher(pod.srt_url(sid), duration=duration, label=label or sid,
                      extra_out=("-progress", path, "-stats_period", "0.1"))
    pub.progress_path = path
    return pub


def sent_seconds(pub):
    """Latest out_time ffmpeg reported in its -progress file (media muxed and sent)."""
    try:
        with open(pub.progress_path) as f:
            txt = f.read()
    except FileNotFoundError:
        return 0.0
    vals = [int(v) for v in re.findall(r'(?m)^out_time_us=(\d+)$', txt)]
    return vals[-1] / 1e6 if vals else 0.0


# ---------------------------------------------------------------- MP4

def mp4_top_boxes(path):
    """[(type, offset, size)] of the top-level ISO BMFF boxes; fails on a broken layout."""
    boxes = []
    size_total = os.path.getsize(path)
    with open(path, "rb") as f:
        off = 0
        while off < size_total:
            f.seek(off)
            hdr = f.read(8)
            h.check(len(hdr) == 8, "%s: truncated box header at offset %d" % (path, off))
            size = int.from_bytes(hdr[:4], "big")
            typ = hdr[4:8].decode("latin-1")
            if size == 1:
                size = int.from_bytes(f.read(8), "big")
            elif size == 0:
                size = size_total - off
            h.check(size >= 8 and off + size <= size_total,
                    "%s: box %r at offset %d has bad size %d (file %d bytes)" % (path, typ, off, size, size_total))
            boxes.append((typ, off, size))
            off += size
    return boxes


# ---------------------------------------------------------------- tmpfs

_mounts = []


def _umount_all():
    for d in reversed(_mounts):
        subprocess.run(["umount", "-l", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    del _mounts[:]


import atexit  # noqa: E402
atexit.register(_umount_all)


def try_mount_tmpfs(d, size):
    """Mount a size-limited tmpfs on d; False (with a note) when not possible."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        h.note("tmpfs variant skipped: not root or no mount(8)")
        return False
    os.makedirs(d, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", d],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        h.note("tmpfs variant skipped: mount failed: %s" % r.stdout.decode(errors="replace").strip())
        return False
    _mounts.append(d)
    return True


def try_mount_ext4(d, image, size_mib):
    """Mount a new ext4 of size_mib on d from a loop image; False (with a
    note) when not possible (not root, no mkfs.ext4, no loop device)."""
    if os.geteuid() != 0 or not (shutil.which("mount") and shutil.which("mkfs.ext4")):
        h.note("ext4 variant skipped: not root, or no mount(8) / mkfs.ext4")
        return False
    os.makedirs(d, exist_ok=True)
    with open(image, "wb") as f:
        f.truncate(size_mib << 20)
    for argv in (["mkfs.ext4", "-q", "-F", image], ["mount", "-o", "loop", image, d]):
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            h.note("ext4 variant skipped: %s failed: %s"
                   % (argv[0], r.stdout.decode(errors="replace").strip()))
            return False
    _mounts.append(d)
    return True


def remount_tmpfs(d, size):
    r = subprocess.run(["mount", "-o", "remount,size=%s" % size, d],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    h.check(r.returncode == 0, "remount of %s to size %s failed: %s" % (d, size, r.stdout.decode(errors="replace")))


def umount(d):
    if d in _mounts:
        r = subprocess.run(["umount", d], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _mounts.remove(d)


def old_log_tails(pod, n=40):
    out = []
    for p in getattr(pod, "old_logs", []):
        out.append("--- tail of %s:\n%s" % (p, h.tail(p, n)))
    return "\n".join(out)
