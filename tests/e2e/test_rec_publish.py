#!/usr/bin/env python3
"""Organizer ends a session, publishes a trimmed MP4, unpublishes it.

- organizer endpoints answer 401 without (or with a wrong) Bearer token;
- publish while live -> 409; POST .../end -> 202: the publisher is kicked, the
  recording finalized within a few seconds, the live playlist gets ENDLIST; the
  log says "organizer ends the session" before "publisher stream ended";
- bad publish bodies -> 400 (not JSON, not an object, non-number start,
  end <= start, negative start, start beyond the recording, an unknown or
  misspelt field), each naming the field;
- publish {"start": 3, "end": 9} -> 202; export progress runs to done/100;
  DATA_DIR/recordings/<id>/<id>.mp4: moov before mdat (+faststart), as many
  AAC frames as its length holds (3 in 4 were lost from TS recordings), ffprobe
  reads it, h264+aac, duration within one GOP of 6 s, first video packet a
  keyframe, decodes without errors; its first picture is the recording's
  keyframe at or before 3 s and its last picture within one GOP of 9 s
  (frame checksums compared with the decoded recording);
- state "published", recording.published true: recording playlist and MP4
  served without token; the playlist lists exactly the segments overlapping
  [start, end), numbered as in the whole recording, with ENDLIST; segments
  trimmed off answer 404 without token (200, not publicly cacheable, to the
  organizer); a restart serves the same cut; Range bytes=100-1099 on the MP4 -> 206 with the right
  Content-Range and the same bytes as that slice of the full download;
- the sessions report (GET /api/v1/sessions?format=csv), for the organizer
  and an attendee: the published session's row with its recording's
  length, "yes", the MP4 and the viewer peak (and once unpublished, for an
  attendee, none of it);
- unpublish -> 200; then 404 without token, 200 with it; the attendee's
  session JSON shows no recording (state ended, recording.state none), the
  organizer's the finalized recording and its MP4 (state recorded);
- publishing again with start 3.5 (between keyframes): the new MP4 starts on
  the keyframe at or before 3.5 s;
- published, the recording is final: a publisher is refused (a warn line
  says why) and the recording's playlist does not change;
- an unpublish right after a publish, while the export runs: the export's
  end leaves the recording unpublished (404 without the token)."""
import csv
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "lightning"
START, END = 3, 9
START2 = 3.5       # between keyframes (1 s GOP)
RECORD = 12.0


def framemd5(src, what, extra_in=()):
    """Per-frame MD5 of the decoded video frames of src, in presentation order."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error"] + list(extra_in) + \
          ["-i", src, "-map", "0:v:0", "-f", "framemd5", "-"]
    rc, out, err = h.run_capture(cmd, 60, "framemd5 of %s" % what)
    h.check(rc == 0, "framemd5 of %s failed (%d): %s" % (what, rc, err[-800:]))
    return [l.rsplit(",", 1)[1].strip() for l in out.splitlines() if l and not l.startswith("#")]


def window_uris(pl, start, end):
    """The URIs of pl's segments overlapping [start, end) seconds, counted
    from 0 by adding EXTINFs (whole ms, as written): from the last segment
    starting at or before start to the last starting before end."""
    t, starts = 0, []
    for seg in pl.segments:
        starts.append(t)
        t += round(seg.duration * 1000)
    first = max(i for i, t0 in enumerate(starts) if t0 <= start * 1000)
    last = max(i for i, t0 in enumerate(starts) if t0 < end * 1000)
    return first, [seg.uri for seg in pl.segments[first:last + 1]]


def check_trimmed(pod, pl_url, rpl, start, end, what):
    """The published playlist lists exactly the segments overlapping the
    window, numbered as in the whole recording, and ends; returns its URIs."""
    first, keep = window_uris(rpl, start, end)
    r = pod.get(pl_url)
    h.check(r.status == 200, "%s: recording playlist without token -> %d, expected 200" % (what, r.status))
    tpl = h.Playlist(r.body.decode())
    h.check(not tpl.problems and tpl.endlist, "%s: trimmed playlist problems %r, ENDLIST %r:\n%s"
            % (what, tpl.problems, tpl.endlist, tpl.text))
    h.check([seg.uri for seg in tpl.segments] == keep,
            "%s: published playlist lists %r, expected the segments overlapping [%s, %s): %r"
            % (what, [seg.uri for seg in tpl.segments], start, end, keep))
    h.check((tpl.media_seq or 0) == (rpl.media_seq or 0) + first,
            "%s: trimmed MEDIA-SEQUENCE %r, expected %d" % (what, tpl.media_seq, (rpl.media_seq or 0) + first))
    return keep


def report(pod, headers=None):
    """{id: row} of the sessions report, GET /api/v1/sessions?format=csv."""
    r = pod.get("/api/v1/sessions?format=csv", headers=headers)
    h.check(r.status == 200 and (r.header("Content-Type") or "").startswith("text/csv")
            and "sessions.csv" in (r.header("Content-Disposition") or ""),
            "the sessions report -> %d %r %r" % (r.status, r.header("Content-Type"),
                                                 r.header("Content-Disposition")))
    rows = list(csv.DictReader(io.StringIO(r.body.decode("utf-8"), newline="")))
    return {row["id"]: row for row in rows}


def check_report(pod, j, mp4_url):
    """The organizer's report after the event: one spreadsheet row per
    session, with the recording's length, whether it is published, its MP4
    and how many watched; the same for everyone once it is published."""
    for who, headers in (("organizer", ru.AUTH), ("attendee", None)):
        row = report(pod, headers).get(SID)
        h.check(row is not None, "the %s's sessions report has no row for %s" % (who, SID))
        want = {"title": j.get("title"), "state": "published", "recording": "finalized", "published": "yes",
                "mp4": mp4_url, "viewers_peak": str(j.get("viewers_peak"))}
        got = {k: row.get(k) for k in want}
        h.check(got == want and abs(float(row["recording_seconds"]) - j["recording"]["duration"]) < 0.1,
                "the %s's report row %r, expected %r and %.1f s" % (who, row, want, j["recording"]["duration"]))
    h.check(pod.get("/api/v1/sessions?format=xml").status == 400, "?format=xml is not refused")


def main(t):
    pod = ru.podium(t, {SID: {"title": "Lightning", "passphrase": "lightning-secret-9"}}, close_after=30)
    folder = ru.rec_dir(pod, SID)
    mp4_url = "/vod/%s/%s.mp4" % (SID, SID)
    pl_url = "/vod/%s/index.m3u8" % SID

    r = ru.post(pod, SID, "publish", token=True)
    h.check(r.status == 409, "publish before anything was recorded -> %d, expected 409" % r.status)
    pub = pod.publish(SID, duration=60)
    w = pod.watch(SID, allow_endlist=True)
    ru.wait_rec(pod, SID, lambda x: x.get("duration", 0) >= RECORD, RECORD + 15,
                "%.0f s recorded (API recording.duration)" % RECORD)

    r = ru.post(pod, SID, "publish", body={"start": START, "end": END})
    h.check(r.status == 409, "publish while the session is live -> %d, expected 409" % r.status)
    for action in ("end", "publish", "unpublish"):
        r = ru.post(pod, SID, action, token=False)
        h.check(r.status == 401, "POST .../%s without token -> %d, expected 401" % (action, r.status))
        r = pod.request("POST", "/api/v1/sessions/%s/%s" % (SID, action), data=b"",
                        headers={"Authorization": "Bearer not-the-admin-token-123"})
        h.check(r.status == 401, "POST .../%s with a wrong token -> %d, expected 401" % (action, r.status))
    h.check(pub.poll() is None and pod.api(SID).get("live") is True,
            "a 401 request affected the live session (publisher exited or not live)")

    r = ru.post(pod, SID, "end")
    h.check(r.status == 202, "POST .../end (token) -> %d, expected 202: %r" % (r.status, r.body[:200]))
    rj = ru.wait_finalized(pod, SID, 4)
    h.note("recording finalized after end: %d segments, %.3f s" % (rj["segments"], rj["duration"]))
    rc = pub.wait(10)
    h.note("publisher exited with %d after the organizer ended the session" % rc)
    h.wait_for(lambda: "publisher disconnected" in [r.get("msg") for r in pod.log_records()], 5,
               "'publisher disconnected' in the log after end")
    msgs = [r.get("msg") for r in pod.log_records() if r.get("session") == SID]
    h.check("organizer ends the session" in msgs and "publisher stream ended" in msgs
            and msgs.index("organizer ends the session") < msgs.index("publisher stream ended"),
            "the log should say the organizer ends the session before what follows from it: %r" % msgs)
    h.wait_for(lambda: pod.api(SID).get("publisher") is None, 5, "API publisher=null after end")
    h.wait_for(lambda: "#EXT-X-ENDLIST" in pod.get("/live/%s/index.m3u8" % SID).body.decode(), 5,
               "#EXT-X-ENDLIST in the live playlist after end")
    w.wait_polls(2)
    w.stop()
    w.assert_ok()
    j = pod.api(SID)
    h.check(j.get("state") == "ended", "API state %r after end, expected ended" % j.get("state"))
    text = ru.disk_text(pod, SID)
    rpl = ru.check_rec_playlist(text, "recording after end", folder=folder, ended=True)
    rec_total = sum(s.duration for s in rpl.segments)

    # Bad requests.
    for raw, why, field in ((b"{not json", "not JSON", "(body)"), (b"[1, 2]", "not an object", "(body)"),
                            (b'{"start": "3"}', "start is a string", "start"),
                            (b'{"start": 5, "end": 2}', "end < start", "end"),
                            (b'{"start": 5, "end": 5}', "end == start", "end"),
                            (b'{"start": -1}', "negative start", "start"),
                            (b'{"start": 3600}', "start beyond the recording", "start"),
                            (b'{"start": 5, "stop": 20}', "a misspelt end (would publish untrimmed)", "stop"),
                            (b'{"begin": 5}', "an unknown field", "begin")):
        r = ru.post(pod, SID, "publish", raw=raw)
        h.check(r.status == 400, "publish with a bad body (%s: %r) -> %d, expected 400" % (why, raw, r.status))
        got = r.json().get("field") if r.body.startswith(b"{") else None
        h.check(got == field, "publish with a bad body (%s: %r): 400 names field %r, expected %r: %r"
                % (why, raw, got, field, r.body[:200]))
    h.check(ru.rec_json(pod, SID)["export"].get("state") == "idle",
            "a rejected publish started an export: %r" % ru.rec_json(pod, SID)["export"])
    r = pod.get(pl_url)
    h.check(r.status == 404, "recording playlist without token before publishing -> %d, expected 404" % r.status)

    # Publish with a trim.
    r = ru.post(pod, SID, "publish", body={"start": START, "end": END})
    h.check(r.status == 202, "publish {start:%d,end:%d} -> %d, expected 202: %r" % (START, END, r.status, r.body[:200]))
    percents = []

    def exported():
        x = ru.rec_json(pod, SID)["export"]
        percents.append(x.get("percent"))
        h.check(x.get("state") in ("running", "done"), "export state %r: %r" % (x.get("state"), x))
        return x if x.get("state") == "done" else None
    x = h.wait_for(exported, 30, "export state done")
    h.check(percents == sorted(percents) and x.get("percent") == 100,
            "export percent not monotonic up to 100: %r" % percents)
    h.check(x.get("start") == START and x.get("end") == END and x.get("url") == mp4_url,
            "export JSON %r: expected start %d end %d url %s" % (x, START, END, mp4_url))
    j = h.wait_for(lambda: (lambda a: a if a["recording"].get("published") else None)(pod.api(SID)), 5,
                   "recording.published true after the export")
    h.check(j.get("state") == "published", "API state %r after publishing, expected published" % j.get("state"))
    check_report(pod, j, mp4_url)

    mp4 = os.path.join(folder, "%s.mp4" % SID)
    h.check(os.path.isfile(mp4), "%s does not exist after the export" % mp4)
    h.check(not [n for n in os.listdir(folder) if n.endswith(".tmp")], "temporary files left in %s" % folder)
    boxes = ru.mp4_top_boxes(mp4)
    types = [b[0] for b in boxes]
    h.note("mp4 top-level boxes: %s" % types)
    h.check(types and types[0] == "ftyp", "MP4 does not start with ftyp: %r" % types)
    h.check("moov" in types and "mdat" in types and types.index("moov") < types.index("mdat"),
            "moov does not precede mdat (no +faststart): %r" % types)
    dur, kinds = ru.probe_duration(mp4, "exported MP4")
    h.check(kinds == ["audio", "video"], "MP4 streams %r, expected audio+video" % kinds)
    h.check(abs(dur - (END - START)) <= ru.GOP,
            "MP4 lasts %.3f s, expected %d s within one GOP (%.0f s)" % (dur, END - START, ru.GOP))
    h.check(abs(x.get("duration", -1) - dur) <= 0.2,
            "API export.duration %r, ffprobe says %.3f s" % (x.get("duration"), dur))
    ru.check_first_video_key(mp4, "exported MP4")
    frames, _ = ru.decode(mp4, "exported MP4")
    h.note("MP4: %.3f s, %d video frames" % (dur, frames))
    # every AAC frame of the recording, not one per PES (3 in 4 were lost)
    rc, out, err = h.run_capture(["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries",
                                  "stream=sample_rate:packet=size", "-of", "csv=p=0", mp4], 60,
                                 "ffprobe the MP4's audio packets")
    rows = [r for r in out.split() if r.strip(",")]
    rate = max(int(r.strip(",")) for r in rows)
    aac_s = (len(rows) - 1) * 1024.0 / rate
    h.check(rc == 0 and aac_s >= 0.9 * dur, "MP4 audio: %d AAC frames at %d Hz = %.2f s for %.2f s of MP4 "
            "(frames without a timestamp of their own dropped?) %s" % (len(rows) - 1, rate, aac_s, dur, err[-300:]))
    h.note("MP4 audio: %d AAC frames, %.2f s" % (len(rows) - 1, aac_s))

    # The cut: first picture = recording keyframe at/before START, last within one GOP of END.
    rec_copy = ru.local_copy(folder, text, t.path("rec-copy"))
    rec_md5 = framemd5(rec_copy, "recording")
    mp4_md5 = framemd5(mp4, "MP4")
    h.check(len(set(rec_md5)) > len(rec_md5) * 0.95, "recording frames are not distinct enough to locate the cut")
    h.check(mp4_md5 and mp4_md5[0] in rec_md5, "the MP4's first picture is not a picture of the recording")
    first = rec_md5.index(mp4_md5[0])
    h.check(mp4_md5[-1] in rec_md5, "the MP4's last picture is not a picture of the recording")
    last = rec_md5.index(mp4_md5[-1])
    fps = float(ru.FPS)
    h.note("MP4 = recording pictures %d..%d (%.2f s .. %.2f s), recording has %d pictures (%.3f s)"
           % (first, last, first / fps, (last + 1) / fps, len(rec_md5), rec_total))
    h.check(START - ru.GOP - 0.01 <= first / fps <= START + 0.01,
            "the MP4 starts at recording time %.3f s; expected the keyframe at or before %d s (within one GOP)"
            % (first / fps, START))
    h.check(abs((last + 1) / fps - END) <= ru.GOP,
            "the MP4 ends at recording time %.3f s; expected %d s within one GOP" % ((last + 1) / fps, END))
    h.check(mp4_md5 == rec_md5[first:first + len(mp4_md5)],
            "the MP4's pictures are not the recording's pictures %d.. in order (dropped/duplicated frames)" % first)

    # Public now, cut to the window: segments trimmed off exist only for organizers.
    with open(mp4, "rb") as f:
        data = f.read()
    keep = check_trimmed(pod, pl_url, rpl, START, END, "published {start:%d,end:%d}" % (START, END))
    cut = [seg.uri for seg in rpl.segments if seg.uri not in keep]
    h.check(cut and rpl.segments[0].uri in cut and rpl.segments[-1].uri in cut,
            "the window [%d, %d) keeps the first or last segment of the recording: %r" % (START, END, keep))
    for uri in (cut[0], cut[-1]):
        r = pod.get("/vod/%s/%s" % (SID, uri))
        h.check(r.status == 404, "segment %s trimmed off the published recording, without token -> %d, "
                "expected 404" % (uri, r.status))
        r = pod.get("/vod/%s/%s" % (SID, uri), headers=ru.AUTH)
        h.check(r.status == 200 and "public" not in (r.header("Cache-Control") or ""),
                "segment %s trimmed off, with the admin token -> %d Cache-Control %r, expected 200 and not "
                "public" % (uri, r.status, r.header("Cache-Control")))
    r = pod.get(mp4_url)
    h.check(r.status == 200 and r.body == data, "GET %s without token -> %d, %d bytes (file %d bytes)"
            % (mp4_url, r.status, len(r.body), len(data)))
    h.check(r.header("Content-Type") == "video/mp4", "MP4 Content-Type %r" % r.header("Content-Type"))
    h.check(r.header("Accept-Ranges") == "bytes", "MP4 Accept-Ranges %r" % r.header("Accept-Ranges"))
    full = r.body
    r = pod.get(mp4_url, headers={"Range": "bytes=100-1099"})
    h.check(r.status == 206, "GET %s Range bytes=100-1099 -> %d, expected 206" % (mp4_url, r.status))
    h.check(r.header("Content-Range") == "bytes 100-1099/%d" % len(full),
            "Content-Range %r, expected 'bytes 100-1099/%d'" % (r.header("Content-Range"), len(full)))
    h.check(len(r.body) == 1000 and r.body == full[100:1100],
            "Range body: %d bytes, equal to the slice: %s" % (len(r.body), r.body == full[100:1100]))
    seg0 = keep[0]
    r = pod.get("/vod/%s/%s" % (SID, seg0))
    h.check(r.status == 200, "published recording segment %s without token -> %d" % (seg0, r.status))
    ru.decode(pod.url(pl_url), "published recording over HTTP (no token)")

    # Unpublish.
    r = ru.post(pod, SID, "unpublish")
    h.check(r.status == 200, "POST .../unpublish -> %d, expected 200" % r.status)
    j = pod.api(SID)
    h.check(j["recording"].get("published") is False and j.get("state") != "published",
            "after unpublish: state %r recording.published %r" % (j.get("state"), j["recording"].get("published")))
    h.check(j.get("state") == "ended" and j["recording"].get("state") == "none"
            and j["recording"]["export"].get("state") == "idle" and "url" not in j["recording"]["export"],
            "after unpublish the attendee's JSON still shows the recording or its MP4: state %r recording %r"
            % (j.get("state"), j["recording"]))
    row = report(pod)[SID]
    h.check(row["recording"] == "none" and row["published"] == "no" and row["mp4"] == ""
            and row["recording_seconds"] == "0.0",
            "after unpublish the attendee's sessions report shows the recording: %r" % row)
    j = pod.api(SID, organizer=True)
    h.check(j.get("state") == "recorded" and j["recording"].get("state") == "finalized"
            and j["recording"]["export"].get("url") == mp4_url,
            "after unpublish the organizer's JSON: state %r recording %r, expected recorded, finalized, the MP4"
            % (j.get("state"), j["recording"]))
    for path in (pl_url, mp4_url, "/vod/%s/%s" % (SID, seg0)):
        r = pod.get(path)
        h.check(r.status == 404, "GET %s without token after unpublish -> %d, expected 404" % (path, r.status))
        r = pod.get(path, headers=ru.AUTH)
        h.check(r.status == 200, "GET %s with token after unpublish -> %d, expected 200" % (path, r.status))
    r = ru.post(pod, SID, "publish", raw=b'{"start": ')
    h.check(r.status == 400, "publish with truncated JSON -> %d, expected 400" % r.status)

    # A start between keyframes: the MP4 starts on the keyframe at or before it.
    r = ru.post(pod, SID, "publish", body={"start": START2, "end": END})
    h.check(r.status == 202, "publish {start:%.1f,end:%d} -> %d, expected 202" % (START2, END, r.status))
    x = h.wait_for(exported, 30, "second export state done")
    h.check(x.get("start") == START2, "export JSON start %r, expected %.1f" % (x.get("start"), START2))
    h.wait_for(lambda: ru.rec_json(pod, SID).get("published"), 5, "published again after the second export")
    mp4_md5 = framemd5(mp4, "second MP4")
    h.check(mp4_md5 and mp4_md5[0] in rec_md5, "the second MP4's first picture is not a picture of the recording")
    first = rec_md5.index(mp4_md5[0])
    h.note("second MP4 (start %.1f) starts at recording picture %d (%.2f s)" % (START2, first, first / fps))
    h.check(START2 - ru.GOP - 0.01 <= first / fps <= START2 + 0.01,
            "with start %.1f the MP4 starts at recording time %.3f s; expected the keyframe at or before "
            "it (within one GOP)" % (START2, first / fps))
    ru.check_first_video_key(mp4, "second exported MP4")
    dur, _ = ru.probe_duration(mp4, "second exported MP4")
    h.check(END - START2 - 0.05 <= dur <= END - START2 + ru.GOP,
            "second MP4 lasts %.3f s for start %.1f end %d (expected %.1f s plus at most one GOP)"
            % (dur, START2, END, END - START2))
    r = pod.get(mp4_url)
    h.check(r.status == 200 and r.body == open(mp4, "rb").read(),
            "GET %s after the second export -> %d, differs from the file" % (mp4_url, r.status))

    # Published, the recording is final: a publisher is refused and changes nothing.
    before = ru.disk_text(pod, SID)
    again = pod.publish(SID, duration=5)
    rc = again.wait(15)
    h.check(rc != 0, "a publisher to the published session: ffmpeg exited 0, expected a refusal")
    h.wait_for(lambda: pod.log_lines_matching(lambda f, l: "the recording is published" in l
                                              and f.get("session") == SID and f.get("level") == "warn") or None,
               5, "a level=warn line saying the publisher was refused because the recording is published")
    h.check(ru.disk_text(pod, SID) == before and ru.rec_json(pod, SID).get("state") == "finalized"
            and pod.api(SID).get("state") == "published",
            "a refused publisher changed the published recording: state %r recording %r"
            % (pod.api(SID).get("state"), ru.rec_json(pod, SID)))

    # A restart serves the same cut: the window is kept with the published flag.
    check_trimmed(pod, pl_url, rpl, START2, END, "second publish {start:%.1f,end:%d}" % (START2, END))
    pod.stop()
    ru.restart(pod)
    h.check(pod.api(SID).get("state") == "published", "after a restart the recording is %r, expected published"
            % pod.api(SID).get("state"))
    keep2 = check_trimmed(pod, pl_url, rpl, START2, END, "after a restart")
    h.check(pod.get("/vod/%s/%s" % (SID, rpl.segments[0].uri)).status == 404,
            "after a restart a segment trimmed off is served without token")
    h.check(pod.get("/vod/%s/%s" % (SID, keep2[-1])).status == 200,
            "after a restart the last segment kept is not served without token")

    # Unpublished while its export runs: the export's end must not publish it again.
    h.check(ru.post(pod, SID, "unpublish").status == 200, "POST .../unpublish before the third publish")
    r = ru.post(pod, SID, "publish", body={"start": START, "end": END})
    h.check(r.status == 202, "third publish -> %d, expected 202" % r.status)
    r = ru.post(pod, SID, "unpublish")
    h.check(r.status == 200, "unpublish right after the third publish -> %d, expected 200" % r.status)
    h.note("export state when the unpublish was answered: %r" % r.json()["recording"]["export"].get("state"))
    x = h.wait_for(exported, 30, "third export state done")
    j = pod.api(SID, organizer=True)
    h.check(j["recording"].get("published") is False and j.get("state") == "recorded",
            "unpublished during its export, the recording was published by the export's end: state %r "
            "recording.published %r" % (j.get("state"), j["recording"].get("published")))
    h.check(not os.path.exists(os.path.join(folder, "published")),
            "%s/published exists after an unpublish during the export" % folder)
    h.check(pod.get(pl_url).status == 404, "recording playlist without token after the unpublish during the "
            "export -> %d, expected 404" % pod.get(pl_url).status)

    # Deleting the recording forgets its export too: no state pointing at an
    # MP4 that is gone, also when an export was running at the delete.
    r = ru.post(pod, SID, "publish", body={"start": START, "end": END})
    h.check(r.status == 202, "fourth publish -> %d, expected 202" % r.status)
    r = pod.request("DELETE", "/api/v1/sessions/%s/recording" % SID, headers=ru.AUTH)
    h.check(r.status == 202, "DELETE .../recording -> %d: %r" % (r.status, r.body[:200]))
    h.wait_for(lambda: ru.rec_json(pod, SID).get("state") == "none" or None, 10, "recording.state none after DELETE")
    x = ru.rec_json(pod, SID).get("export") or {}
    h.check(x.get("state") in (None, "idle") and not x.get("url"),
            "after DELETE .../recording the export reads %r, expected idle without a url" % x)
    mp4 = os.path.join(folder, "%s.mp4" % SID)
    h.check(pod.get("/vod/%s/%s.mp4" % (SID, SID), headers=ru.AUTH).status == 404 and not os.path.exists(mp4),
            "the MP4 is still there after DELETE .../recording")
    h.note("after DELETE .../recording: export %r" % x)


if __name__ == "__main__":
    h.run(main)
