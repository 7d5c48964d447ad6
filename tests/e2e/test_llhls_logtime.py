#!/usr/bin/env python3
"""Blocking playlist reload latency measured against Podium's own clock:
with PODIUM_LOG=debug Podium logs `msg="part" seq=M part=P` when a part is
complete (just before publishing it). A client holding
index.m3u8?_HLS_msn=M&_HLS_part=P for the preload-hinted part must receive
the playlist no earlier than that log time and within 50 ms of it."""
import os
import re
import sys
import time
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402
from test_llhls import llhls_podium, raw_get  # noqa: E402

SID = "logtime"
PASS = "logtime-secret-42"
HINT = re.compile(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(\d+)\.(\d+)\.m4s"')
PART_LINE = re.compile(r'^ts=(\S+) level=debug session=%s msg="part" seq=(\d+) part=(\d+)' % SID)


def main(t):
    os.environ["PODIUM_LOG"] = "debug"      # inherited by the podium process
    try:
        pod = llhls_podium(t, {SID: {"passphrase": PASS}})
    finally:
        del os.environ["PODIUM_LOG"]
    pub = pod.publish(SID, duration=20)
    wall_minus_mono = time.time() - time.monotonic()

    def hinted():
        st, _, body, _ = raw_get(pod.http_port, "/live/%s/index.m3u8" % SID)
        m = HINT.search(body.decode()) if st == 200 else None
        return (int(m.group(1)), int(m.group(2))) if m else None
    h.wait_for(lambda: hinted() is not None and hinted()[0] >= 2, 15, "a preload hint past segment 2")

    received = {}
    closed = 0
    for _ in range(12):
        msn, part = hinted()
        st, _, body, done = raw_get(pod.http_port, "/live/%s/index.m3u8?_HLS_msn=%d&_HLS_part=%d"
                                    % (SID, msn, part))
        h.check(st == 200, "blocking reload for %d.%d: HTTP %d" % (msn, part, st))
        has_part = ('URI="%d.%d.m4s"' % (msn, part)) in body.decode()
        h.check(has_part or ("\n%d.m4s" % msn) in body.decode(),
                "the held playlist does not list part %d.%d" % (msn, part))
        if has_part:
            received[(msn, part)] = done + wall_minus_mono
        else:
            closed += 1         # the keyframe closed the segment before the hinted part: none to time
    h.check(len(received) >= 8, "only %d of 12 held requests were answered by their part (%d by the "
            "segment closing first)" % (len(received), closed))
    h.check(pub.poll() is None, "publisher exited early: %s" % pub.log())

    logged = {}
    with open(pod.log_path) as f:
        for line in f:
            m = PART_LINE.match(line)
            if m:
                ts = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
                logged[(int(m.group(2)), int(m.group(3)))] = ts.timestamp()
    diffs = []
    for key, got in sorted(received.items()):
        h.check(key in logged, "no part log line for %d.%d" % key)
        diffs.append((got - logged[key]) * 1000.0)
    diffs.sort()
    h.note("BLOCKING RELOAD vs PODIUM PART LOG (ms, client receive - part completion): n=%d min %.1f "
           "median %.1f max %.1f (%d answered by the segment closing)"
           % (len(diffs), diffs[0], diffs[len(diffs) // 2], diffs[-1], closed))
    # the log time has millisecond resolution
    h.check(diffs[0] >= -1.5, "a held playlist arrived %.1f ms before its part was complete" % diffs[0])
    h.check(diffs[-1] <= 50.0, "a held playlist arrived %.1f ms after its part was complete" % diffs[-1])


if __name__ == "__main__":
    h.run(main)
