#!/usr/bin/env python3
"""The newcomer's demo (`scripts/run`): its config and its speaker.

scripts/run starts Podium with config/demo.ini on fixed ports and feeds it
with scripts/demo-speaker; this test runs the same two on ephemeral ports:
- scripts/run names the session, passphrase and SRT address that
  config/demo.ini declares, and `podium --check -c config/demo.ini` passes;
- Podium started from config/demo.ini (its ports and data_dir replaced)
  with scripts/demo-speaker publishing to it, exactly as scripts/run calls
  it: the session goes live with the title the config gives it, its live
  playlist lists at least two segments that are real MPEG-TS (sync bytes),
  the conference page shows it as LIVE with a link to its watch page, and
  the watch page answers 200;
- the speaker stopped by PID, the session's publisher leaves (the API says
  it is no longer live) and Podium stops with exit 0."""
import configparser
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

RUN = os.path.join(h.REPO, "scripts", "run")
SPEAKER = os.path.join(h.REPO, "scripts", "demo-speaker")
DEMO_INI = os.path.join(h.REPO, "config", "demo.ini")


def demo_config():
    """(session id, its [session] section, the [server] section) of demo.ini."""
    cp = configparser.ConfigParser(inline_comment_prefixes=(";",))
    with open(DEMO_INI) as f:
        cp.read_string(f.read())
    sessions = [s for s in cp.sections() if s.startswith("session ")]
    h.check(len(sessions) == 1, "config/demo.ini declares %d sessions, expected 1: %s"
            % (len(sessions), sessions))
    return sessions[0].split(" ", 1)[1], cp[sessions[0]], cp["server"]


def speaker_args_of_run():
    """The arguments scripts/run gives scripts/demo-speaker."""
    with open(RUN) as f:
        text = f.read()
    h.check("config/demo.ini" in text, "scripts/run does not start Podium with config/demo.ini")
    m = re.search(r"scripts/demo-speaker\s+(\S+)\s+(\S+)\s+(\S+)", text)
    h.check(m is not None, "scripts/run does not call scripts/demo-speaker SESSION PASS HOST:PORT")
    return m.groups()


def main(t):
    sid, sess, server = demo_config()
    run_sid, run_pass, run_addr = speaker_args_of_run()
    h.check((run_sid, run_pass) == (sid, sess["passphrase"]),
            "scripts/run feeds session %r with passphrase %r; config/demo.ini declares %r / %r"
            % (run_sid, run_pass, sid, sess["passphrase"]))
    h.check(run_addr == server["srt_listen"],
            "scripts/run sends the speaker to %s; config/demo.ini listens on %s"
            % (run_addr, server["srt_listen"]))
    rc, out, err = h.run_capture([t.bin, "--check", "-c", DEMO_INI], 10, "podium --check demo.ini",
                                 cwd=t.tmp)
    h.check(rc == 0, "podium --check -c config/demo.ini exited %d: %s" % (rc, (out + err)[-400:]))

    pod = t.podium(sessions={sid: {"passphrase": sess["passphrase"]}}, start=False)
    with open(DEMO_INI) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^(srt_listen|http_listen)(\s*=\s*)\S+", r"\g<1>\g<2>127.0.0.1:0", text)
    h.check(n == 2, "config/demo.ini: expected srt_listen and http_listen, replaced %d" % n)
    text, n = re.subn(r"(?m)^(data_dir\s*=\s*)\S+", lambda m: m.group(1) + pod.data_dir, text)
    h.check(n == 1, "config/demo.ini: expected one data_dir, replaced %d" % n)
    with open(pod.conf_path, "w") as f:
        f.write(text)
    pod.start()

    speaker = h.spawn([SPEAKER, sid, sess["passphrase"], "127.0.0.1:%d" % pod.srt_port],
                      "demo-speaker", log_path=t.path("demo-speaker.log"))

    def live_segments():
        h.check(speaker.poll() is None, "scripts/demo-speaker exited with %s: %s"
                % (speaker.returncode, h.tail(t.path("demo-speaker.log"), 10)))
        r = pod.get("/live/%s/index.m3u8" % sid)
        if r.status != 200:
            return None
        segs = [line for line in r.body.decode().splitlines() if line.endswith(".ts")]
        return segs if len(segs) >= 2 else None

    segs = h.wait_for(live_segments, 30, "two segments in the demo's live playlist")
    for name in segs[:2]:
        r = pod.get("/live/%s/%s" % (sid, name))
        h.check(r.status == 200 and len(r.body) >= 188 * 10,
                "GET %s -> %d, %d bytes" % (name, r.status, len(r.body)))
        h.check(all(r.body[i] == 0x47 for i in range(0, 188 * 10, 188)),
                "%s is not MPEG-TS: no sync byte every 188 bytes" % name)

    j = pod.api(sid)
    h.check(j.get("live") is True and j.get("title") == sess["title"],
            "session JSON: live=%r title=%r, expected live and %r"
            % (j.get("live"), j.get("title"), sess["title"]))
    home = pod.get("/").body.decode()
    h.check(re.search(r'class="live">LIVE</span>\s*<a href="/watch/%s">' % sid, home) is not None,
            "the conference page does not show %s as LIVE with its watch link:\n%s"
            % (sid, home[:800]))
    r = pod.get("/watch/%s" % sid)
    h.check(r.status == 200, "GET /watch/%s -> %d" % (sid, r.status))

    h.kill_proc(speaker, signal.SIGTERM)
    h.wait_exit(speaker, 10, "scripts/demo-speaker after SIGTERM")
    h.wait_for(lambda: pod.api(sid).get("live") is False, 15,
               "the demo session no longer live once its speaker stopped")
    pod.stop()


h.run(main)
