"""Attendee tokens on an fMP4 LL-HLS session (access = registered).

An fMP4 playlist names files in tag attributes too: the init section
(#EXT-X-MAP:URI=), LL-HLS parts (#EXT-X-PART:...,URI=) and the preload hint
(#EXT-X-PRELOAD-HINT:...,URI=). Every one of them needs the attendee's token,
or a player that got the playlist with ?token= is refused the init section
and plays nothing.

- the live playlist fetched with ?token= carries ?token=<token> on every URI,
  the URI lines and every URI="..." attribute, exactly once; the organizer's
  copy carries none;
- the init section, a part and a segment, fetched by those URIs -> 200 with
  the right Content-Type; the same files without the token -> 401;
- the recording's playlist (EVENT while live) likewise, its init section
  fetched by the tokenized MAP URI;
- ffprobe on the tokenized live playlist URL reads h264 + aac."""
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402
from test_tokens import get, register  # noqa: E402

SID = "workshop"
PASS = "workshop-passphrase-5521"
URI_ATTR = re.compile(r'URI="([^"]*)"')


def uris_of(text):
    """(where, uri) of every URI line and URI="..." attribute."""
    out = []
    for l in text.splitlines():
        l = l.strip()
        if not l:
            continue
        if l.startswith("#"):
            out += [(l.split(":", 1)[0], u) for u in URI_ATTR.findall(l)]
        else:
            out.append(("URI line", l))
    return out


def check_tokenized(text, token, what):
    uris = uris_of(text)
    tags = {w for w, _ in uris}
    h.check("#EXT-X-MAP" in tags, "%s names no init section (#EXT-X-MAP):\n%s" % (what, text))
    bad = [(w, u) for w, u in uris if not u.endswith("?token=" + token) or u.count("?") != 1]
    h.check(not bad, "%s: URIs without ?token=<token> appended once: %r\n%s" % (what, bad[:4], text))
    return uris


def fetch(pod, base, uri, ctype, what):
    url = urllib.parse.urljoin(pod.url(base), uri)
    r = h.http("GET", url)
    h.check(r.status == 200 and r.header("Content-Type") == ctype and r.body,
            "%s %s -> %d %r (%d bytes), expected 200 %s" % (what, uri, r.status, r.header("Content-Type"),
                                                           len(r.body or b""), ctype))
    plain = urllib.parse.urljoin(pod.url(base), uri.split("?", 1)[0])
    r = h.http("GET", plain)
    h.check(r.status == 401, "%s %s without the token -> %d, expected 401" % (what, uri.split("?", 1)[0], r.status))


def main(t):
    pod = ru.podium(t, {SID: {"title": "Workshop", "passphrase": PASS}}, close_after=30, start=False)
    with open(pod.conf_path) as f:
        text = f.read()
    h.check("\n[hls]\n" in text and "[server]\n" in text, "harness config lacks [server]/[hls]:\n%s" % text)
    text = text.replace("[server]\n", "[server]\naccess = registered\n", 1)
    text = text.replace("\n[hls]\n", "\n[hls]\nformat = fmp4\npart_duration = 0.25\n", 1)
    with open(pod.conf_path, "w") as f:
        f.write(text)
    ru.start_pod(pod)
    pub = pod.publish(SID, duration=60)

    r = register(pod, {"name": "Ann", "email": "ann@example.org"})
    h.check(r.status == 201, "POST /api/v1/register -> %d, expected 201: %r" % (r.status, r.body[:200]))
    token = r.json().get("token")
    h.check(isinstance(token, str) and token, "registration answered no token: %r" % r.body[:200])

    live = "/live/%s/index.m3u8" % SID

    def ready():
        pod.assert_running()
        r = get(pod, live, bearer=ru.ADMIN_TOKEN)
        if r.status != 200:
            return None
        text = r.body.decode()
        return text if len(h.Playlist(text).segments) >= 2 and "#EXT-X-PART:" in text else None
    admin_text = h.wait_for(ready, 20, "2 segments and a part in the live playlist of %s" % SID)
    h.check("token=" not in admin_text, "live playlist for the organizer carries a token:\n%s" % admin_text)

    r = get(pod, live, token=token)
    h.check(r.status == 200, "live playlist with ?token= -> %d, expected 200" % r.status)
    text = r.body.decode()
    uris = check_tokenized(text, token, "live playlist with ?token=")
    by_tag = {}
    for where, u in uris:
        by_tag.setdefault(where, []).append(u)
    h.check("#EXT-X-PART" in by_tag and "#EXT-X-PRELOAD-HINT" in by_tag,
            "live playlist lists no part or no preload hint: %r\n%s" % (sorted(by_tag), text))
    fetch(pod, live, by_tag["#EXT-X-MAP"][-1], "video/mp4", "live init section")
    fetch(pod, live, by_tag["#EXT-X-PART"][0], "video/mp4", "live part")
    fetch(pod, live, by_tag["URI line"][-1], "video/mp4", "live segment")

    vod = "/vod/%s/index.m3u8" % SID
    ru.wait_rec(pod, SID, lambda x: x.get("segments", 0) >= 2, 10, "2 recorded segments")
    r = get(pod, vod, token=token)
    h.check(r.status == 200, "recording playlist with ?token= -> %d, expected 200" % r.status)
    text = r.body.decode()
    uris = check_tokenized(text, token, "recording playlist with ?token=")
    fetch(pod, vod, next(u for w, u in uris if w == "#EXT-X-MAP"), "video/mp4", "recording init section")
    fetch(pod, vod, next(u for w, u in uris if w == "URI line"), "video/mp4", "recording segment")

    url = pod.url("%s?token=%s" % (live, token))
    j = h.ffprobe_json(["-show_streams", url], timeout=30, what="ffprobe of the tokenized fMP4 live playlist")
    kinds = sorted((s.get("codec_type"), s.get("codec_name")) for s in j.get("streams", []))
    h.check(kinds == [("audio", "aac"), ("video", "h264")],
            "ffprobe of the tokenized fMP4 live playlist found %r, expected aac audio + h264 video" % kinds)
    h.check(pub.poll() is None, "publisher stopped during the test:\n%s" % pub.log())
    pub.kill()


if __name__ == "__main__":
    h.run(main)
