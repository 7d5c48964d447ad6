#!/usr/bin/env python3
"""scripts/run, the newcomer's first command, as it is: its own glue (wait
for Podium, start the speaker, the banner, Ctrl-C / SIGTERM cleanup in
order, the start-up error). test_demo checks the config and speaker it
uses on ephemeral ports; this one runs the script itself, on the fixed
127.0.0.1:9000 and :8080 of config/demo.ini, in a network namespace of its
own (skipped, exit 77, where the machine allows none).

The script runs in a copy of the repository's layout: scripts/run,
scripts/demo-speaker and config/demo.ini copied unchanged, build/podium the
binary under test, and scripts/deps and scripts/build replaced by no-ops
(scripts/test has already installed and built; these two are its own).
- Ctrl-C as a terminal sends it (SIGINT to the script's process group;
  Podium and the speaker are in sessions of their own): the banner names
  the URLs (the organizer page's too, and the file whose admin token lets
  the organizer in), the demo session goes live with segments, the conference page
  lists it; after SIGINT the script exits within 10 s, the speaker left
  before Podium stopped, Podium logged `stopped`, the recording is
  finalized (ENDLIST), no Podium or speaker process is left;
- SIGTERM to the script: the same cleanup;
- port 8080 taken: the script exits 1 within 15 s saying Podium failed to
  start and where the ports are set, nothing left running."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

NOOP = "#!/bin/sh\n# replaced by test_run_script: scripts/test has installed and built\nexit 0\n"


def fake_repo(t):
    root = t.path("repo")
    for d in ("scripts", "config", "build"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for rel in ("scripts/run", "scripts/demo-speaker", "config/demo.ini"):
        shutil.copy2(os.path.join(h.REPO, rel), os.path.join(root, rel))
    for rel in ("scripts/deps", "scripts/build"):
        with open(os.path.join(root, rel), "w") as f:
            f.write(NOOP)
        os.chmod(os.path.join(root, rel), 0o755)
    os.symlink(t.bin, os.path.join(root, "build", "podium"))
    return root


def ours(root):
    """PIDs of the Podium and speaker processes started from root (found in
    /proc by their working directory; nothing else runs there)."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % pid)
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if cwd != root or not argv or not argv[0]:
            continue
        name = os.path.basename(argv[0].decode("utf-8", "replace"))
        if name in ("podium", "ffmpeg"):
            found[int(pid)] = name
    return found


class RunScript:
    def __init__(self, t, root, label):
        self.root = root
        self.out = t.path("run-%s.out" % label)
        self.err = t.path("run-%s.err" % label)
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            # a session of its own, as a shell gives a foreground job its
            # process group: SIGINT to the group is the terminal's Ctrl-C
            self.proc = subprocess.Popen([os.path.join(root, "scripts", "run")], cwd=root,
                                         stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                                         start_new_session=True)
        with h._procs_lock:
            h._procs.append((self.proc, "scripts/run " + label, self.err))

    def text(self, which):
        with open(self.out if which == "out" else self.err, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        h.check(self.proc.poll() is None, "scripts/run exited with %s:\n%s\n%s"
                % (self.proc.returncode, self.text("out")[-800:], self.text("err")[-1500:]))


def get(path):
    return h.http("GET", "http://127.0.0.1:8080" + path)


def live_run(t, root, sig):
    name = signal.Signals(sig).name
    run = RunScript(t, root, name)
    h.wait_for(lambda: run.alive() or "Podium is running" in run.text("out"), 60,
               "scripts/run's banner")
    banner = run.text("out")
    for url in ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/live/demo/index.m3u8",
                "http://127.0.0.1:8080/organizer"):
        h.check(url in banner, "the banner does not name %s:\n%s" % (url, banner))
    # the token file the banner names lets the organizer in
    m = re.search(r"cat (\S+admin\.token)", banner)
    h.check(m, "the banner does not say where the admin token is:\n%s" % banner)
    with open(os.path.join(root, m.group(1))) as f:
        token = f.read().strip()
    r = h.http("GET", "http://127.0.0.1:8080/api/v1/sessions", headers={"Authorization": "Bearer " + token})
    h.check(r.status == 200 and r.json().get("organizer") is True,
            "the token in %s is not the organizer's: %d %r" % (m.group(1), r.status, r.body[:200]))

    def live():
        run.alive()
        r = get("/live/demo/index.m3u8")
        return r.status == 200 and len(h.Playlist(r.body.decode()).segments) >= 2
    h.wait_for(live, 30, "two segments in the demo's live playlist")
    page = get("/")
    h.check(page.status == 200 and "/watch/demo" in page.body.decode("utf-8", "replace"),
            "the conference page (%d) does not link /watch/demo" % page.status)
    procs = ours(root)
    h.check(sorted(procs.values()) == ["ffmpeg", "podium"],
            "expected Podium and the speaker running from the demo folder, found %r" % procs)

    t0 = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(run.proc.pid, sig)      # the script's own group: a terminal's Ctrl-C
    else:
        os.kill(run.proc.pid, sig)
    rc = h.wait_exit(run.proc, 10, "scripts/run after %s" % name)
    took = time.monotonic() - t0
    left = ours(root)
    for pid in left:                      # ours, found by their folder: end them by PID
        os.kill(pid, signal.SIGKILL)
    h.check(not left, "after %s scripts/run left %r running" % (name, left))
    h.check(rc in (0, 128 + sig, -sig), "scripts/run exited with %d after %s" % (rc, name))
    err = run.text("err")
    recs = [h.parse_logfmt(l) for l in err.splitlines() if l.startswith("ts=")]
    msgs = [(f.get("msg"), f.get("session")) for f in recs]
    h.check(("stopped", None) in msgs, "Podium's `stopped` line is not on the script's stderr:\n%s"
            % err[-1500:])
    gone = msgs.index(("publisher disconnected", "demo")) if ("publisher disconnected", "demo") in msgs \
        else None
    h.check(gone is not None and gone < msgs.index(("shutting down", None)),
            "the speaker did not leave before Podium was stopped: %r" % msgs[-12:])
    problems = [l for l in err.splitlines() if re.search(r"level=(warn|error)", l)]
    h.check(not problems, "Podium warned on the way: %r" % problems[:3])
    with open(os.path.join(root, "data", "recordings", "demo", "index.m3u8")) as f:
        text = f.read()
    pl = ru.check_rec_playlist(text, "demo recording after %s" % name,
                               folder=os.path.join(root, "data", "recordings", "demo"), ended=True)
    h.note("%s: scripts/run exited %d in %.2f s; recording of %d segments finalized"
           % (name, rc, took, len(pl.segments)))


def port_taken(t, root):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 8080))
        s.listen()
        run = RunScript(t, root, "port-taken")
        rc = h.wait_exit(run.proc, 15, "scripts/run with port 8080 taken")
    err = run.text("err")
    h.check(rc == 1, "scripts/run with port 8080 taken exited %d, expected 1:\n%s" % (rc, err[-800:]))
    h.check("podium failed to start" in err and "config/demo.ini" in err,
            "scripts/run does not say Podium failed to start and where the ports are set:\n%s"
            % err[-800:])
    h.check(re.search(r"level=error.*8080", err), "Podium's own error naming 8080 is not shown:\n%s"
            % err[-800:])
    left = ours(root)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    h.check(not left, "with port 8080 taken scripts/run left %r running" % left)
    h.note("port 8080 taken: scripts/run exited 1 with its message and Podium's error")


def main(t):
    root = fake_repo(t)
    try:
        live_run(t, root, signal.SIGINT)
        shutil.rmtree(os.path.join(root, "data"))
        live_run(t, root, signal.SIGTERM)
        port_taken(t, root)
    finally:
        # after a failed check Podium and the speaker, in sessions of their
        # own, would run on (the harness ends the script, not them)
        for pid in ours(root):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    h.run(main, tools=["ffmpeg", "ffprobe", "setsid"], private_network=True)
