#!/usr/bin/env python3
"""A speaker on a lossy link: ffmpeg publishes through a UDP relay on
loopback that loses SRT data packets on the way to Podium. Some sequence
numbers lose only their first transmission (libsrt asks again and the
retransmission gets through); others lose every copy, so libsrt drops them
once the latency has passed. Podium must:
- show the losses, retransmissions and drops in the session API and /metrics;
- log a warning naming the publisher and how many packets were dropped, no
  more than the relay made unrecoverable;
- keep the lossy session's playlist going and serve a second, clean session
  next to it with no drop warning and no drops counted."""
import os
import re
import select
import socket
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402

LOSSY, CLEAN = "lossy", "clean"
DROP_MSG = "SRT packets dropped"
GONE_EVERY = 150      # every copy of 1 sequence number in 150 is lost
ONCE_EVERY = 40       # the first transmission of 1 in 40 is lost


class LossyRelay(threading.Thread):
    """One caller <-> Podium's SRT port. Control packets pass both ways; data
    packets from the caller are lost by sequence number (see above)."""

    def __init__(self, upstream_port):
        super().__init__(daemon=True)
        self.down = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.down.bind(("127.0.0.1", 0))
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.connect(("127.0.0.1", upstream_port))
        self.port = self.down.getsockname()[1]
        self.client = None
        self.halt = threading.Event()
        self.gone = set()             # sequence numbers Podium can never get
        self.once = 0                 # first transmissions lost
        self.passed = 0

    def lose(self, pkt):
        if len(pkt) < 16 or pkt[0] & 0x80:           # control packet
            return False
        seq = int.from_bytes(pkt[0:4], "big") & 0x7FFFFFFF
        if seq % GONE_EVERY == 7:
            self.gone.add(seq)
            return True
        retransmitted = pkt[4] & 0x04                  # the R flag
        if seq % ONCE_EVERY == 19 and not retransmitted:
            self.once += 1
            return True
        return False

    def run(self):
        while not self.halt.is_set():
            ready, _, _ = select.select([self.down, self.up], [], [], 0.2)
            for s in ready:
                try:
                    if s is self.down:
                        pkt, self.client = self.down.recvfrom(2048)
                        if not self.lose(pkt):
                            self.passed += 1
                            self.up.send(pkt)
                    else:
                        pkt = self.up.recv(2048)
                        if self.client:
                            self.down.sendto(pkt, self.client)
                except OSError:
                    pass      # Podium or the caller went away: so does the test

    def stop(self):
        self.halt.set()
        self.join(timeout=2)
        self.down.close()
        self.up.close()


def srt_link(pod, sid):
    pub = pod.api(sid).get("publisher") or {}
    return pub.get("srt") or {}


def metric(pod, family, sid):
    text = pod.get("/metrics").body.decode("utf-8")
    m = re.search(r'^%s\{session="%s"\} (\S+)$' % (family, sid), text, re.M)
    return float(m.group(1)) if m else None


def drop_warnings(pod, sid):
    return [f for f in pod.log_records()
            if f.get("session") == sid and DROP_MSG in f.get("msg", "")]


def main(t):
    pod = t.podium({LOSSY: {"title": "Lossy link", "passphrase": "lossy-secret-01"},
                    CLEAN: {"title": "Clean link", "passphrase": "clean-secret-01"}})
    relay = LossyRelay(pod.srt_port)
    relay.start()
    try:
        url = pod.srt_url(LOSSY).replace(":%d?" % pod.srt_port, ":%d?" % relay.port)
        lossy = t.publisher(url, duration=20, label=LOSSY)
        clean = pod.publish(CLEAN, duration=20)
        wc = pod.watch(CLEAN)
        wc.wait_segments(2, 20, "2 segments of the clean session")

        def dropped_and_resent():
            link = srt_link(pod, LOSSY)
            return link if link.get("packets_dropped", 0) > 0 and \
                link.get("packets_retransmitted", 0) > 0 else None
        link = h.wait_for(dropped_and_resent, 20,
                          "API: the lossy publisher's SRT drops and retransmissions")
        h.check(link["packets_lost"] >= link["packets_dropped"],
                "API: %d lost < %d dropped" % (link["packets_lost"], link["packets_dropped"]))
        h.note("lossy link after %d packets passed: %s; relay lost %d first copies, "
               "%d sequence numbers for good" % (relay.passed, link, relay.once, len(relay.gone)))
        for family in ("podium_srt_packets_lost_total", "podium_srt_packets_retransmitted_total",
                       "podium_srt_packets_dropped_total"):
            v = metric(pod, family, LOSSY)
            h.check(v is not None and v > 0, "/metrics %s for %s is %r, expected > 0"
                    % (family, LOSSY, v))

        warns = h.wait_for(lambda: drop_warnings(pod, LOSSY), 15,
                           "a warning naming the dropped packets of %s" % LOSSY)
        w = warns[0]
        h.check(w.get("level") == "warn", "drop line at level %r: %r" % (w.get("level"), w))
        h.check(w.get("peer", "").startswith("127.0.0.1:"), "drop line names no peer: %r" % w)
        dropped = int(w.get("dropped", "0"))
        h.check(1 <= dropped <= len(relay.gone),
                "drop line says dropped=%d; the relay made %d sequence numbers unrecoverable"
                % (dropped, len(relay.gone)))
        h.check(int(w.get("dropped_total", "0")) >= dropped, "dropped_total < dropped: %r" % w)

        # the lossy session keeps producing segments
        before = pod.get("/live/%s/index.m3u8" % LOSSY)
        h.check(before.status == 200, "lossy playlist -> %d" % before.status)
        seq0 = h.Playlist(before.body.decode()).media_seq
        h.wait_for(lambda: h.Playlist(pod.get("/live/%s/index.m3u8" % LOSSY).body.decode())
                   .media_seq > seq0, 15, "the lossy session's playlist moving on")

        lossy.kill()
        clean.wait_ok(35)
        wc.stop()            # before SIGTERM: the watcher would see the server vanish
        h.check(not drop_warnings(pod, CLEAN), "drop warning for the clean session: %r"
                % drop_warnings(pod, CLEAN))
        pod.assert_running()
    finally:
        relay.stop()
    pod.stop()


if __name__ == "__main__":
    h.run(main, tools=["ffmpeg", "ffprobe"])
