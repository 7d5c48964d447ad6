#!/usr/bin/env python3
"""Recording survives a full disk: gap logged and listed, live unaffected.

Simulated (PODIUM_TEST_FAULT_ENOSPC flag file; always runs):
- publish; after a few recorded segments create the flag: API
  recording.write_errors > 0, a level=error "recording gap" log line, no new
  segment files while the live playlist keeps advancing (the lost segments are
  served live, also just after they leave the playlist);
- remove the flag: recording resumes; after the organizer ends the session the
  finalized playlist shows exactly one #EXT-X-DISCONTINUITY, before the first
  segment after the gap; the numbers skip exactly the lost segments; the API
  gaps entry says after_seq / segments_lost / reason; the segments written
  before the fault are byte-identical to what they were before; the recording
  decodes.

Real, on two filesystems as data_dir (each when running as root and mount
works; else skipped with a note): a tmpfs of 1 MiB, where live segments live
in memfds; and an ext4 loop image with 1 MiB left, where they live in
data_dir's page cache until the disk refuses them, then in memfds (a warn
line says so). The same session fills the disk for real; the live playlist
keeps advancing and every live segment downloads; then space comes back and
the recording resumes after a DISCONTINUITY (a gap before the first recorded
segment, as the ext4 one often is, has after_seq null in the JSON, "none" in
the log, and the recording simply starts after it); the playlist stays valid
(every listed segment complete) and decodes."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "panel"
PASS = "panel-secret-5150"
CLOSE_AFTER = 3
ENOSPC_REASON = os.strerror(28)   # "No space left on device"


def listed(pod):
    try:
        return [ru.uri_seq(s.uri) for s in h.Playlist(ru.disk_text(pod, SID)).segments]
    except FileNotFoundError:
        return []


def end_session(pod):
    r = ru.post(pod, SID, "end")       # 200 if close_after ended it first
    h.check(r.status in (200, 202), "POST /api/v1/sessions/%s/end -> %d, expected 202 or 200"
            % (SID, r.status))
    ru.wait_finalized(pod, SID, 10)


def check_gap_playlist(pod, text, gap, where):
    """One DISCONTINUITY, right after the gap; numbers skip exactly the lost segments."""
    folder = ru.rec_dir(pod, SID)
    pl = ru.check_rec_playlist(text, where, folder=folder, ended=True)
    seqs = [ru.uri_seq(s.uri) for s in pl.segments]
    after, lost = gap["after_seq"], gap["segments_lost"]
    h.check(after in seqs, "%s: gap after_seq %d is not in the recording %r" % (where, after, seqs))
    i = seqs.index(after)
    h.check(i + 1 < len(seqs), "%s: nothing recorded after the gap (after %d.ts)" % (where, after))
    nxt = pl.segments[i + 1]
    h.check(seqs[i + 1] == after + lost + 1,
            "%s: after %d.ts the recording continues with %d.ts, but the gap lost %d segments "
            "(expected %d.ts)" % (where, after, seqs[i + 1], lost, after + lost + 1))
    h.check(nxt.disc, "%s: no #EXT-X-DISCONTINUITY before %s, the first segment after the gap:\n%s"
            % (where, nxt.uri, text))
    discs = [ru.uri_seq(s.uri) for s in pl.segments if s.disc]
    h.check(discs == [seqs[i + 1]], "%s: expected one #EXT-X-DISCONTINUITY (before %d.ts), found before %r"
            % (where, seqs[i + 1], discs))
    h.check(seqs[:i + 1] == list(range(seqs[0], after + 1)) and seqs[i + 1:] == list(range(seqs[i + 1], seqs[-1] + 1)),
            "%s: numbers skip more than the gap: %r" % (where, seqs))
    for q in range(after + 1, after + lost + 1):
        h.check(not os.path.exists(os.path.join(folder, "%d.ts" % q)),
                "%s: %d.ts, lost in the gap, exists on disk" % (where, q))
    return pl, seqs


def simulated(t):
    flag = t.path("enospc.flag")
    pod = ru.podium(t, {SID: {"title": "Panel", "passphrase": PASS}}, close_after=CLOSE_AFTER,
                    env={"PODIUM_TEST_FAULT_ENOSPC": flag})
    pod.publish(SID, duration=60)
    w = pod.watch(SID, allow_endlist=True)
    folder = ru.rec_dir(pod, SID)
    h.wait_for(lambda: (pod.assert_running() or True) and len(listed(pod)) >= 3, 20,
               "3 segments recorded before the fault")
    before = {q: ru.sha256(os.path.join(folder, "%d.ts" % q)) for q in ru.disk_segments(pod, SID)}

    open(flag, "w").close()
    h.note("simulated: fault flag created (ENOSPC on every segment write)")
    rj = ru.wait_rec(pod, SID, lambda r: r.get("write_errors", 0) > 0, 10, "recording.write_errors > 0")
    files_at_fault = ru.disk_segments(pod, SID)
    live_at_fault = h.wait_for(lambda: w.newest() is not None and (w.newest(),), 5,
                               "the live playlist to be polled")[0]
    h.wait_for(lambda: w.newest() >= live_at_fault + 3, 10,
               "the live playlist to advance 3 segments while recording writes fail")
    h.check(ru.disk_segments(pod, SID) == files_at_fault,
            "new segment files appeared while every write fails: %r -> %r"
            % (files_at_fault, ru.disk_segments(pod, SID)))
    rj = ru.rec_json(pod, SID)
    h.check(rj.get("write_errors", 0) >= 3 and rj.get("gaps"),
            "during the fault: recording write_errors %r gaps %r, expected >= 3 errors and a gap"
            % (rj.get("write_errors"), rj.get("gaps")))
    h.check(rj.get("state") == "recording", "recording.state %r during the fault" % rj.get("state"))
    gap_logs = pod.log_lines_matching(lambda f, l: f.get("level") == "error"
                                      and f.get("msg", "").startswith("recording gap"))
    h.check(gap_logs, "no level=error msg=\"recording gap...\" line in the log during the fault")
    h.note("simulated: %s" % gap_logs[0])

    # A segment lost to the gap is still served live right after it leaves
    # the playlist (RFC 8216 6.2.2): no recording file can serve it, so the
    # window keeps it in memory.
    lost = max(files_at_fault) + 1
    h.wait_for(lambda: (w.snapshot()[0] is not None and w.snapshot()[0].media_seq > lost), 20,
               "%d.ts, lost to the gap, to leave the live playlist" % lost)
    r = pod.get("/live/%s/%d.ts" % (SID, lost))
    h.check(r.status == 200, "GET %d.ts, lost to the gap, just after it left the live playlist -> %d, "
            "expected 200" % (lost, r.status))
    if w.segment_path(lost):
        with open(w.segment_path(lost), "rb") as f:
            h.check(r.body == f.read(), "%d.ts served after it left the playlist differs from "
                    "what was served live" % lost)

    os.unlink(flag)
    n_listed = len(listed(pod))
    h.wait_for(lambda: len(listed(pod)) >= n_listed + 3, 15, "3 new recorded segments after the fault ended")
    end_session(pod)
    w.stop()
    w.assert_ok()

    rj = ru.rec_json(pod, SID)
    gaps = rj.get("gaps") or []
    h.check(len(gaps) == 1 and rj.get("gaps_total") == 1,
            "expected one gap entry, API says gaps_total %r gaps %r" % (rj.get("gaps_total"), gaps))
    g = gaps[0]
    h.check(g.get("reason") == ENOSPC_REASON, "gap reason %r, expected %r" % (g.get("reason"), ENOSPC_REASON))
    h.check(g.get("segments_lost") == rj.get("write_errors"),
            "gap segments_lost %r but write_errors %r" % (g.get("segments_lost"), rj.get("write_errors")))
    h.check(g.get("after_seq") == max(files_at_fault),
            "gap after_seq %r, the last segment written before the fault was %d.ts"
            % (g.get("after_seq"), max(files_at_fault)))
    text = ru.disk_text(pod, SID)
    r = pod.get("/vod/%s/index.m3u8" % SID, headers=ru.AUTH)
    h.check(r.status == 200 and r.body.decode() == text, "GET recording playlist (token) -> %d, differs from disk"
            % r.status)
    pl, seqs = check_gap_playlist(pod, text, g, "simulated full disk")
    for q, digest in before.items():
        h.check(ru.sha256(os.path.join(folder, "%d.ts" % q)) == digest,
                "%d.ts, written before the fault, changed" % q)
    lost = list(range(g["after_seq"] + 1, g["after_seq"] + g["segments_lost"] + 1))
    h.check(set(lost) <= set(w.seen_seqs()), "segments lost to the recording %r were not all served live (%r)"
            % (lost, w.seen_seqs()))
    for q in seqs:
        if w.segment_path(q):
            h.check(ru.sha256(w.segment_path(q)) == ru.sha256(os.path.join(folder, "%d.ts" % q)),
                    "%d.ts on disk differs from the bytes /live/ served" % q)
    frames, _ = ru.decode(ru.local_copy(folder, text, t.path("sim-copy")), "simulated-gap recording",
                          allow_disc_noise=True)
    total = sum(s.duration for s in pl.segments)
    h.check(abs(frames / float(ru.FPS) - total) <= 2 * ru.SEG,
            "recording decodes to %d frames (%.2f s), playlist claims %.3f s" % (frames, frames / 30.0, total))
    h.note("simulated: PASS (gap after %d.ts, %d lost, %d segments recorded)"
           % (g["after_seq"], g["segments_lost"], len(seqs)))
    pod.stop()


def ext4_filler(mnt, leave):
    """A file taking all but leave bytes of the filesystem at mnt, as root
    (Podium here) sees it: the blocks ext4 reserves for root count."""
    path = os.path.join(mnt, "filler")
    st = os.statvfs(mnt)
    size = st.f_bfree * st.f_frsize - leave
    r = subprocess.run(["fallocate", "-l", str(size), path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    h.check(r.returncode == 0, "fallocate of %d bytes on the ext4 failed: %s"
            % (size, r.stdout.decode(errors="replace")))
    return path


def real_disk(t, kind):
    mnt = t.path(kind)
    if kind == "tmpfs":
        if not ru.try_mount_tmpfs(mnt, "1m"):
            return
    elif not ru.try_mount_ext4(mnt, t.path("ext4.img"), 48):
        return
    try:
        data = os.path.join(mnt, "data")
        filler = ext4_filler(mnt, 1 << 20) if kind == "ext4" else None
        pod = ru.podium(t, {SID: {"title": "Panel", "passphrase": PASS}}, close_after=CLOSE_AFTER,
                        data_dir=data)
        home = "data_dir's page cache" if kind == "ext4" else "memfds"
        h.check(pod.log_lines_matching(lambda f, l: f.get("msg", "").startswith("live segments in " + home)),
                "%s: no \"live segments in %s\" line at start-up" % (kind, home))
        pod.publish(SID, duration=60)
        w = pod.watch(SID, allow_endlist=True)
        rj = ru.wait_rec(pod, SID, lambda r: r.get("write_errors", 0) > 0, 30,
                         "a real ENOSPC on the %s with 1 MiB free (recording.write_errors > 0)" % kind)
        h.note("%s: disk full after %d recorded segments; gaps %r" % (kind, rj.get("segments"), rj.get("gaps")))
        live_at_fault = h.wait_for(lambda: w.newest() is not None and (w.newest(),), 5,
                                   "the live playlist to be polled")[0]
        h.wait_for(lambda: w.newest() >= live_at_fault + 2, 10,
                   "the live playlist to advance while the %s is full" % kind)
        if kind == "ext4":
            h.wait_for(lambda: pod.log_lines_matching(
                lambda f, l: f.get("level") == "warn" and "live segments kept in memfds" in f.get("msg", "")
                and f.get("err") == ENOSPC_REASON), 10,
                "a warn line saying live segments moved to memfds as the ext4 filled")
            os.unlink(filler)
            h.note("ext4: filler removed")
        else:
            ru.remount_tmpfs(mnt, "64m")
            h.note("tmpfs: grown to 64 MiB")
        n_before = ru.rec_json(pod, SID).get("segments", 0)
        ru.wait_rec(pod, SID, lambda r: r.get("segments", 0) >= n_before + 3, 15,
                    "3 more recorded segments after space came back")
        end_session(pod)
        w.stop()
        w.assert_ok()
        rj = ru.rec_json(pod, SID)
        gaps = rj.get("gaps") or []
        h.check(gaps, "%s: no gap listed after a real ENOSPC: %r" % (kind, rj))
        h.check(all(g.get("reason") == ENOSPC_REASON for g in gaps),
                "%s: gap reasons %r, expected %r" % (kind, [g.get("reason") for g in gaps], ENOSPC_REASON))
        text = ru.disk_text(pod, SID)
        folder = ru.rec_dir(pod, SID)
        pl = ru.check_rec_playlist(text, "%s recording playlist" % kind, folder=folder, ended=True)
        seqs = [ru.uri_seq(s.uri) for s in pl.segments]
        # Every gap is followed by a DISCONTINUITY on the next recorded segment.
        for g in gaps:
            after = g["after_seq"]
            if after is None:
                # full before the first segment: the recording starts after the gap
                h.check(g is gaps[0] and seqs[0] == g["segments_lost"],
                        "%s: a gap before anything was recorded lost %d segments, but the recording "
                        "starts with %d.ts (gaps %r)" % (kind, g["segments_lost"], seqs[0], gaps))
                h.check(pod.log_lines_matching(lambda f, l: f.get("msg", "").startswith("recording gap")
                                               and f.get("after_seq") == "none"),
                        "%s: no recording gap line with after_seq=none" % kind)
                continue
            h.check(after in seqs, "%s: gap after_seq %d not in the recording %r" % (kind, after, seqs))
            i = seqs.index(after)
            h.check(i + 1 < len(seqs) and pl.segments[i + 1].disc,
                    "%s: no #EXT-X-DISCONTINUITY right after the gap after %d.ts:\n%s" % (kind, after, text))
            h.check(seqs[i + 1] == after + g["segments_lost"] + 1,
                    "%s: after %d.ts the recording continues with %d.ts, but the gap lost %d segments"
                    % (kind, after, seqs[i + 1], g["segments_lost"]))
        for a, b in zip(pl.segments, pl.segments[1:]):
            if ru.uri_seq(b.uri) != ru.uri_seq(a.uri) + 1:
                h.check(b.disc, "%s: %s follows %s (segments missing) without #EXT-X-DISCONTINUITY"
                        % (kind, b.uri, a.uri))
        leftovers = [n for n in os.listdir(folder) if n.endswith(".tmp")]
        h.check(not leftovers, "%s: partial .tmp files left after ENOSPC: %r" % (kind, leftovers))
        for q in seqs:
            if w.segment_path(q):
                h.check(ru.sha256(w.segment_path(q)) == ru.sha256(os.path.join(folder, "%d.ts" % q)),
                        "%s: %d.ts on disk differs from the bytes /live/ served (partial write kept?)" % (kind, q))
        ru.decode(ru.local_copy(folder, text, t.path(kind + "-copy")), "%s recording" % kind,
                  allow_disc_noise=True)
        h.note("%s: PASS (%d segments recorded, gaps %r)" % (kind, len(seqs), gaps))
        pod.stop()
    finally:
        # Unmount now if nothing runs on it any more; otherwise (failure path)
        # rec_util's atexit handler lazily unmounts after the harness stopped podium.
        if all(p.proc is None or p.proc.poll() is not None
               for p in t.podiums if p.data_dir.startswith(mnt)):
            ru.umount(mnt)


def main(t):
    h.parallel(lambda: simulated(t), lambda: real_disk(t, "tmpfs"), lambda: real_disk(t, "ext4"))


if __name__ == "__main__":
    h.run(main)
