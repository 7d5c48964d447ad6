#!/usr/bin/env python3
"""A hung disk cannot hold the exit forever: a second SIGTERM exits at once.

With the PODIUM_TEST_FAULT_STALL flag file present the recording writer takes
no job, as on a hung disk (an NFS server gone, a dying drive):
- publish until 3 segments are recorded, then create the flag and wait until
  the live playlist is 2 segments past the recording (queued in memory);
- SIGTERM: podium logs "writing what is queued before the exit" with
  segments >= 1 and waits for the disk (it has not logged "stopped");
- a second SIGTERM: exit within 3 s with code 1 and a warn line saying the
  queued segments are lost;
- the recording on disk is what was written before the stall, byte for
  byte, every listed segment complete; after a restart without the flag it
  stays listed and is finalized after close_after, and decodes."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "workshop"
SECOND_SIGNAL_EXIT_S = 3


def main(t):
    flag = t.path("stall.flag")
    pod = ru.podium(t, {SID: {"title": "Workshop", "passphrase": "workshop-secret-77"}},
                    close_after=3, env={"PODIUM_TEST_FAULT_STALL": flag})
    folder = ru.rec_dir(pod, SID)
    pub = pod.publish(SID, duration=60)
    w = pod.watch(SID)
    h.wait_for(lambda: (pod.assert_running() or True) and len(ru.disk_segments(pod, SID)) >= 3,
               20, "3 recorded segments of %s" % SID)
    open(flag, "w").close()
    before = ru.disk_segments(pod, SID)
    h.wait_for(lambda: w.newest() is not None and w.newest() >= before[-1] + 3, 20,
               "the live playlist 2 segments past the last recorded one (%d.ts)" % before[-1])
    stalled = ru.disk_segments(pod, SID)
    text = ru.disk_text(pod, SID)
    hashes = {q: ru.sha256(os.path.join(folder, "%d.ts" % q)) for q in stalled}
    w.stop()

    pod.stopped = True                  # stopped by hand below, not by the harness
    os.kill(pod.proc.pid, signal.SIGTERM)
    lines = h.wait_for(lambda: pod.log_lines_matching(
        lambda f, line: "queued before the exit" in f.get("msg", "")), 10,
        'the "writing what is queued before the exit" line after SIGTERM')
    f = h.parse_logfmt(lines[-1])
    h.check(int(f.get("segments", "0")) >= 1 and f.get("level") == "info",
            "the exit line must say at info that segments are queued: %s" % lines[-1])
    h.check("second SIGTERM" in f.get("hint", ""),
            "the exit line does not tell how to exit without waiting: %s" % lines[-1])
    h.check(pod.proc.poll() is None, "podium exited (code %s) with the disk hung and segments "
            "queued: the orderly exit must wait for them" % pod.proc.returncode)
    h.check(not pod.log_lines_matching(lambda f, line: f.get("msg") == "stopped"),
            "podium logged 'stopped' with its writer stalled")

    os.kill(pod.proc.pid, signal.SIGTERM)
    try:
        rc = pod.proc.wait(timeout=SECOND_SIGNAL_EXIT_S)
    except subprocess.TimeoutExpired:
        h.kill_proc(pod.proc)
        h.fail("podium did not exit within %d s of a second SIGTERM with the disk hung"
               % SECOND_SIGNAL_EXIT_S)
    h.check(rc == 1, "exit code after a second SIGTERM: %d, expected 1 (queued data lost)" % rc)
    warn = pod.log_lines_matching(lambda f, line: "second signal" in f.get("msg", ""))
    h.check(len(warn) == 1 and h.parse_logfmt(warn[0]).get("level") == "warn",
            "expected one warn line about the second signal, found %r" % warn)
    pub.kill()
    h.note("exit after the second SIGTERM: code %d; %s" % (rc, warn[0] if warn else ""))

    h.check(ru.disk_text(pod, SID) == text, "the recording playlist changed after the stall")
    for q, d in hashes.items():
        h.check(ru.sha256(os.path.join(folder, "%d.ts" % q)) == d, "recorded %d.ts changed" % q)
    h.check(ru.disk_segments(pod, SID) == stalled, "segment files after the exit %r, expected "
            "those written before the stall %r" % (ru.disk_segments(pod, SID), stalled))
    ru.check_rec_playlist(text, "recording after the second SIGTERM", folder=folder)

    os.remove(flag)
    ru.restart(pod)
    ru.wait_finalized(pod, SID, 15)
    ru.check_shutdown_recording(t, pod, SID, "recording finalized after the restart",
                                min_segments=len(stalled))
    pod.stop()


if __name__ == "__main__":
    h.run(main)
