#!/usr/bin/env python3
"""SIGHUP reloads the config file's sessions while a talk is live, so an
organizer can add a talk, move one or change a leaked passphrase without a
restart that would cut every live talk.
1. The file gets keynote retitled with a new passphrase, a new session
   (its start with an offset) and a changed close_after: after SIGHUP the
   API shows the new title and the new session, the log says "config
   reloaded" added=1 updated=1 and that close_after waits for a restart.
   The keynote's speaker stays on air; the old passphrase no longer gets
   in, the new one does, and the new session takes a publisher.
2. A file with errors changes nothing: each error is logged with its file
   and line, then "config reload refused"; the sessions stay as they were
   and the speakers stay on.
3. A session taken out of the file that has streamed stays until a
   restart (ending a talk is the organizer's call), with a warn line; one
   that never streamed (a cancelled talk) goes: 404, off the conference
   page, its speaker refused. A [session] whose id an API session holds is
   not applied, with a warn line.
4. A new admin_token (the old one leaked) applies at once: the old one gets
   401, the new one ends a talk; neither is logged."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SID = "keynote"
NEW = "lightning1"
API = "api1"
GONE = "cancelled1"
OLD_PASS, NEW_PASS = "keynote-secret-42", "keynote-secret-new"
NEW_TOKEN = "replaced-admin-token-0123456789"


def reload(pod, text, msg):
    """Writes text as pod's config, sends SIGHUP and waits for the log line
    msg ("config reloaded", or a line starting "config reload refused");
    returns its fields."""
    def lines():
        return [f for f in pod.log_records() if f.get("msg") == msg or f.get("msg", "").startswith(msg + ":")]
    n = len(lines())
    with open(pod.conf_path, "w") as f:
        f.write(text)
    ready = [f for f in pod.log_records() if f.get("msg") == "ready"]
    h.check(ready and ready[0].get("pid") == str(pod.proc.pid), "the ready line names pid %r, Podium's is %d"
            % (ready and ready[0].get("pid"), pod.proc.pid))
    os.kill(int(ready[0]["pid"]), signal.SIGHUP)
    recs = h.wait_for(lambda: (lambda r: r if len(r) > n else None)(lines()), 10, "log line msg=%r after SIGHUP" % msg)
    pod.assert_running()
    h.note("SIGHUP: %r" % recs[-1])
    return recs[-1]


def log_has(pod, level, part, session=None):
    return any(f.get("level") == level and part in f.get("msg", "")
               and (session is None or f.get("session") == session) for f in pod.log_records())


def main(t):
    pod = t.podium({SID: {"title": "Opening keynote", "passphrase": OLD_PASS}})
    pub = pod.publish(SID, duration=90)
    h.wait_for(lambda: pod.api(SID).get("live"), 15, "%s live" % SID)
    base = pod.config_text()

    # 1. retitle and rekey the keynote, add a talk, change a server key
    text = (base.replace("title = Opening keynote", "title = Opening keynote (moved to hall B)")
            .replace(OLD_PASS, NEW_PASS).replace("close_after = 60", "close_after = 30")
            + "[session %s]\ntitle = Lightning one\npassphrase = lightning-pass-1\n"
              "starts = 2026-12-24T15:30:00+01:00\n" % NEW
            + "[session %s]\ntitle = A talk to be cancelled\npassphrase = cancelled-pass-1\n" % GONE)
    text = text.replace("[server]\n", "[server]\nname = Hall B Days\n", 1)
    rec = reload(pod, text, "config reloaded")
    h.check("<h1>Hall B Days</h1>" in pod.get("/").body.decode() and log_has(pod, "info", "name changed"),
            "the conference's name the reload set is not the page's heading, or not logged")
    h.check((rec.get("added"), rec.get("updated")) == ("2", "1"),
            "config reloaded added=%s updated=%s, expected 2 and 1" % (rec.get("added"), rec.get("updated")))
    h.check(log_has(pod, "info", "session updated by config reload", SID),
            "no 'session updated by config reload' line for %s" % SID)
    h.check(log_has(pod, "warn", "close_after changed"), "the changed close_after was not logged as "
            "waiting for a restart")
    j = pod.api(SID)
    h.check(j.get("title") == "Opening keynote (moved to hall B)", "title after reload: %r" % j.get("title"))
    n = pod.api(NEW)
    h.check((n.get("title"), n.get("starts"), n.get("source")) == ("Lightning one", "2026-12-24T14:30:00Z",
                                                                      "config"),
            "the session the reload added: %r" % {k: n.get(k) for k in ("title", "starts", "source")})
    h.check(pub.poll() is None and j.get("live"), "the keynote's speaker was cut off by the reload")

    bad = pod.publish(SID, duration=5, passphrase=OLD_PASS)
    h.check(bad.wait(15) != 0, "the passphrase the reload replaced still got in")
    h.check(pub.poll() is None, "a refused publisher disturbed the live one")
    fresh = pod.publish(SID, duration=60, passphrase=NEW_PASS)
    h.wait_for(lambda: pod.api(SID).get("publishers_total", 0) >= 2, 15,
               "a publisher with the new passphrase takes over %s" % SID)
    h.wait_for(lambda: pub.poll() is not None, 15, "the first publisher closed by the takeover")
    lit = pod.publish(NEW, duration=60, passphrase="lightning-pass-1")
    h.wait_for(lambda: pod.api(NEW).get("live"), 15, "%s live after the reload added it" % NEW)

    # 2. a file with errors: nothing changes
    broken = text.replace("window = 6", "window = 1000").replace("lightning-pass-1", "short")
    rec = reload(pod, broken, "config reload refused")
    errs = [f.get("msg", "") for f in pod.log_records() if f.get("level") == "error"
            and f.get("msg", "").startswith("config reload: ")]
    h.check(any("podium.ini:" in e and "window" in e for e in errs)
            and any("podium.ini:" in e and "passphrase" in e for e in errs),
            "the refused reload did not log both errors with file and line: %r" % errs)
    h.check(pod.api(SID).get("title") == "Opening keynote (moved to hall B)" and pod.api(NEW).get("live"),
            "a refused reload changed the sessions")
    h.check(fresh.poll() is None and lit.poll() is None, "a refused reload cut a speaker off")
    # the organizer who sent the SIGHUP learns why nothing changed on the page
    recent = pod.get("/api/v1/sessions", headers=pod.admin_auth()).json().get("recent_problems") or []
    h.check([l for l in recent if "level=error" in l and "config reload refused" in l]
            and [l for l in recent if "config reload: " in l and "window" in l],
            "the organizer's recent_problems lacks the refused reload and its errors: %r" % recent)

    # 3. the new talk taken out of the file; an API session's id given a [session]
    r = pod.request("POST", "/api/v1/sessions", headers=pod.admin_auth(),
                    data=b'{"id":"%s","title":"API talk","passphrase":"api-talk-pass-1"}' % API.encode())
    h.check(r.status == 201, "POST %s: %d %s" % (API, r.status, r.body[:200]))
    rec = reload(pod, base.replace(OLD_PASS, NEW_PASS).replace("title = Opening keynote",
                                                                "title = Opening keynote (moved to hall B)")
                 + "[session %s]\ntitle = Not the API's\npassphrase = config-pass-123\n" % API, "config reloaded")
    h.check((rec.get("removed"), rec.get("removed_at_restart"), rec.get("not_applied")) == ("1", "1", "1"),
            "config reloaded removed=%s removed_at_restart=%s not_applied=%s, expected 1, 1 and 1"
            % (rec.get("removed"), rec.get("removed_at_restart"), rec.get("not_applied")))
    h.check(log_has(pod, "warn", "no longer in the config file", NEW), "no warn line for %s taken out" % NEW)
    h.check(pod.get("/api/v1/sessions/" + GONE).status == 404, "%s, never streamed, is still there after "
            "it was taken out of the file" % GONE)
    h.check(GONE not in pod.get("/").body.decode(), "the conference page still lists %s" % GONE)
    bad = pod.publish(GONE, duration=5, passphrase="cancelled-pass-1")
    h.check(bad.wait(15) != 0, "a speaker got into %s after it was taken out of the file" % GONE)
    h.check(log_has(pod, "warn", "created through the API", API), "no warn line for the [session %s]" % API)
    h.check(pod.api(NEW).get("live") and lit.poll() is None, "%s, taken out of the file, was ended" % NEW)
    h.check(pod.api(API).get("title") == "API talk", "the config file's [session %s] replaced the API's" % API)
    h.note("after three reloads: %s %r, %s live, %s %r" % (SID, pod.api(SID).get("title"), NEW, API,
                                                           pod.api(API).get("title")))

    # 4. the admin token leaked: a new one in the file replaces it at once
    old_auth = pod.admin_auth()
    rec = reload(pod, pod.config_text().replace("[server]\n", "[server]\nadmin_token = %s\n" % NEW_TOKEN),
                 "config reloaded")
    h.check(log_has(pod, "info", "admin token replaced by config reload"), "no 'admin token replaced' line")
    h.check(NEW_TOKEN not in pod.log_text() and old_auth["Authorization"][7:] not in pod.log_text(),
            "the log shows an admin token")
    end = "/api/v1/sessions/%s/end" % NEW
    r = pod.request("POST", end, headers=old_auth, data=b"")
    h.check(r.status == 401, "the replaced admin token still works: POST end -> %d" % r.status)
    h.check(pod.api(NEW).get("live"), "a request with the replaced token ended %s" % NEW)
    r = pod.request("POST", end, headers={"Authorization": "Bearer " + NEW_TOKEN}, data=b"")
    h.check(r.status in (200, 202), "the new admin token: POST end -> %d %s" % (r.status, r.body[:200]))
    h.wait_for(lambda: not pod.api(NEW).get("live"), 15, "%s ended with the new admin token" % NEW)


if __name__ == "__main__":
    h.run(main)
