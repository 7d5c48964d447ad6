#!/usr/bin/env python3
"""Space left for recordings, on a real filesystem that fills up: data_dir
is a 24 MiB tmpfs (in a mount namespace of the test's own; skipped where
none can be made). Podium logs the space at start-up. With nothing live
the session list (with the admin token) measures it for one talk at 3.3
Mb/s (rate_assumed): about a minute at this size, so Podium logs the error
line that says so at start-up, before the first talk. While a speaker
streams, it says how much is free, of what, the rate being recorded and
about how long that lasts, consistent with each other and with statvfs;
without the token it says nothing of it. /metrics has the free and total
bytes. The error line is logged once, not every second, and while there
is still room: no recording gap yet."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SID = "keynote"
SIZE = 24 << 20
TOKEN = "disk-space-admin-token-1234"


def main(t):
    pod = t.podium({SID: {"title": "Keynote", "passphrase": "keynote-secret-42"}}, start=False,
                   server_ini="admin_token = %s" % TOKEN)
    os.makedirs(pod.data_dir, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % SIZE, "tmpfs", pod.data_dir], check=True)
    try:
        check_space(t, pod)
    finally:
        pod.stop()
        subprocess.run(["umount", pod.data_dir], check=False)


def check_space(t, pod):
    pod.start()
    start = [f for f in pod.log_records() if f.get("msg") == "recording space"]
    h.check(start and int(start[0].get("total_bytes", 0)) == SIZE,
            "no start-up 'recording space' line with total_bytes=%d: %r" % (SIZE, start))
    # nothing live yet: measured for one talk at 3.3 Mb/s, about a minute
    # here, which is said before the first talk rather than during it
    idle = pod.get("/api/v1/sessions", headers=pod.admin_auth()).json().get("disk") or {}
    h.check(idle.get("rate_assumed") is True and idle.get("recording_bps") == 0
            and abs(idle.get("seconds_left", 0) - idle.get("free_bytes", 0) * 8 / 3.3e6) < 1,
            "with nothing live disk is %r, expected seconds_left for one talk at 3.3 Mb/s" % idle)
    early = [f for f in pod.log_records() if f.get("msg", "").startswith("recording space low")]
    h.check(len(early) == 1 and early[0].get("level") == "error"
            and "for one talk at 3.3 Mb/s (nothing is live)" in early[0].get("msg", ""),
            "no error line at start-up for a disk with a minute left for one talk: %r" % early)
    pub = pod.publish(SID, duration=60)

    def disk():
        d = pod.get("/api/v1/sessions", headers=pod.admin_auth()).json().get("disk") or {}
        return d if d.get("rate_assumed") is False else None
    d = h.wait_for(disk, 20, "the session list's disk at the rate %s records at" % SID)
    st = os.statvfs(pod.data_dir)
    free_now = st.f_bavail * st.f_frsize
    h.check(d.get("total_bytes") == SIZE, "disk.total_bytes %r, expected the tmpfs' %d" % (d.get("total_bytes"), SIZE))
    h.check(free_now <= d["free_bytes"] <= SIZE and d["free_bytes"] - free_now < 4 << 20,
            "disk.free_bytes %d, statvfs says %d now (recording only fills it)" % (d["free_bytes"], free_now))
    h.check(d.get("path", "").endswith("/recordings"), "disk.path %r, expected data_dir/recordings" % d.get("path"))
    h.check(100e3 < d["recording_bps"] < 20e6, "disk.recording_bps %r for one 640x360 speaker" % d["recording_bps"])
    want = d["free_bytes"] * 8 / d["recording_bps"]
    h.check(abs(d["seconds_left"] - want) < 1, "disk.seconds_left %r, expected free*8/rate = %.1f"
            % (d["seconds_left"], want))
    h.note("disk: %r" % d)

    anon = pod.get("/api/v1/sessions").json()
    h.check("disk" not in anon, "the session list without the admin token tells the disk: %r" % anon.get("disk"))
    m = pod.get("/metrics").body.decode()
    got = re.search(r"^podium_disk_size_bytes (\d+)$", m, re.M)
    h.check(got and int(got.group(1)) == SIZE and re.search(r"^podium_disk_free_bytes \d+$", m, re.M),
            "/metrics lacks podium_disk_size_bytes %d / podium_disk_free_bytes:\n%s"
            % (SIZE, "\n".join(l for l in m.splitlines() if "disk" in l)))

    low = early
    h.check(low[0].get("level") == "error" and 0 < float(low[0].get("seconds_left", 0)) < 600,
            "with %s s left the line is %r, expected level=error" % (low[0].get("seconds_left"), low[0]))
    h.wait_for(lambda: pod.api(SID).get("recording", {}).get("segments", 0) >= 4, 20, "4 segments recorded")
    again = [f for f in pod.log_records() if f.get("msg", "").startswith("recording space low")]
    h.check(len(again) == 1, "'recording space low' logged %d times, expected once: %r" % (len(again), again))
    rec = pod.api(SID, organizer=True).get("recording", {})
    h.check(rec.get("gaps_total") == 0 and rec.get("write_errors") == 0,
            "the warning came after the recording broke: %r" % rec)
    h.check(pub.poll() is None, "the speaker stopped while the disk was still not full")
    h.note("logged: %s" % low[0].get("msg"))


if __name__ == "__main__":
    h.run(main, private_mounts=True)
