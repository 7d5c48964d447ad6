#!/usr/bin/env python3
"""The generated organizer token (no admin_token in the config).

- first start: data_dir/admin.token is created, mode 0600, and is the
  organizer's Bearer token (an organizer-only call: 401 without it, 401 with
  another, 200 with it);
- restart: the same token is reused, the file unchanged;
- the file made readable by others (mode 0644, as a copy or a restore
  leaves it): at the next start it is 0600 again, a warn line says so, and
  the token is still the same and still works."""
import os
import re
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "keynote"


def end_as(pod, token):
    headers = {"Authorization": "Bearer " + token} if token else {}
    return pod.request("POST", "/api/v1/sessions/%s/end" % SID, data=b"", headers=headers).status


def check_token(pod, path, token, what):
    mode = stat.S_IMODE(os.stat(path).st_mode)
    h.check(mode == 0o600, "%s: %s has mode %o, expected 600" % (what, path, mode))
    with open(path) as f:
        got = f.read().strip()
    h.check(got == token if token else len(got) >= 16, "%s: %s holds %r, expected %r" % (what, path, got, token))
    h.check(end_as(pod, None) == 401, "%s: organizer call without a token answered %d, expected 401"
            % (what, end_as(pod, None)))
    h.check(end_as(pod, got[::-1]) == 401, "%s: organizer call with another token was not refused" % what)
    status = end_as(pod, got)
    h.check(status == 200, "%s: organizer call with admin.token -> %d, expected 200" % (what, status))
    return got


def main(t):
    pod = t.podium({SID: {"title": "Keynote", "passphrase": "keynote-secret-77"}})
    h.check(not re.search(r"(?m)^admin_token\s*=\s*\S", pod.config_text()),
            "the harness config sets admin_token:\n%s" % pod.config_text())
    path = os.path.join(pod.data_dir, "admin.token")
    token = check_token(pod, path, None, "first start")
    pod.generation, pod.rec_env = 0, {}

    pod.stop()
    ru.restart(pod)
    check_token(pod, path, token, "restart")

    pod.stop()
    os.chmod(path, 0o644)
    ru.restart(pod)
    check_token(pod, path, token, "restart after chmod 644")
    lines = pod.log_lines_matching(lambda f, l: f.get("level") == "warn" and "admin token file" in l)
    h.check(lines and "mode=644" in lines[-1], "no warn line about the admin token file readable by others: %r"
            % lines)


if __name__ == "__main__":
    h.run(main)
