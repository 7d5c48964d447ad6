"""Python side of the headless-browser e2e tests (tests/e2e/test_browser_*.py).

Runs the node drivers in this folder (play.mjs, page.mjs) against a podium
started by tests/e2e/harness.py. Python 3 stdlib only.

- require(): fails the test (does not skip) when Chromium or playwright-core is
  missing, naming `scripts/deps browser`;
- artifacts(): screenshots go to $E2E_ARTIFACTS, else tests/e2e/artifacts/;
- every process a node driver starts (Chromium and its helpers) is noted by
  PID while it runs; on a timeout the driver gets SIGTERM (playwright then
  closes Chromium), and whatever is left is killed by PID, so no Chromium
  process outlives a test.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import harness as h  # noqa: E402

CHROMIUM = os.environ.get("PODIUM_CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT = os.path.join(REPO, "web", "node_modules", "playwright-core")


def require():
    """Fail (not skip) when the browser tooling is missing."""
    missing = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(CHROMIUM)
    if not os.path.isfile(os.path.join(PLAYWRIGHT, "package.json")):
        missing.append(PLAYWRIGHT)
    if shutil.which("node") is None:
        missing.append("node")
    if missing:
        h.fail("browser test tooling missing: %s; run `scripts/deps browser` "
               "(scripts/test installs it)" % ", ".join(missing))


def artifacts():
    d = os.environ.get("E2E_ARTIFACTS") or os.path.join(REPO, "tests", "e2e", "artifacts")
    os.makedirs(d, exist_ok=True)
    return os.path.abspath(d)


def shot_path(t, what):
    """<artifacts>/<test>-<build dir>-<what>.png, e.g. test_browser_live-build-asan-watch.png."""
    build = os.path.basename(os.path.dirname(t.bin)) or "podium"
    name = "%s-%s-%s.png" % (t.name, re.sub(r'[^\w.-]', '_', build), what)
    return os.path.join(artifacts(), name)


def _stat(pid):
    """(ppid, starttime) of a live process, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("latin-1")
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()   # after "pid (comm) "
    if fields[0] == "Z":
        return None                                  # zombie: already dead
    return int(fields[1]), fields[19]


def _descendants(root):
    """{pid: starttime} of every live descendant of root (walks /proc by ppid)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st:
                children.setdefault(st[0], []).append((int(name), st[1]))
    out, todo = {}, [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            if pid not in out:
                out[pid] = start
                todo.append(pid)
    return out


def _reap_tracked(tracked, grace):
    """Wait up to grace s for the tracked (pid -> starttime) processes to exit,
    then SIGKILL each one still alive (same PID and start time). Returns the
    PIDs that had to be killed."""
    deadline = time.monotonic() + grace
    while True:
        alive = [pid for pid, start in tracked.items() if (_stat(pid) or (None, None))[1] == start]
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return alive


def run_node(script, args, timeout, what, tmpdir=None, env=None, tick=None):
    """Run node tests/browser/<script> args; return its JSON result (last JSON line).

    timeout (already scaled) bounds the whole run; the drivers have their own
    deadline below it. Chromium runs as node's child in a process group of its
    own (playwright starts it detached), so every descendant of node is noted
    by PID while it runs, and any that outlives node is killed by PID.
    tmpdir: where the driver makes Chromium's fresh profile (the test's tmp).
    tick: called about every 0.5 s while the driver runs (the test acting on
    what the page has reached)."""
    cmd = ["node", os.path.join(HERE, script)] + [str(a) for a in args]
    h.note("%s: %s" % (what, " ".join(cmd[1:])))
    t0 = time.monotonic()
    extra = dict(env or {})
    if tmpdir:
        extra["PODIUM_BROWSER_TMPDIR"] = tmpdir
    env = dict(os.environ, **extra) if extra else None
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    with h._procs_lock:                     # the harness kills it by PID at exit too
        h._procs.append((p, "node " + script, None))
    tracked = {}
    out, err = b"", b""
    timed_out = False
    try:
        while True:
            tracked.update(_descendants(p.pid))
            try:
                o, e = p.communicate(timeout=0.5)
                out, err = out + (o or b""), err + (e or b"")
                break
            except subprocess.TimeoutExpired:
                if tick:
                    tick()
                if time.monotonic() - t0 > timeout:
                    timed_out = True
                    os.kill(p.pid, signal.SIGTERM)   # playwright closes Chromium on SIGTERM
                    try:
                        o, e = p.communicate(timeout=5)
                    except subprocess.TimeoutExpired:
                        h.kill_proc(p)
                        o, e = p.communicate()
                    out, err = out + (o or b""), err + (e or b"")
                    break
    finally:
        if p.poll() is None:
            h.kill_proc(p)
        killed = _reap_tracked(tracked, 5.0)
        if killed:
            h.note("%s: killed %d leftover browser process(es) by PID: %s" % (what, len(killed), killed))
    if timed_out:
        h.fail("%s did not finish within %.0f s; stderr:\n%s\nstdout:\n%s"
               % (what, timeout, err.decode(errors="replace")[-2000:], out.decode(errors="replace")[-2000:]))
    elapsed = time.monotonic() - t0
    text = out.decode("utf-8", "replace")
    res = None
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                res = json.loads(line)
                break
            except ValueError:
                continue
    if res is None:
        h.fail("%s (exit %s) printed no JSON result; stderr:\n%s\nstdout:\n%s"
               % (what, p.returncode, err.decode(errors="replace")[-3000:], text[-2000:]))
    res["_rc"] = p.returncode
    res["_elapsed"] = elapsed
    h.note("%s: exit %d in %.1f s (%d browser processes seen)" % (what, p.returncode, elapsed, len(tracked)))
    return res


def summary(res):
    keys = ("ok", "advanced", "startedAfter", "startTime", "currentTime", "duration", "source", "muted",
            "errors", "videoWidth", "videoHeight", "videoBytes", "audioBytes", "codecs",
            "fragsBuffered", "warnings", "jumps", "status", "pageErrors", "consoleErrors",
            "error", "screenshot")
    return json.dumps({k: res[k] for k in keys if k in res}, indent=1)


def play(t, pod, path, what, min_seconds=3, timeout=30, register=None, wait_status=None,
         after_play=None, tick=None, local_storage=None, clicks=None, net_down=None, media_errors=None):
    """Play pod's page `path` in Chromium; fail unless it played >= min_seconds
    with no fatal player error, decoding both video and audio. register=(name,
    email) fills the page's registration form first. wait_status=(path, text):
    the page's status must show text first, and then path is written;
    after_play=(path, text, ...): once it has played, for each text path is
    written (holding how many texts were shown so far), and then the status
    must show that text; tick as run_node's; local_storage (a dict) is set
    in the page's localStorage before its scripts run. clicks=[(selector,
    seconds), ...]: once it has played, each is clicked in turn and the new
    source played that long (the result's "clicks", see play.mjs).
    net_down=(seconds, play): then every request fails for seconds, and it
    must play again that long (the result's "netDown"). media_errors=(n,
    play): then n times the player's media fails to decode, and it must play
    again that long each time (the result's "mediaErrors")."""
    shot = shot_path(t, what)
    env = {}
    if net_down:
        env["PODIUM_NET_DOWN"] = "%s,%s" % net_down
    if media_errors:
        env["PODIUM_MEDIA_ERRORS"] = "%s,%s" % media_errors
    if clicks:
        env["PODIUM_CLICKS"] = ";".join("%s,%s" % c for c in clicks)
    if register:
        env["PODIUM_REGISTER"] = "%s|%s" % register
    if wait_status:
        env["PODIUM_WAIT_STATUS"] = "%s|%s" % wait_status
    if after_play:
        env["PODIUM_AFTER_PLAY"] = "|".join(after_play)
    if local_storage:
        env["PODIUM_LOCAL_STORAGE"] = json.dumps(local_storage)
    budget = (h.scaled(timeout) + 30 + (net_down[0] + h.scaled(timeout) if net_down else 0)
              + (media_errors[0] * h.scaled(timeout) if media_errors else 0))
    res = run_node("play.mjs", [pod.url(path), shot, min_seconds, h.scaled(timeout)],
                   budget, "play.mjs %s" % path, tmpdir=t.tmp, env=env, tick=tick)
    if register:
        h.check(res.get("registered"), "the registration form was not filled: %s" % summary(res))
    h.note("%s: played %.2f s (started after %s s at t=%s), source %s, %sx%s, codecs %s, "
           "screenshot %s" % (path, res.get("advanced", 0), res.get("startedAfter"), res.get("startTime"),
                              res.get("source"), res.get("videoWidth"), res.get("videoHeight"),
                              res.get("codecs"), res.get("screenshot")))
    if res.get("warnings") or res.get("jumps") or res.get("consoleErrors"):
        h.note("%s: non-fatal hls.js errors %r, currentTime jumps %r, console errors %r"
               % (path, res.get("warnings"), res.get("jumps"), res.get("consoleErrors")))
    h.check(res.get("ok") and res["_rc"] == 0,
            "the player at %s did not play %s s without error: %s\nresult:\n%s"
            % (path, min_seconds, res.get("error"), summary(res)))
    h.check(res.get("errors") == [], "window.podium.errors not empty: %r" % res.get("errors"))
    h.check(res.get("advanced", 0) >= min_seconds,
            "currentTime advanced %.2f s, expected >= %s" % (res.get("advanced", 0), min_seconds))
    h.check(res.get("hlsUsed"), "the page did not use hls.js (window.podium.hls unset): %s" % summary(res))
    h.check((res.get("videoWidth") or 0) > 0 and (res.get("videoBytes") or 0) > 0,
            "no video decoded (videoWidth %r, decoded bytes %r)" % (res.get("videoWidth"), res.get("videoBytes")))
    # Chromium runs with autoplay allowed here: the player must not mute it
    h.check(res.get("muted") is False, "the player muted the talk where the browser lets it play "
            "with sound: %s" % summary(res))
    h.check((res.get("audioBytes") or 0) > 0,
            "no audio decoded (webkitAudioDecodedByteCount %r); result:\n%s" % (res.get("audioBytes"), summary(res)))
    h.check(os.path.isfile(shot), "no screenshot written to %s" % shot)
    return res


def page(t, pod, path, what, timeout=20, fill=None, wait_text=None, loaded_file=None, tick=None,
         click=None, dialog=None, tz=None, stable=None, then=None, autoplay=None, after_request=None):
    """Open pod's page `path`; fail unless HTTP 200 without uncaught errors; return the result.
    fill=(selector, value), or a list of them, types into fields after the
    load; click=selector is clicked after that (see page.mjs); wait_text waits
    (within timeout) until the page's text contains it. loaded_file is
    written once the page has loaded, before that wait; tick as run_node's;
    tz: the browser's time zone (IANA name); stable=selector: the result's
    "stable" says whether that element outlived two of the page's redraws.
    then: steps after the click, ("fill", selector, value) or ("click",
    selector), in order (a form the click opened). autoplay: Chromium's
    --autoplay-policy (the tests' default lets pages play with sound).
    after_request: a URL part the page requests before it is touched (see
    page.mjs: what playwright does in a page counts as the user's gesture)."""
    shot = shot_path(t, what)
    env = {}
    if fill:
        pairs = [fill] if isinstance(fill, tuple) else fill
        env["PODIUM_FILL"] = "\n".join("%s=%s" % p for p in pairs)
    if click:
        env["PODIUM_CLICK"] = click
    if then:
        env["PODIUM_THEN"] = "\n".join(
            "fill %s=%s" % (st[1], st[2]) if st[0] == "fill" else "click %s" % st[1] for st in then)
    if dialog:
        env["PODIUM_DIALOG"] = dialog       # "accept"; confirm() is dismissed otherwise
    if wait_text:
        env["PODIUM_WAIT_TEXT"] = wait_text
    if loaded_file:
        env["PODIUM_LOADED_FILE"] = loaded_file
    if stable:
        env["PODIUM_STABLE"] = stable
    if tz:
        env["PODIUM_TZ"] = tz               # the browser's time zone (an attendee elsewhere)
    if autoplay:
        env["PODIUM_AUTOPLAY_POLICY"] = autoplay    # Chromium's --autoplay-policy
    if after_request:
        env["PODIUM_AFTER_REQUEST"] = after_request
    res = run_node("page.mjs", [pod.url(path), shot, h.scaled(timeout)],
                   h.scaled(timeout) + 20, "page.mjs %s" % path, tmpdir=t.tmp, env=env or None,
                   tick=tick)
    h.check(res.get("ok") and res["_rc"] == 0, "page %s: %s\nresult:\n%s"
            % (path, res.get("error") or "status %r" % res.get("status"), json.dumps(res, indent=1)[:3000]))
    h.check(os.path.isfile(shot), "no screenshot written to %s" % shot)
    h.note("%s: title %r, %d links, screenshot %s" % (path, res.get("title"), len(res.get("links", [])), shot))
    return res


def check_buttons(res, present, absent, what):
    """The organizer page offers only the actions a session's state allows
    (end while live, publish once finalized, unpublish once published, edit
    and delete for API sessions): res, page()'s result, lists the buttons."""
    got = set(res.get("buttons") or [])
    h.check(present <= got and not (absent & got), "%s: buttons %s, expected %s and none of %s"
            % (what, sorted(got), sorted(present), sorted(absent)))
