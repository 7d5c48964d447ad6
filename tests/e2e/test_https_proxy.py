#!/usr/bin/env python3
"""HTTPS for attendees through nginx, with the README's config as it is
(config/nginx-podium.conf: only its ports and certificate paths replaced,
each replacement checked, so the file cannot drift from what is tested).
A self-signed certificate; a speaker live on Podium with Low-Latency HLS
(fMP4, 0.2 s parts), whose held playlist requests a proxy could break.

- over https the conference page and the player page answer 200, and the
  calendar's link to the player is the https URL with the host and port
  the attendee asked;
- ffprobe reads H.264 and AAC from the live playlist over https; a
  blocking reload for the hinted part is held and answered with it (under
  3 s); a segment comes through whole (the bytes Podium serves directly);
- the organizer API works through it (a session created with the admin
  token, 201);
- plain http on the redirect port answers 301 to the same host and path on
  https.
Needs nginx and openssl (scripts/deps test)."""
import http.client
import os
import shutil
import socket
import ssl
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402
import test_llhls as ll  # noqa: E402

SID = "keynote"
CONF = os.path.join(h.REPO, "config", "nginx-podium.conf")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_conf(t, podium_port, https_port, http_port):
    """The README's file, pointed at this test's ports and certificate."""
    key, cert = t.path("key.pem"), t.path("cert.pem")
    rc, _, err = h.run_capture(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                                "-days", "1", "-subj", "/CN=podium.example.org"], 30, "openssl req")
    h.check(rc == 0, "openssl could not make a certificate: %s" % err[-300:])
    with open(CONF) as f:
        text = f.read()
    for old, new in (("server 127.0.0.1:8080;", "server 127.0.0.1:%d;" % podium_port),
                     ("listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % https_port),
                     ("listen 80;", "listen 127.0.0.1:%d;" % http_port),
                     ("/etc/letsencrypt/live/podium.example.org/fullchain.pem", cert),
                     ("/etc/letsencrypt/live/podium.example.org/privkey.pem", key)):
        h.check(text.count(old) == 1, "%s no longer has %r once: update this test with it" % (CONF, old))
        text = text.replace(old, new)
    path = t.path("podium-site.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def start_nginx(t, site):
    tmp = t.path("nginx")
    os.makedirs(tmp, exist_ok=True)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        # one process (master_process off): the harness ends it by its PID;
        # as root it would otherwise serve as nobody, who cannot read t.tmp
        f.write("%sdaemon off;\nmaster_process off;\npid %s/nginx.pid;\nerror_log %s/error.log;\n"
                "events { worker_connections 256; }\n"
                "http {\n  access_log %s/access.log;\n  client_body_temp_path %s/body;\n"
                "  proxy_temp_path %s/proxy;\n  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n"
                "  scgi_temp_path %s/scgi;\n  include %s;\n}\n"
                % ("user root;\n" if os.geteuid() == 0 else "", tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp, site))
    # -e: not the compiled-in /var/log/nginx/error.log, which a non-root user cannot open
    return h.spawn(["nginx", "-e", os.path.join(tmp, "error.log"), "-c", conf, "-p", tmp], "nginx",
                   t.path("nginx.log"))


def main(t):
    for tool in ("nginx", "openssl"):
        h.check(shutil.which(tool), "%s not installed (scripts/deps test)" % tool)
    # Low-Latency HLS, the most a proxy can get wrong: held playlist requests
    pod = ru.podium(t, {SID: {"title": "Keynote", "passphrase": "keynote-secret-42",
                              "starts": "2026-12-24T15:00:00Z"}}, segment_duration=1.0, start=False)
    ru.hls_options(pod, "format = fmp4\npart_duration = 0.2\n")
    ru.start_pod(pod)
    pub = pod.publish(SID, duration=60, gop=30)
    h.wait_for(lambda: pod.api(SID).get("segments", 0) >= 3, 20, "3 segments of %s" % SID)

    https_port, http_port = free_port(), free_port()
    nginx = start_nginx(t, site_conf(t, pod.http_port, https_port, http_port))
    base = "https://127.0.0.1:%d" % https_port
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=tls))

    def get(path, data=None, headers=None, method=None):
        req = urllib.request.Request(base + path, data=data, headers=headers or {}, method=method)
        try:
            with opener.open(req, timeout=h.scaled(5)) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def up():
        try:
            return get("/healthz")[0] == 200
        except OSError:
            return nginx.poll() is not None
    h.wait_for(up, 10, "nginx answering on %s" % base)
    h.check(nginx.poll() is None, "nginx exited: %s" % open(t.path("nginx.log")).read()[-500:])

    for path, want in (("/", b"Keynote"), ("/watch/%s" % SID, b"Keynote")):
        status, body, _ = get(path)
        h.check(status == 200 and want in body, "%s over https -> %d" % (path, status))
    status, body, _ = get("/schedule.ics")
    link = "URL:https://127.0.0.1:%d/watch/%s" % (https_port, SID)
    h.check(status == 200 and link in body.decode(), "the calendar over https does not link %r:\n%s"
            % (link, body.decode()[:600]))

    url = base + "/live/%s/index.m3u8" % SID
    rc, out, err = h.run_capture(["ffprobe", "-v", "error", "-tls_verify", "0", "-show_entries",
                                  "stream=codec_name", "-of", "csv=p=0", url], 30, "ffprobe over https")
    h.check(rc == 0 and sorted(set(out.split())) == ["aac", "h264"],
            "ffprobe %s: rc %d, streams %r, %s" % (url, rc, out.split(), err[-300:]))
    pl = get("/live/%s/index.m3u8" % SID)[1].decode()
    seg = [l for l in pl.splitlines() if l and not l.startswith("#")][-1]
    # a blocking reload for the hinted part is held by Podium, through nginx,
    # and answered once the part is out
    seq, idx = ll.LLPlaylist(pl).hint_pos()
    t0 = time.monotonic()
    status, held, _ = get("/live/%s/index.m3u8?_HLS_msn=%d&_HLS_part=%d" % (SID, seq, idx))
    took = time.monotonic() - t0
    h.check(status == 200 and ll.LLPlaylist(held.decode()).lists_part(seq, idx) and took < 3,
            "blocking reload for %d.%d.m4s over https: %d after %.2f s" % (seq, idx, status, took))
    status, segment, _ = get("/live/%s/%s" % (SID, seg))
    direct = pod.get("/live/%s/%s" % (SID, seg))
    h.check(status == 200 and segment == direct.body and len(segment) > 1000,
            "segment %s over https: %d, %d bytes, %d directly" % (seg, status, len(segment), len(direct.body)))

    status, body, _ = get("/api/v1/sessions", method="POST", headers=dict(pod.admin_auth(), **{
        "Content-Type": "application/json"}), data=b'{"id":"proxied","passphrase":"proxied-pass-123"}')
    h.check(status == 201, "POST /api/v1/sessions over https -> %d %s" % (status, body[:200]))

    c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=h.scaled(5))
    c.request("GET", "/watch/%s" % SID)
    r = c.getresponse()
    loc = r.getheader("Location") or ""
    c.close()
    # to the same host and path on https's own port (443 in the README's file)
    h.check(r.status == 301 and loc == "https://127.0.0.1/watch/%s" % SID,
            "plain http -> %d Location %r, expected 301 to https://127.0.0.1/watch/%s" % (r.status, loc, SID))
    h.note("through nginx: pages, calendar %s, ffprobe h264+aac, blocking reload held %.0f ms, segment %s "
           "(%d bytes), API 201, http 301" % (link, took * 1000, seg, len(segment)))
    h.check(pub.poll() is None, "the speaker stopped during the test")
    h.kill_proc(nginx, 15)
    h.wait_exit(nginx, 10, "nginx")


if __name__ == "__main__":
    h.run(main)
