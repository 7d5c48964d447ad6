#!/usr/bin/env python3
"""How many watched: the session JSON's viewers (segment requests during the
last segment) follows the attendees, and viewers_peak keeps the most it
has been, which an organizer reports after the talk. Two players watch a
live talk (each downloads every segment); once both leave, viewers falls
to 0 and viewers_peak stays at 2, which the organizer page shows as
"0 (peak 2)" and /metrics as podium_session_viewers_peak. HEADs and
Range requests for the rest of a segment count as no one; the peak
outlives a restart and goes with a deleted recording. Then two
Low-Latency players (each fetching every part, no segment) on an LL-HLS
talk read 2 as well. Needs Chromium (scripts/deps browser)."""
import os
import re
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402
import browser as br  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "keynote"


def main(t):
    br.require()
    pod = t.podium({SID: {"title": "Keynote", "passphrase": "keynote-secret-42"}}, segment_duration=1.0)
    pub = pod.publish(SID, duration=60, gop=30)
    first = pod.watch(SID)
    first.wait_segments(2, 20, "2 segments of %s" % SID)
    h.check(pod.api(SID).get("viewers_peak", -1) <= 1, "viewers_peak %r with one player"
            % pod.api(SID).get("viewers_peak"))
    second = pod.watch(SID)
    j = h.wait_for(lambda: (lambda j: j if j.get("viewers") == 2 else None)(pod.api(SID)), 15,
                   "viewers 2 while two players watch")
    h.check(j.get("viewers_peak") == 2, "viewers_peak %r while two watch" % j.get("viewers_peak"))
    for w in (first, second):
        w.stop()
        w.assert_ok()
    j = h.wait_for(lambda: (lambda j: j if j.get("viewers") == 0 else None)(pod.api(SID)), 15,
                   "viewers 0 once both players left")
    h.check(j.get("viewers_peak") == 2, "viewers_peak %r after both left, expected the 2 there were"
            % j.get("viewers_peak"))
    h.note("viewers %r, viewers_peak %r" % (j.get("viewers"), j.get("viewers_peak")))
    m = pod.get("/metrics").body.decode()
    h.check('podium_session_viewers_peak{session="%s"} 2' % SID in m,
            "/metrics has no viewers_peak 2 for %s:\n%s" % (SID, "\n".join(l for l in m.splitlines() if "viewers" in l)))
    check_not_players(pod)
    h.check(pub.poll() is None, "the speaker stopped before the players left")
    # the organizer's report after the talk outlives a restart
    pod.stop()
    ru.restart(pod)
    j = pod.api(SID)
    h.check(j.get("viewers_peak") == 2, "viewers_peak %r after a restart, expected the 2 kept beside the "
            "recording" % j.get("viewers_peak"))
    token = pod.admin_auth()["Authorization"].split(" ", 1)[1]
    br.page(t, pod, "/organizer", "viewers-organizer", fill=("#tok", token), wait_text="0 (peak 2)")
    # deleting the recording (a rehearsal, say) starts the count again
    h.check(pod.request("POST", "/api/v1/sessions/%s/end" % SID, headers=pod.admin_auth()).status in (200, 202),
            "POST .../end after the restart")
    h.wait_for(lambda: pod.api(SID, organizer=True)["recording"]["state"] != "recording", 10,
               "the recording finalized after the end")
    r = pod.request("DELETE", "/api/v1/sessions/%s/recording" % SID, headers=pod.admin_auth())
    h.check(r.status == 202, "DELETE .../recording -> %d: %r" % (r.status, r.body[:200]))
    h.check(pod.api(SID).get("viewers_peak") == 0, "viewers_peak %r after the recording was deleted"
            % pod.api(SID).get("viewers_peak"))
    pod.stop()
    check_llhls(t)


def check_not_players(pod):
    """A HEAD of a segment, or a Range for the rest of one, is no player: the
    newest segments asked for that way three times each leave viewers at 0."""
    asked = set()

    def ask():
        pl = h.Playlist(pod.get("/live/%s/index.m3u8" % SID).body.decode())
        for seg in pl.segments[-2:]:
            if seg.seq not in asked:
                asked.add(seg.seq)
                for _ in range(3):
                    path = "/live/%s/%s" % (SID, seg.uri)
                    h.check(pod.request("HEAD", path).status == 200, "HEAD %s" % path)
                    r = pod.get(path, headers={"Range": "bytes=100-"})
                    h.check(r.status == 206, "Range GET %s -> %d" % (path, r.status))
        return pl.segments[-1].seq if pl.segments else None

    newest = h.wait_for(ask, 10, "a live segment to ask for")
    h.wait_for(lambda: ask() >= newest + 2, 15, "two more live segments to ask for")
    last = max(asked)
    # viewers is worked out as a segment is added, from those before it
    h.wait_for(lambda: pod.api(SID).get("segments", 0) > last + 1, 15, "a segment after %d" % last)
    j = pod.api(SID)
    h.check(j.get("viewers") == 0, "viewers %r after HEADs and Range requests only (%d segments asked "
            "for 3 times each), expected 0" % (j.get("viewers"), len(asked)))


class PartPlayer:
    """A Low-Latency HLS player, as far as the server can tell: polls the
    playlist and fetches each part it lists, once, and no segment."""

    def __init__(self, pod):
        self.pod, self.seen, self.errors = pod, set(), []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping.is_set():
            r = self.pod.get("/live/%s/index.m3u8" % SID)
            for uri in re.findall(r'#EXT-X-PART:[^\n]*URI="([^"]+)"', r.body.decode() if r.status == 200 else ""):
                if uri not in self.seen:
                    self.seen.add(uri)
                    got = self.pod.get("/live/%s/%s" % (SID, uri))
                    if got.status != 200:
                        self.errors.append("%s -> %d" % (uri, got.status))
            time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.thread.join(10)


def check_llhls(t):
    """Low-Latency players fetch parts, not segments: they count too."""
    pod = ru.podium(t, {SID: {"title": "Keynote", "passphrase": "keynote-secret-42"}}, segment_duration=1.0,
                    start=False)
    ru.hls_options(pod, "format = fmp4\npart_duration = 0.2\n")
    ru.start_pod(pod)
    pub = pod.publish(SID, duration=60, gop=30)
    h.wait_for(lambda: pod.api(SID).get("segments", 0) >= 2, 20, "2 segments of the LL-HLS %s" % SID)
    players = [PartPlayer(pod), PartPlayer(pod)]
    try:
        j = h.wait_for(lambda: (lambda j: j if j.get("viewers") == 2 else None)(pod.api(SID)), 15,
                       "viewers 2 while two Low-Latency players fetch parts")
    finally:
        for p in players:
            p.stop()
    h.check(not any(p.errors for p in players), "part fetches failed: %r" % [p.errors for p in players])
    h.check(j.get("viewers_peak") == 2, "LL-HLS viewers_peak %r while two watch" % j.get("viewers_peak"))
    h.note("LL-HLS: %d and %d parts fetched, viewers %r" % (len(players[0].seen), len(players[1].seen),
                                                          j.get("viewers")))
    h.check(pub.poll() is None, "the LL-HLS speaker stopped")
    pod.stop()


if __name__ == "__main__":
    h.run(main)
