#!/usr/bin/env python3
"""The command line, the first start without an admin token, and SIGINT.

- `--version`: exit 0, `podium X.Y.Z` on stdout, the version the running
  relay logs; `--help` and `-h`: exit 0, usage on stdout
  naming -c, --check, --version and --help;
- an unknown long or short option and a stray argument: non-zero exit, the
  offender and the usage on stderr; `--check` without `-c`: non-zero, says -c;
- `--check -c GOOD` (the harness' config and the shipped config/podium.ini):
  exit 0, nothing created (no data_dir);
- `--check` of passphrases with & or + (valid, but no srt:// URL can carry
  them): exit 0 and a warning naming each such session, none for others;
- `--check -c BAD`: exit 1 and, for every error, a message naming the file
  and the line (and the key or section where there is one): unknown key,
  bad value, bad session value, unknown section, a line without '=', three
  errors in one file (all three reported), a missing file and a directory;
  `podium -c BAD` (running, not checking) exits 1 the same way and listens
  on nothing;
- first start with `admin_token =` empty: data_dir/admin.token is created
  with mode 0600, holds a token of >= 16 characters, its path (not the
  token) is logged; the token works as Bearer on the organizer API (POST
  /api/v1/sessions -> 201), none or a wrong one -> 401;
- restart: the same file (content, inode, mtime, mode 0600) and token, no
  new token generated, the API session created with it still there and
  PATCHable with it;
- admin.token loosened to 0644 before a restart: noted whether Podium
  tightens it or warns (reported, not asserted);
- a second podium started on the running one's data_dir (other ports):
  exit 1 before listening, an error line naming the data_dir and the first
  one's PID; the first serves on, its sessions.json untouched;
- SIGINT while a publisher streams: `shutting down signal=SIGINT` logged,
  exit 0 within 5 s, the recording on disk finalized (VOD + ENDLIST,
  complete segments, no .tmp, decodes) - rec_util's SIGTERM helpers."""
import json
import os
import re
import signal
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "keynote"
PASS = "keynote-secret-123"
API_SID = "cli-made"
problems = []


def soft(cond, msg):
    """A check whose failure does not stop the test: reported (and failed) at the end."""
    if not cond:
        h.note("PROBLEM: " + msg.splitlines()[0])
        problems.append(msg)
    return cond


def cli(t, *args):
    """podium ARGS to completion (10 s at most) in the test's temporary
    directory, so a default ./data would land there; returns (rc, stdout, stderr)."""
    return h.run_capture([t.bin] + list(args), 10, "podium %s" % " ".join(args), cwd=t.tmp)


def write(t, name, text):
    path = t.path(name)
    with open(path, "w") as f:
        f.write(text)
    return path


def line_of(text, needle):
    """1-based number of the line of text that contains needle."""
    for i, l in enumerate(text.splitlines(), 1):
        if needle in l:
            return i
    h.fail("test bug: %r not in the config text" % needle)


def check_options(t):
    rc, out, err = cli(t, "--version")
    h.check(rc == 0, "--version exited %d, expected 0 (stderr %r)" % (rc, err))
    m = re.fullmatch(r"podium (\d+\.\d+(?:\.\d+)?\S*)\n", out)
    h.check(m, "--version printed %r, expected 'podium X.Y.Z' on one line" % out)
    version = m.group(1)
    for opt in ("--help", "-h"):
        rc, out, err = cli(t, opt)
        h.check(rc == 0, "%s exited %d, expected 0 (stderr %r)" % (opt, rc, err))
        h.check(out.lower().startswith("usage"), "%s: stdout does not start with a usage line: %r" % (opt, out[:200]))
        for word in ("-c", "--check", "--version", "--help"):
            h.check(word in out, "%s: usage does not mention %s:\n%s" % (opt, word, out))
    for args, offender in ((["--bogus"], "bogus"), (["-x"], "x"), (["-c", t.path("x.ini"), "stray"], "stray")):
        rc, out, err = cli(t, *args)
        what = "podium %s" % " ".join(args)
        h.check(rc != 0, "%s exited 0, expected a usage error" % what)
        h.check("usage" in err.lower(), "%s: no usage on stderr: %r" % (what, err[:300]))
        h.check(offender in err, "%s: stderr does not name %r: %r" % (what, offender, err[:300]))
        h.check(not os.path.exists(t.path("data")), "%s created ./data" % what)
    rc, out, err = cli(t, "--check")
    h.check(rc != 0 and "-c" in err, "--check without -c -> exit %d, stderr %r: expected non-zero naming -c"
            % (rc, err[:300]))
    h.note("--version %s; --help, -h, unknown options, stray argument, --check without -c ok" % version)
    return version


def check_good(t, pod):
    for path in (pod.conf_path, os.path.join(h.REPO, "config", "podium.ini")):
        rc, out, err = cli(t, "--check", "-c", path)
        h.check(rc == 0, "--check -c %s exited %d, expected 0:\n%s%s" % (path, rc, out, err))
        h.check(path in out + err, "--check -c %s: output does not name the file: %r" % (path, out + err))
        with open(path) as f:
            n = len(re.findall(r"(?m)^\[session ", f.read()))
        want = "ok (%d session%s)" % (n, "" if n == 1 else "s")
        h.check(want in out, "--check -c %s printed %r, expected it to say %r" % (path, out, want))
    h.check(not os.path.exists(pod.data_dir), "--check created data_dir %s" % pod.data_dir)
    h.check(not os.path.exists(t.path("data")), "--check of config/podium.ini created ./data")


def check_url_passphrases(t):
    """A passphrase with & or + is valid, but no speaker can type it into an
    srt:// URL: --check passes and warns, naming the session."""
    path = write(t, "url-passphrases.ini",
                 "[server]\ndata_dir = %s\n"
                 "[session amp]\npassphrase = talk&secret-1234\n"
                 "[session plus]\npassphrase = plus+secret-1234\n"
                 "[session fine]\npassphrase = fine_secret-1234%%\n" % t.path("url-data"))
    rc, out, err = cli(t, "--check", "-c", path)
    h.check(rc == 0 and "ok (3 sessions)" in out, "--check of valid passphrases with & and + -> %d %r %r"
            % (rc, out, err))
    for sid, ch in (("amp", "&"), ("plus", "+")):
        h.check("warning: session %s.passphrase holds '%s'" % (sid, ch) in err and "srt:// URL" in err,
                "--check does not warn about %s's passphrase with %s:\n%s" % (sid, ch, err))
    h.check("session fine" not in err, "--check warns about a passphrase a URL can carry:\n%s" % err)
    h.note("--check warns: %r" % err.strip().splitlines())


def check_bad(t, pod):
    good = pod.config_text()
    cases = []   # (name, text, [(line, words that must be on that message line)])

    def case(name, text, *needles):
        path = write(t, name + ".ini", text)
        cases.append((name, path, [(line_of(text, n), words) for n, words in needles]))

    case("unknown-key", good.replace("[server]\n", "[server]\nfrobnicate = 1\n", 1),
         ("frobnicate", ["frobnicate"]))
    case("bad-value", re.sub(r"(?m)^segment_duration = .*$", "segment_duration = fast", good),
         ("segment_duration = fast", ["segment_duration", "fast"]))
    case("bad-session-value", good.replace("passphrase = %s" % PASS, "passphrase = short"),
         ("passphrase = short", ["passphrase"]))
    case("unknown-section", good + "[servre]\nhttp_listen = 1.2.3.4:5\n", ("[servre]", ["servre"]))
    case("no-equals", good.replace("[hls]\n", "[hls]\nthis line has no equals sign\n", 1),
         ("this line has no equals", []))
    three = good.replace("[server]\n", "[server]\nfrobnicate = 1\n", 1)
    three = re.sub(r"(?m)^window = .*$", "window = 1", three)
    three = re.sub(r"(?m)^latency_ms = .*$", "latency_ms = soon", three)
    case("three-errors", three, ("frobnicate", ["frobnicate"]), ("window = 1", ["window"]),
         ("latency_ms = soon", ["latency_ms", "soon"]))

    for name, path, expect in cases:
        rc, out, err = cli(t, "--check", "-c", path)
        text = out + err
        h.check(rc == 1, "--check -c %s (%s) exited %d, expected 1; output:\n%s" % (path, name, rc, text))
        lines = text.splitlines()
        for line, words in expect:
            prefix = "%s:%d" % (path, line)
            hit = [l for l in lines if l.startswith(prefix) and all(w in l for w in words)]
            h.check(hit, "--check -c %s (%s): no message '%s: ...' naming %r; output:\n%s"
                    % (os.path.basename(path), name, prefix, words, text))
        h.note("--check %s: exit 1: %s" % (name, " | ".join(l.replace(t.tmp, "") for l in lines)))
    missing = t.path("no-such-dir/podium.ini")
    for path, what in ((missing, "missing file"), (t.tmp, "a directory")):
        rc, out, err = cli(t, "--check", "-c", path)
        soft(rc == 1 and path in out + err,
             "--check -c %s (%s) -> exit %d, output %r: expected exit 1 and a message naming the file"
             % (path, what, rc, (out + err)[:300]))
    # running (not checking) a bad config: the same messages, exit 1, nothing listens
    rc, out, err = cli(t, "-c", cases[0][1])
    h.check(rc == 1 and "frobnicate" in err, "podium -c %s (unknown key) -> exit %d, stderr %r: expected 1 "
            "naming the key" % (cases[0][1], rc, err[:300]))
    h.check("listening" not in out + err and not os.path.exists(pod.data_dir),
            "podium -c <bad config> started (listening or data_dir created):\n%s" % (out + err))


def token_file_state(path):
    st = os.stat(path)
    with open(path) as f:
        return {"token": f.read(), "inode": st.st_ino, "mtime_ns": st.st_mtime_ns,
                "mode": stat.S_IMODE(st.st_mode)}


def api(pod, method, path, token, body=None):
    hdrs = {"Authorization": "Bearer " + token} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    return pod.request(method, path, data=data, headers=hdrs)


def check_first_start(pod):
    tok_path = os.path.join(pod.data_dir, "admin.token")
    h.check(os.path.isfile(tok_path), "first start without admin_token: %s not created" % tok_path)
    st = token_file_state(tok_path)
    h.check(st["mode"] == 0o600, "%s has mode %o, expected 600" % (tok_path, st["mode"]))
    h.check(os.stat(tok_path).st_uid == os.geteuid(), "%s is not owned by podium's user" % tok_path)
    token = st["token"].strip()
    h.check(len(token) >= 16 and re.fullmatch(r"[\x21-\x7e]+", token),
            "%s holds %r, expected one token of >= 16 printable characters" % (tok_path, st["token"]))
    log = pod.log_text()
    h.check(tok_path in log or "admin.token" in log, "the log does not say where the admin token was stored")
    h.check(token not in log, "the generated admin token is written to the log")

    created = api(pod, "POST", "/api/v1/sessions", token,
                  {"id": API_SID, "title": "Made by the generated token", "passphrase": "cli-made-pass-123"})
    h.check(created.status == 201, "POST /api/v1/sessions with the generated token -> %d, expected 201: %r"
            % (created.status, created.body[:200]))
    for bad, what in ((None, "no token"), ("x" * len(token), "a wrong token")):
        r = api(pod, "POST", "/api/v1/sessions", bad, {"id": "cli-other", "passphrase": "cli-other-pass-1"})
        h.check(r.status == 401, "POST /api/v1/sessions with %s -> %d, expected 401" % (what, r.status))
    h.note("admin.token generated (%d characters, mode 600), works as Bearer" % len(token))
    return tok_path, st, token


def check_restart(pod, tok_path, before, token):
    pod.stop()
    ru.restart(pod)
    after = token_file_state(tok_path)
    h.check(after == before, "admin.token changed across a restart: before %r, after %r" % (before, after))
    h.check("admin token generated" not in pod.log_text(), "a new admin token was generated on restart:\n%s"
            % h.tail(pod.log_path, 20))
    r = api(pod, "PATCH", "/api/v1/sessions/%s" % API_SID, token, {"title": "Patched after the restart"})
    h.check(r.status == 200, "PATCH /api/v1/sessions/%s with the token after a restart -> %d, expected 200: %r"
            % (API_SID, r.status, r.body[:200]))
    h.check(api(pod, "PATCH", "/api/v1/sessions/%s" % API_SID, None, {"title": "x"}).status == 401,
            "PATCH without a token after the restart is not 401")


def observe_loose_mode(pod, tok_path, token):
    """Not asserted (reported): what Podium does with an admin.token that
    others can read."""
    os.chmod(tok_path, 0o644)
    pod.stop()
    ru.restart(pod)
    mode = stat.S_IMODE(os.stat(tok_path).st_mode)
    warned = pod.log_lines_matching(lambda f, l: "admin.token" in l and f.get("level") in ("warn", "error"))
    h.note("OBSERVED: admin.token loosened to 0644 before a restart: mode now %o (%s), %s"
           % (mode, "tightened" if mode == 0o600 else "NOT tightened",
              "warned: %r" % warned if warned else "no warning logged"))
    h.check(api(pod, "PATCH", "/api/v1/sessions/%s" % API_SID, token, {"title": "t"}).status == 200,
            "the admin token stopped working after its mode was loosened")
    if mode != 0o600:
        os.chmod(tok_path, 0o600)


def check_second_podium(t, pod, token):
    """A second Podium given the running one's data_dir (other ports) exits 1
    naming it and the first one's PID; the first serves on, its API session
    file untouched."""
    sj = os.path.join(pod.data_dir, "sessions.json")
    title = "Before the second podium"
    r = api(pod, "PATCH", "/api/v1/sessions/%s" % API_SID, token, {"title": title})
    h.check(r.status == 200, "PATCH -> %d" % r.status)

    def saved():
        with open(sj, "rb") as f:
            data = f.read()
        return data if title.encode() in data else None
    before = h.wait_for(saved, 5, "the PATCHed title in %s" % sj)
    conf = write(t, "second.ini", "[server]\nsrt_listen = 127.0.0.1:0\nhttp_listen = 127.0.0.1:0\n"
                 "data_dir = %s\n[session other]\npassphrase = %s\n" % (pod.data_dir, PASS))
    rc, out, err = cli(t, "-c", conf)
    h.check(rc == 1, "a second podium on the same data_dir exited %d, expected 1:\n%s" % (rc, err[-600:]))
    line = [l for l in err.splitlines() if "data_dir is in use" in l]
    h.check(line and pod.data_dir in line[0] and "pid=%d" % pod.proc.pid in line[0],
            "no error line naming data_dir %s and pid %d:\n%s" % (pod.data_dir, pod.proc.pid, err[-600:]))
    h.check("listening" not in err, "the second podium listened before refusing:\n%s" % err[-600:])
    pod.assert_running()
    h.check(pod.get("/healthz").status == 200, "the first podium stopped serving")
    with open(sj, "rb") as f:
        now = f.read()
        h.check(now == before, "the second podium changed %s:\n%r\n%r" % (sj, before, now))
    h.note("second podium on the same data_dir refused: %s" % line[0])


def check_sigint(t, pod):
    took = ru.stop_while_recording(pod, SID, sig=signal.SIGINT)
    lines = pod.log_lines_matching(lambda f, l: f.get("msg") == "shutting down")
    h.check(lines and all(h.parse_logfmt(l).get("signal") == "SIGINT" for l in lines),
            "log lines for the shutdown %r, expected msg=\"shutting down\" signal=SIGINT" % lines)
    _, pl = ru.check_shutdown_recording(t, pod, SID, "recording after SIGINT")
    h.note("SIGINT: exit 0 after %.2f s, recording finalized with %d segments" % (took, len(pl.segments)))


def main(t):
    version = check_options(t)
    pod = ru.podium(t, {SID: {"title": "Keynote", "passphrase": PASS}}, close_after=30,
                    admin_token=None, server_ini="admin_token =", start=False)
    check_good(t, pod)
    check_url_passphrases(t)
    check_bad(t, pod)

    ru.start_pod(pod)
    logged = [f.get("version") for f in pod.log_records() if f.get("msg") == "starting"]
    h.check(logged == [version], "the relay logs version %r, --version says %r" % (logged, version))
    tok_path, st, token = check_first_start(pod)
    check_restart(pod, tok_path, st, token)
    observe_loose_mode(pod, tok_path, token)
    check_second_podium(t, pod, token)
    check_sigint(t, pod)
    h.check(not problems, "%d problem(s):\n  - %s" % (len(problems), "\n  - ".join(problems)))


if __name__ == "__main__":
    h.run(main)
