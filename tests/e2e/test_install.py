#!/usr/bin/env python3
"""Podium installed for a server (`cmake --install BUILD --prefix P`, the
README's "Running Podium as a service"): P/bin/podium, the player's
hls.min.js in P/share/podium/web, the commented config in P/share/podium
and a systemd unit in P/lib/systemd/system whose Exec lines name
P/bin/podium. The installed binary, started from P, serves the player
script from P/share/podium/web (made to differ from the source tree's
copy, so that the one served tells where it came from). The unit passes
`systemd-analyze verify` with no complaint (that part is skipped where
systemd-analyze is missing)."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(t):
    build = os.path.dirname(t.bin)
    src_js = os.path.join(ROOT, "web", "node_modules", "hls.js", "dist", "hls.min.js")
    h.check(os.path.isfile(src_js), "no %s: run scripts/deps browser (scripts/test does)" % src_js)
    prefix = os.path.join(t.tmp, "prefix")
    rc, out, err = h.run_capture(["cmake", "--install", build, "--prefix", prefix], 60, "cmake --install")
    h.check(rc == 0, "cmake --install -> %d:\n%s%s" % (rc, out, err))
    binary = os.path.join(prefix, "bin", "podium")
    js = os.path.join(prefix, "share", "podium", "web", "hls.min.js")
    unit = os.path.join(prefix, "lib", "systemd", "system", "podium.service")
    for path in (binary, js, os.path.join(prefix, "share", "podium", "podium.ini"), unit):
        h.check(os.path.isfile(path), "cmake --install put no %s" % os.path.relpath(path, prefix))
    h.check(os.access(binary, os.X_OK), "the installed podium is not executable")
    with open(unit) as f:
        text = f.read()
    execs = [l for l in text.splitlines() if l.startswith("Exec")]
    h.check(any(l == "ExecStart=%s -c /etc/podium/podium.ini" % binary for l in execs)
            and all(binary in l or "kill -HUP" in l for l in execs),
            "the unit's Exec lines do not name the installed binary %s: %r" % (binary, execs))

    # the installed copy, marked: served only if podium looks beside itself
    with open(js, "a") as f:
        f.write("\n// installed copy\n")
    t.bin = binary
    pod = t.podium({"keynote": {"title": "Keynote", "passphrase": "keynote-secret-42"}})
    r = pod.get("/static/hls.min.js")
    with open(js, "rb") as f:
        want = f.read()
    h.check(r.status == 200 and r.body == want,
            "the installed podium serves /static/hls.min.js -> %d, %d bytes, %s the installed copy (%d bytes)"
            % (r.status, len(r.body), "not" if r.body != want else "", len(want)))
    h.note("installed into %s; the player script comes from share/podium/web" % prefix)

    analyze = shutil.which("systemd-analyze")
    if not analyze:
        h.note("no systemd-analyze here: the unit's syntax is not verified")
        return
    p = subprocess.run([analyze, "verify", unit], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=h.scaled(60))
    said = p.stdout.decode("utf-8", "replace").strip()
    h.check(p.returncode == 0 and not said, "systemd-analyze verify %s -> %d:\n%s" % (unit, p.returncode, said))
    h.note("systemd-analyze verify: clean")


if __name__ == "__main__":
    h.run(main)
