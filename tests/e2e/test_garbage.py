#!/usr/bin/env python3
"""Garbage over an authenticated SRT connection never breaks podium.

Phase 1: random bytes, sent on and on: podium refuses them and closes the
connection within 8 s of the first byte, while they keep coming (it used to
read them until the sender hung up, the session "live" all along).
Phase 2: 1 MB of "structured garbage": valid
PAT/PMT announcing H.264 + AAC, then PES packets with valid headers, random
timestamps and random payload (reaches the demuxer/parsers, not only the sync
search). Both pushed with srt-live-transmit from a paced pipe. Afterwards
/healthz answers and a real ffmpeg publisher produces a playable playlist.
Meanwhile, on two other sessions, publishers that connect and go quiet: one
sends nothing, one sends PAT/PMT and a few packets then nothing. Podium's
reads are bounded while it probes: each connection is closed within 13 s (10 s
limits), with a warn line (before, they were held for as long as they stayed
connected)."""
import json
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SID = "keynote"
PASS = "keynote-secret-123"
CHUNK = 1316
MB = 1 << 20


def crc32_mpeg(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def ts_packet(pid, payload, pusi, cc):
    hdr = struct.pack(">BHB", 0x47, (0x4000 if pusi else 0) | pid, 0x10 | (cc & 0xF))
    body = payload[:184]
    if len(body) < 184:
        body = body + b"\xff" * (184 - len(body))
    return hdr + body


def psi(table_id, ext, body):
    sec = struct.pack(">BHHBBB", table_id, 0xB000 | (len(body) + 9), ext, 0xC1, 0, 0) + body
    sec += struct.pack(">I", crc32_mpeg(sec))
    return b"\x00" + sec  # pointer field


def pts_bytes(marker, pts):
    return struct.pack(">BHH", (marker << 4) | (((pts >> 30) & 7) << 1) | 1,
                       (((pts >> 15) & 0x7FFF) << 1) | 1, ((pts & 0x7FFF) << 1) | 1)


def structured_garbage(size, rng):
    pat = psi(0x00, 1, struct.pack(">HH", 1, 0xE000 | 0x1000))
    pmt_body = struct.pack(">HH", 0xE000 | 0x100, 0xF000)
    pmt_body += struct.pack(">BHH", 0x1B, 0xE000 | 0x100, 0xF000)   # H.264
    pmt_body += struct.pack(">BHH", 0x0F, 0xE000 | 0x101, 0xF000)   # AAC ADTS
    pmt = psi(0x02, 1, pmt_body)
    out = bytearray()
    cc = {0: 0, 0x1000: 0, 0x100: 0, 0x101: 0}
    n = 0
    while len(out) < size:
        if n % 40 == 0:
            out += ts_packet(0, pat, True, cc[0]); cc[0] += 1
            out += ts_packet(0x1000, pmt, True, cc[0x1000]); cc[0x1000] += 1
        pid = rng.choice((0x100, 0x101))
        if rng.random() < 0.3:
            sid = 0xE0 if pid == 0x100 else 0xC0
            pts = rng.getrandbits(33)
            pes = b"\x00\x00\x01" + bytes([sid]) + b"\x00\x00" + b"\x80\x80\x05" + pts_bytes(2, pts)
            if pid == 0x100 and rng.random() < 0.5:
                pes += b"\x00\x00\x00\x01\x09\xf0\x00\x00\x00\x01" + bytes([rng.choice((0x65, 0x41, 0x67, 0x68))])
            payload = pes + rng.randbytes(184 - len(pes))
            out += ts_packet(pid, payload, True, cc[pid])
        else:
            out += ts_packet(pid, rng.randbytes(184), False, cc[pid])
        cc[pid] += 1
        if rng.random() < 0.01:
            cc[pid] += rng.randint(1, 5)  # continuity errors too
        n += 1
    return bytes(out[:size - size % 188])


def last_stats(path):
    """Cumulative send counters from srt-live-transmit's JSON stats file."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            return json.loads(line).get("send", {})
        except ValueError:
            continue
    return None


def push(t, pod, data, label, refused_within=None):
    """Send data (then the same data again, paced, until at least len(data) has
    been sent) over one SRT connection; close it gracefully; return the number
    of packets srt-live-transmit reported sent. refused_within: keep sending
    until podium closes the connection, which must happen within this many
    seconds."""
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    stats = t.path("%s-stats.json" % label)
    log = t.path("%s-slt.log" % label)
    url = "srt://127.0.0.1:%d?streamid=%s&passphrase=%s&latency=120" % (pod.srt_port, SID, PASS)
    cmd = ["srt-live-transmit", "-a:no", "-c:%d" % CHUNK, "-s:10", "-f", "-pf:json",
           "-statsout:%s" % stats, "file://con", url]
    p = h.spawn(cmd, "srt-live-transmit " + label, log_path=log, stdin=subprocess.PIPE)
    h.note("%s: srt-live-transmit pid %d, %d bytes in %d chunks" % (label, p.pid, len(data), len(chunks)))
    stop = threading.Event()

    def feed():
        # srt-live-transmit's stats lag behind its input, so keep feeding (the
        # same garbage again) until the stats show all of it was sent.
        try:
            i = 0
            while not stop.is_set():
                p.stdin.write(chunks[i % len(chunks)])
                p.stdin.flush()
                i += 1
                if i % 10 == 0:
                    time.sleep(0.02)  # pacing (live mode drops unpaced input), not synchronisation
        except (BrokenPipeError, OSError):
            pass

    th = threading.Thread(target=feed, daemon=True)
    p_started = time.monotonic()
    th.start()
    sent = [0]
    try:
        def serving_and_delivered():
            pod.assert_running()
            h.check(pod.get("/healthz").status == 200, "/healthz not 200 while receiving %s garbage" % label)
            if p.poll() is not None:
                return "srt-live-transmit exited (%d)" % p.returncode
            if "disconnected" in h.tail(log, 20):
                return "podium closed the connection"
            sent[0] = (last_stats(stats) or {}).get("packets", 0)
            if sent[0] >= len(chunks) and not refused_within:
                return "sent %d packets" % sent[0]
            return None
        try:
            how = h.wait_for(serving_and_delivered, refused_within or 30,
                             "%s: garbage delivered (or connection closed by podium)" % label
                             if not refused_within else
                             "%s: podium closing the connection while garbage keeps coming" % label)
        except h.TestFailure as e:
            h.fail("%s\nsrt-live-transmit sent %d packets (%d chunks of garbage)" % (e, sent[0], len(chunks)))
        h.note("%s: %s after %.1f s" % (label, how, time.monotonic() - p_started))
        out = h.tail(log, 50)
        h.check("connected" in out.lower(),
                "%s: srt-live-transmit never connected with streamid=%s and the right passphrase:\n%s"
                % (label, SID, out))
    finally:
        # stop feeding, EOF, then SIGINT (srt-live-transmit ignores SIGINT while
        # input keeps coming and does not exit at EOF); SIGKILL if it hangs
        stop.set()
        th.join(timeout=10)
        try:
            p.stdin.close()
        except OSError:
            pass
        h.kill_proc(p, signal.SIGINT)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            h.note("%s: srt-live-transmit ignored SIGINT, killing it" % label)
            h.kill_proc(p)
    h.check(pod.get("/healthz").status == 200, "/healthz not 200 after %s garbage" % label)
    pod.assert_running()
    return sent[0]


def warn_lines(pod):
    return pod.log_lines_matching(lambda f, l: f.get("level") in ("warn", "error") and f.get("session") == SID)


QUIET = {"silent": "silent-secret-123", "stalled": "stalled-secret-12"}


def quiet(t, pod, sid, data, limit, msg):
    """Connect, send data (maybe nothing), then stay connected and send nothing:
    podium must close the connection within limit seconds, with a warn line."""
    url = "srt://127.0.0.1:%d?streamid=%s&passphrase=%s&latency=120" % (pod.srt_port, sid, QUIET[sid])
    p = h.spawn(["srt-live-transmit", "-a:no", "-c:%d" % CHUNK, "file://con", url],
                "srt-live-transmit " + sid, log_path=t.path("%s-slt.log" % sid), stdin=subprocess.PIPE)
    try:
        h.wait_for(lambda: pod.api(sid).get("publisher") is not None, 10, "%s: connected" % sid)
        t0 = time.monotonic()
        if data:
            p.stdin.write(data)
            p.stdin.flush()
        h.wait_for(lambda: pod.api(sid).get("publisher") is None, limit,
                   "%s: podium to close a connection that went quiet" % sid)
        h.note("%s: closed %.1f s after %s" % (sid, time.monotonic() - t0,
                                               "its first bytes" if data else "it connected"))
        lines = pod.log_lines_matching(lambda f, _l: f.get("session") == sid and f.get("level") == "warn")
        h.check(any(f_msg in l for l in lines for f_msg in msg),
                "%s: expected a warn line saying %r, got %r" % (sid, msg, lines))
    finally:
        h.kill_proc(p)


def garbage(t, pod):
    rng = random.Random(0x90D1)  # reproducible garbage
    started = time.monotonic()

    n_warn = len(warn_lines(pod))
    push(t, pod, rng.randbytes(MB), "random", refused_within=8)
    # DESIGN: input that is not H.264/HEVC/AAC/Opus/MP3 in MPEG-TS "is refused with a log line"
    h.wait_for(lambda: len(warn_lines(pod)) > n_warn, 10,
               "a level=warn log line for session %s refusing the random bytes" % SID)
    h.note("random: %s" % warn_lines(pod)[n_warn])
    push(t, pod, structured_garbage(MB, rng), "structured")
    j = pod.api(SID)
    h.check(j.get("segments") == 0, "garbage produced %r segments" % j.get("segments"))
    r = pod.get("/live/%s/index.m3u8" % SID)
    h.check(r.status == 404, "garbage produced a playlist (HTTP %d)" % r.status)

    pub = pod.publish(SID, duration=7)
    w = pod.watch(SID)
    w.wait_segments(4, 20, "4 segments from the valid publisher after the garbage")
    pub.wait_ok(20)
    h.wait_for(lambda: pod.api(SID).get("publisher") is None, 10, "API publisher=null at the end")
    w.wait_polls(3)
    w.stop()
    w.assert_ok()
    h.check(pod.get("/healthz").status == 200, "/healthz not 200 at the end")
    h.check(not w.disc_seqs(), "discontinuities at %r: the garbage made segments?" % w.disc_seqs())
    for q in w.seen_seqs():
        h.check_segment(w.segment_path(q))
    h.check_timestamp_continuity(w)
    final, _, _ = w.snapshot()
    local = h.closed_copy(w, final, os.path.join(w.dir, "closed.m3u8"))
    rc, _, err = h.run_capture(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", local,
                                "-f", "null", "-"], 60, "ffmpeg decoding the playlist")
    h.check(rc == 0, "ffmpeg could not decode the playlist after garbage (exit %d): %s" % (rc, err[-600:]))

    # libav complains about every broken packet: at most 20 lines per 10 s
    # reach the log, and a count of the rest
    libav = [f for f in pod.log_records() if f.get("msg", "").startswith("libav: ")]
    windows = (time.monotonic() - started) / 10 + 2
    h.check(len(libav) <= 20 * windows, "%d libav lines in %.0f s: not rate-limited"
            % (len(libav), time.monotonic() - started))
    left_out = sum(int(f.get("count", "0")) for f in pod.log_records()
                   if f.get("msg", "").startswith("libav: messages not logged"))
    h.note("libav: %d lines logged, %d left out" % (len(libav), left_out))



def main(t):
    sessions = {SID: {"title": "Keynote", "passphrase": PASS}}
    sessions.update({sid: {"title": sid, "passphrase": pw} for sid, pw in QUIET.items()})
    pod = t.podium(sessions)
    head = structured_garbage(70 * CHUNK, random.Random(7))   # PAT/PMT, 92 KB of PES
    # the first byte must come within 10 s of the connection, the streams be
    # identified within 10 s of it: a publisher going quiet does not stop the clock
    h.parallel(lambda: garbage(t, pod),
               lambda: quiet(t, pod, "silent", b"", 13, ["publisher refused: nothing sent"]),
               lambda: quiet(t, pod, "stalled", head, 13, ["publisher refused: its streams could not be identified",
                                                          "publisher refused: not an MPEG-TS stream"]))


if __name__ == "__main__":
    h.run(main, tools=("ffmpeg", "ffprobe", "srt-live-transmit"))
