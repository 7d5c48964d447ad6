#!/usr/bin/env node
// Opens a Podium player page (/watch/<id>) and waits until the <video id="video">
// has played for at least MIN_SECONDS (video.currentTime advancing at most ~1.5x
// wall-clock speed; seeks and live-edge jumps are not counted) while
// window.podium.errors (fatal hls.js errors) stays empty. Takes a screenshot and
// prints one JSON line:
//   {"ok", "advanced", "errors", "source", ...diagnostics}
// Usage: node play.mjs URL SCREENSHOT.png [MIN_SECONDS=3] [TIMEOUT_SECONDS=30]
// Exit 0 on success, 1 otherwise.
// Optional: PODIUM_SAMPLE_LATENCY=SECONDS (default off): once it has played,
// keep playing SECONDS more and sample hls.js's live latency
// (window.podium.hls.latency, seconds behind the live edge) every 500 ms into
// "latency": [...] (also "targetLatency", "bufferAhead" (buffered end - currentTime),
// "latencyPlayed", "latencyStalls",
// "warningInfo": hls.js errors with their URL and page time, "firstBuffered":
// the first fragments/parts buffered, "timeline": hls.js's first events (page ms,
// URL, load time), "liveEdge": hls.js's view of the playlist);
// a fatal player error while sampling fails the run.
// Optional: PODIUM_NET_HOLD="AFTER,SECONDS" (with PODIUM_SAMPLE_LATENCY): AFTER
// seconds into the sampling, hold every request the page makes under /live/ for
// SECONDS (a network hiccup); "latencyAt" gives each sample's time (s) since
// the sampling began, "latencyT" the playhead then, "hold" the window applied.
// Optional: PODIUM_SEEK_BACK="AFTER,SECONDS": AFTER seconds into the sampling,
// move the playhead SECONDS back, as an attendee rewinding a live talk would
// ("seekBack" confirms it was done).
// Optional: PODIUM_WAIT_STATUS="PATH|TEXT": before watching playback, wait
// until the page's #status shows TEXT (a session not started yet), then write
// that text to PATH, so the caller can start the speaker; "waitedStatus" has it.
// Optional: PODIUM_LOCAL_STORAGE='{"key":"value"}': set in the page's
// localStorage before its scripts run (a token saved by an earlier visit).
// Optional: PODIUM_AFTER_PLAY="PATH|TEXT[|TEXT2...]": once it has played, for
// each TEXT write PATH (holding how many of the texts were shown so far: the
// caller acts, e.g. ends the talk), then wait for #status to show TEXT;
// "afterStatus" is the last status seen, "afterStatuses" all of them,
// "errorsAfter" the page's fatal player errors then, "buttonsAfter" its
// visible buttons. With PODIUM_CLICKS, the clicks come first.
// Optional: PODIUM_CLICKS="SELECTOR,SECONDS;...": once it has played, click
// each in turn, wait for the player's source to change and play SECONDS
// more from it; "clicks" gives for each the source, the playhead where the
// new source began to play and at the end, its seekable range, hls.js's
// latency, #status, the clicked element's text then and the playlist URLs
// hls.js asked for since the click ("playlists").
// Optional: PODIUM_NET_DOWN="SECONDS[,PLAY=2]": once it has played (after
// the clicks), every request the page makes fails for SECONDS (the
// attendee's network gone; once the page has let its player go, the browser
// says it is offline too, and online at the end), then it must play PLAY s
// more within the timeout; "netDown" has the playhead before, the #status
// texts seen in turn, the playhead where it played again ("resumedAt"), how
// long after the network came back it was playing ("playingAfter", s,
// roughly), its source then, window.podium.reconnects, the waits the page
// chose before each retry (window.podium.waits) and how many retries the
// browser's "online" event brought forward (onlineRetries).
// Optional: PODIUM_MEDIA_ERRORS="N,PLAY": once it has played (after the
// network test), N times in turn: the browser refuses every append to the
// player's SourceBuffers until hls.js reports a fatal error (what a browser
// does with media it cannot take), then the page must play PLAY s more
// within the timeout. "mediaErrors" has, for each, the fatal hls.js errors
// it caused, the appends refused, the #status texts seen, where it played
// again, window.podium.recoveries, reconnects and waits after it, and
// whether the page made a new player.
import { writeFileSync } from 'node:fs';
import { onSignal, openBrowser, result, sleep } from './launch.mjs';

// Waits until the page's #status contains text; returns all of it.
async function statusShowing(page, text, timeout) {
  await page.waitForFunction((t) => (document.getElementById('status') || {}).textContent.includes(t),
                             text, { timeout });
  return page.evaluate(() => document.getElementById('status').textContent);
}

// Polls the page until its video has played secs more (the playhead
// advancing while playing, jumps not counted), within the run's timeout;
// throws on a fatal player error or at the deadline. Returns the page's
// state then (st) and the playhead where it began to play (startedAt).
async function playFor(page, secs, what) {
  const until = Date.now() + timeoutMs;
  let played = 0, prevT = null, startedAt = null, st;
  for (;;) {
    st = await page.evaluate(() => {
      const v = document.getElementById('video'), hls = window.podium.hls;
      return { t: v.currentTime, paused: v.paused, readyState: v.readyState, errors: window.podium.errors.slice(),
               seekable: v.seekable.length ? [v.seekable.start(0), v.seekable.end(v.seekable.length - 1)] : null,
               latency: hls && Number.isFinite(hls.latency) ? hls.latency : null,
               source: window.podium.source, status: document.getElementById('status').textContent };
    });
    if (st.errors.length) throw new Error('fatal player error(s) ' + what + ': ' + st.errors.join(', '));
    if (!st.paused && st.readyState >= 2) {
      if (startedAt === null) startedAt = st.t;
      if (prevT !== null && st.t > prevT && st.t - prevT < 1.5) played += st.t - prevT;
      prevT = st.t;
    } else {
      prevT = null;
    }
    if (played >= secs) return { st, startedAt };
    if (Date.now() > until) throw new Error(what + ' it played ' + played.toFixed(2) + ' s of ' + secs);
    await sleep(POLL_MS);
  }
}

const [url, shot, minArg, timeoutArg] = process.argv.slice(2);
if (!url || !shot) {
  console.error('usage: node play.mjs URL SCREENSHOT.png [MIN_SECONDS] [TIMEOUT_SECONDS]');
  process.exit(2);
}
const minSeconds = parseFloat(minArg || '3');
const timeoutMs = Math.round(parseFloat(timeoutArg || '30') * 1000);
const POLL_MS = 200;
const sampleSeconds = parseFloat(process.env.PODIUM_SAMPLE_LATENCY || '0') || 0;
const SAMPLE_MS = 500;
const netHold = (process.env.PODIUM_NET_HOLD || '').split(',').map(parseFloat);
const seekBack = (process.env.PODIUM_SEEK_BACK || '').split(',').map(parseFloat);
let holdFrom = Infinity;
let holdUntil = 0;
const netDown = (process.env.PODIUM_NET_DOWN || '').split(',').filter((x) => x).map(parseFloat);
const netPlay = netDown[1] || 2;    // seconds to play once the network is back
const mediaErrors = (process.env.PODIUM_MEDIA_ERRORS || '').split(',').filter((x) => x).map(parseFloat);
let downFrom = Infinity;
let downUntil = 0;

// Test instrumentation, installed before the page's scripts: records what
// hls.js reports (non-fatal errors, the codecs it buffers) in window.__podiumTest
// as soon as the page creates its Hls instance (window.podium.hls = ...).
function instrument(hlsConfig) {
  const TIMELINE_MAX = 150;
  // who moves the playhead: the page, hls.js or the test (first 20 seeks)
  const seeks = [];
  const desc = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'currentTime');
  Object.defineProperty(HTMLMediaElement.prototype, 'currentTime', {
    configurable: true, get() { return desc.get.call(this); },
    set(v) {
      if (seeks.length < 20)
        seeks.push({ at: Math.round(performance.now()), from: desc.get.call(this), to: v,
                     by: String(new Error().stack).split('\n').slice(2, 5).map((x) => x.trim()).join(' < ') });
      desc.set.call(this, v);
    },
  });
  const rec = { seeks, warnings: [], warningInfo: [], firstBuffered: [], timeline: [], codecs: null, levelsLoaded: 0,
                fragsBuffered: 0, playlistUrls: [], failAppends: false, appendsFailed: 0, fatal: [] };
  window.__podiumTest = rec;
  // PODIUM_MEDIA_ERRORS: the browser refuses the player's media (as with a
  // frame it cannot take) until hls.js reports a fatal error
  if (typeof SourceBuffer !== 'undefined') {
    const append = SourceBuffer.prototype.appendBuffer;
    SourceBuffer.prototype.appendBuffer = function () {
      if (rec.failAppends) {
        rec.appendsFailed++;
        throw new DOMException('refused by the test', 'InvalidStateError');
      }
      return append.apply(this, arguments);
    };
  }
  let podium;
  Object.defineProperty(window, 'podium', {
    configurable: true,
    get() { return podium; },
    set(v) {
      podium = v;
      if (!v || typeof v !== 'object') return;
      let hls;
      Object.defineProperty(v, 'hls', {
        configurable: true, enumerable: true,
        get() { return hls; },
        set(h) {
          hls = h;
          if (!h) return;           // the page let its player go
          // PODIUM_HLS_CONFIG (JSON, default none): hls.js settings applied to the
          // page's Hls instance as soon as it exists (experiments only).
          if (hlsConfig && h && h.config) Object.assign(h.config, hlsConfig);
          try {
            const E = window.Hls.Events;
            h.on(E.ERROR, (e, d) => {
              if (d.fatal) {
                rec.failAppends = false;
                rec.fatal.push(d.details);  // all of them: warningInfo keeps the first 50
              }
              if (!d.fatal && rec.warnings.length < 50) rec.warnings.push(d.details);
              if (rec.warningInfo.length < 50) {
                rec.warningInfo.push({ details: d.details, fatal: !!d.fatal, at: Math.round(performance.now()),
                                       url: d.url || (d.context && d.context.url) || (d.frag && d.frag.url) || null });
              }
            });
            h.on(E.BUFFER_CODECS, (e, d) => {
              rec.codecs = {};
              for (const k of ['audio', 'video', 'audiovideo']) {
                if (d[k] && typeof d[k] === 'object')
                  rec.codecs[k] = d[k].codec || d[k].mimeType || null;
              }
            });
            h.on(E.LEVEL_LOADED, () => { rec.levelsLoaded++; });
            // the playlist requests (delta updates ask with _HLS_skip), the last 200
            h.on(E.LEVEL_LOADING, (e, d) => {
              rec.playlistUrls.push(String(d.url).replace(/^https?:\/\/[^/]+/, ''));
              if (rec.playlistUrls.length > 200) rec.playlistUrls.shift();
            });
            // startup timeline (page ms): first of each event, the first loads with their URLs
            const now = () => Math.round(performance.now());
            for (const ev of ['MANIFEST_LOADING', 'MANIFEST_PARSED', 'LEVEL_LOADED', 'FRAG_LOADING',
                              'FRAG_LOADED', 'FRAG_BUFFERED']) {
              h.on(E[ev], (e, d) => {
                if (rec.timeline.length >= TIMELINE_MAX) return;
                const f = d && (d.part || d.frag);
                const st = d && (d.part ? d.part.stats : d.frag ? d.frag.stats : d.stats);
                rec.timeline.push({ ev, at: now(), url: f && f.url ? f.url.replace(/^.*\//, '') : (d && d.url ? d.url.replace(/^.*\//, '') : undefined),
                                    loadMs: st && st.loading && st.loading.end ? Math.round(st.loading.end - st.loading.start) : undefined,
                                    last: d && d.details && d.details.lastPartSn ? d.details.lastPartSn + '.' + d.details.lastPartIndex : undefined });
              });
            }
            const v = document.getElementById('video');
            for (const ev of ['playing', 'waiting', 'seeking']) {
              if (v) v.addEventListener(ev, () => {
                if (rec.timeline.length < TIMELINE_MAX) rec.timeline.push({ ev: 'video ' + ev, at: now(), t: v.currentTime });
              });
            }
            h.on(E.FRAG_BUFFERED, (e, d) => {
              rec.fragsBuffered++;
              if (rec.firstBuffered.length < 3 && d && d.frag) {
                rec.firstBuffered.push({ sn: d.frag.sn, part: d.part ? d.part.index : null,
                                        start: d.frag.start, at: Math.round(performance.now()) });
              }
            });
          } catch (e) {
            rec.warnings.push('instrumentation: ' + e);
          }
        },
      });
    },
  });
}

function snapshot() {
  const v = document.getElementById('video');
  const p = window.podium || {};
  const t = window.__podiumTest || {};
  const buffered = [];
  if (v) for (let i = 0; i < v.buffered.length; i++) buffered.push([v.buffered.start(i), v.buffered.end(i)]);
  return {
    hasVideo: !!v,
    currentTime: v ? v.currentTime : null,
    paused: v ? v.paused : null,
    muted: v ? v.muted : null,
    ended: v ? v.ended : null,
    readyState: v ? v.readyState : null,
    duration: v && Number.isFinite(v.duration) ? v.duration : (v ? String(v.duration) : null),
    videoWidth: v ? v.videoWidth : null,
    videoHeight: v ? v.videoHeight : null,
    videoBytes: v ? v.webkitVideoDecodedByteCount : null,
    audioBytes: v ? v.webkitAudioDecodedByteCount : null,
    mediaError: v && v.error ? v.error.code + ': ' + v.error.message : null,
    buffered,
    errors: Array.isArray(p.errors) ? p.errors.slice() : null,
    source: p.source === undefined ? null : p.source,
    hlsUsed: !!p.hls,
    status: (document.getElementById('status') || {}).textContent || null,
    warnings: (t.warnings || []).slice(),
    codecs: t.codecs || null,
    fragsBuffered: t.fragsBuffered || 0,
    hlsLatency: p.hls && Number.isFinite(p.hls.latency) ? p.hls.latency : null,
    hlsLiveSync: p.hls && Number.isFinite(p.hls.liveSyncPosition) ? p.hls.liveSyncPosition : null,
    hlsEdge: p.hls && p.hls.latestLevelDetails ? p.hls.latestLevelDetails.edge : null,
  };
}

const out = { ok: false, url, advanced: 0, errors: [], source: null, minSeconds, pageErrors: [],
              consoleErrors: [], jumps: [], error: null };
let b = null;
onSignal(async (sig) => {
  out.error = out.error || 'play.mjs: interrupted by ' + sig;
  result(out);
  if (b) await b.close();
});
const t0 = Date.now();
const watchdog = setTimeout(async () => {
  out.error = out.error || 'play.mjs: overall timeout';
  result(out);
  if (b) await b.close();
  process.exit(1);
}, timeoutMs + 15000 + sampleSeconds * 1000 + (netDown.length ? netDown[0] * 1000 + timeoutMs : 0)
   + (mediaErrors.length ? mediaErrors[0] * timeoutMs : 0));

try {
  b = await openBrowser();
  const { page } = b;
  page.setDefaultTimeout(timeoutMs);
  page.on('pageerror', (e) => out.pageErrors.push(String(e && e.message || e)));
  page.on('console', (m) => {
    if (m.type() === 'error') out.consoleErrors.push(m.text() + (m.location().url ? ' [' + m.location().url + ']' : ''));
  });
  if (netDown.length >= 1) {
    await page.route('**/*', (route) => {
      const now = Date.now();
      return now >= downFrom && now < downUntil ? route.abort('internetdisconnected') : route.continue();
    });
  }
  if (netHold.length === 2 && netHold.every(Number.isFinite)) {
    await page.route('**/live/**', async (route) => {
      const now = Date.now();
      if (now >= holdFrom && now < holdUntil) await sleep(holdUntil - now);
      await route.continue();
    });
  }
  await page.addInitScript(instrument, process.env.PODIUM_HLS_CONFIG ? JSON.parse(process.env.PODIUM_HLS_CONFIG) : null);
  // PODIUM_LOCAL_STORAGE='{"key":"value"}': what an earlier visit left
  if (process.env.PODIUM_LOCAL_STORAGE)
    await page.addInitScript((kv) => { for (const k in kv) localStorage.setItem(k, kv[k]); },
                             JSON.parse(process.env.PODIUM_LOCAL_STORAGE));
  const resp = await page.goto(url, { waitUntil: 'load', timeout: timeoutMs });
  // PODIUM_REGISTER="name|email": fill the page's registration form first,
  // the way an attendee would (access = registered).
  if (process.env.PODIUM_REGISTER) {
    const [name, email] = process.env.PODIUM_REGISTER.split('|');
    await page.waitForSelector('#register:not([hidden])', { timeout: timeoutMs });
    await page.screenshot({ path: shot.replace(/\.png$/, '-form.png') });
    await page.fill('#name', name);
    await page.fill('#email', email);
    await page.click('#register button');
    out.registered = true;
  }
  out.status = resp ? resp.status() : null;
  if (out.status !== 200) throw new Error('GET ' + url + ' answered ' + out.status);
  if (process.env.PODIUM_WAIT_STATUS) {
    const [path, text] = process.env.PODIUM_WAIT_STATUS.split('|');
    out.waitedStatus = await statusShowing(page, text, timeoutMs);
    await page.screenshot({ path: shot.replace(/\.png$/, '-waiting.png') });
    writeFileSync(path, out.waitedStatus);
  }

  const deadline = t0 + timeoutMs;
  let prev = null;        // {t, wall}
  let s = null;
  for (;;) {
    s = await page.evaluate(snapshot);
    const now = Date.now();
    out.errors = s.errors || [];
    out.source = s.source;
    if (!s.hasVideo) throw new Error('the page has no <video id="video">');
    if (s.errors === null) throw new Error('window.podium.errors is missing');
    if (out.errors.length) { out.error = 'fatal player error(s): ' + out.errors.join(', '); break; }
    if (s.mediaError) { out.error = 'video element error ' + s.mediaError; break; }
    if (out.pageErrors.length) { out.error = 'uncaught page error(s): ' + out.pageErrors.join(' | '); break; }
    const playing = !s.paused && s.readyState >= 2;
    if (playing) {
      if (out.startedAfter === undefined) {
        out.startedAfter = (now - t0) / 1000;
        out.startTime = s.currentTime;
        if (sampleSeconds > 0)
          out.atStart = { latency: s.hlsLatency, liveSyncPosition: s.hlsLiveSync, edge: s.hlsEdge,
                          buffered: s.buffered };
      }
      if (prev) {
        const d = s.currentTime - prev.t;
        const wall = (now - prev.wall) / 1000;
        if (d > 0 && d <= wall * 1.5 + 0.25) out.advanced += d;
        else if (d !== 0 && out.jumps.length < 20) out.jumps.push({ from: prev.t, to: s.currentTime, wall });
      }
      prev = { t: s.currentTime, wall: now };
    } else {
      prev = null;
    }
    if (out.advanced >= minSeconds) { out.ok = true; break; }
    if (s.ended) { out.error = 'playback ended after ' + out.advanced.toFixed(2) + ' s'; break; }
    if (now >= deadline) {
      out.error = 'timed out after ' + timeoutMs / 1000 + ' s: played ' + out.advanced.toFixed(2) +
                  ' s of the ' + minSeconds + ' s wanted (paused=' + s.paused + ' readyState=' +
                  s.readyState + ' status=' + JSON.stringify(s.status) + ')';
      break;
    }
    await sleep(POLL_MS);
  }
  Object.assign(out, {
    currentTime: s.currentTime, duration: s.duration, videoWidth: s.videoWidth,
    videoHeight: s.videoHeight, videoBytes: s.videoBytes, audioBytes: s.audioBytes,
    readyState: s.readyState, paused: s.paused, muted: s.muted, buffered: s.buffered, hlsUsed: s.hlsUsed,
    status: s.status, warnings: s.warnings, codecs: s.codecs, fragsBuffered: s.fragsBuffered,
  });
  out.advanced = Math.round(out.advanced * 1000) / 1000;
  if (out.ok && sampleSeconds > 0) {
    // hls.latency: seconds between the playhead and the live edge hls.js knows.
    out.latency = [];
    out.targetLatency = [];
    out.latencyStalls = 0;
    out.bufferAhead = [];
    out.latencyAt = [];
    out.latencyT = [];
    const startT = s.currentTime;
    const sampling = Date.now();
    const end = sampling + sampleSeconds * 1000;
    if (netHold.length === 2) {
      holdFrom = sampling + netHold[0] * 1000;
      holdUntil = holdFrom + netHold[1] * 1000;
      out.hold = netHold;
    }
    while (Date.now() < end) {
      await sleep(SAMPLE_MS);
      if (seekBack.length === 2 && !out.seekBack && Date.now() - sampling >= seekBack[0] * 1000) {
        await page.evaluate((back) => {
          const v = document.getElementById('video');
          v.currentTime = Math.max(0, v.currentTime - back);
        }, seekBack[1]);
        out.seekBack = seekBack;
      }
      const l = await page.evaluate(() => {
        const hls = window.podium && window.podium.hls;
        const v = document.getElementById('video');
        return {
          latency: hls && Number.isFinite(hls.latency) ? hls.latency : null,
          target: hls && Number.isFinite(hls.targetLatency) ? hls.targetLatency : null,
          errors: window.podium && Array.isArray(window.podium.errors) ? window.podium.errors.slice() : [],
          t: v ? v.currentTime : null, paused: v ? v.paused : null, readyState: v ? v.readyState : null,
          ahead: v && v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : null,
        };
      });
      if (l.errors.length) {
        out.ok = false;
        out.errors = l.errors;
        out.error = 'fatal player error(s) while sampling latency: ' + l.errors.join(', ');
        break;
      }
      if (l.paused || l.readyState < 3) out.latencyStalls++;
      if (l.latency !== null) {
        out.latency.push(Math.round(l.latency * 1000) / 1000);
        out.latencyAt.push(Math.round(Date.now() - sampling) / 1000);
        out.latencyT.push(l.t);
      }
      if (l.target !== null) out.targetLatency.push(Math.round(l.target * 1000) / 1000);
      if (l.ahead !== null) out.bufferAhead.push(Math.round(l.ahead * 1000) / 1000);
      out.latencyPlayed = Math.round((l.t - startT) * 1000) / 1000;
    }
    Object.assign(out, await page.evaluate(() => {
      const t = window.__podiumTest || {};
      const hls = window.podium && window.podium.hls;
      const d = hls && (hls.latestLevelDetails || (hls.levels[0] && hls.levels[0].details));
      return {
        warningInfo: t.warningInfo || [],
        firstBuffered: t.firstBuffered || [],
        timeline: t.timeline || [],
        seeks: t.seeks || [],
        liveEdge: d ? { edge: d.edge, age: d.age, partHoldBack: d.partHoldBack, partTarget: d.partTarget,
                        canBlockReload: d.canBlockReload, lastPartSn: d.lastPartSn,
                        lastPartIndex: d.lastPartIndex } : null,
        liveSyncPosition: hls ? hls.liveSyncPosition : null,
        currentTime: document.getElementById('video').currentTime,
      };
    }));
  }
  if (out.ok && process.env.PODIUM_CLICKS) {
    out.clicks = [];
    for (const step of process.env.PODIUM_CLICKS.split(';')) {
      const [sel, secs] = step.split(',');
      const before = await page.evaluate(() => window.podium.source);
      const urlsBefore = await page.evaluate(() => window.__podiumTest.playlistUrls.length);
      await page.click(sel);
      await page.waitForFunction((b) => window.podium.source !== b, before);
      const { st, startedAt } = await playFor(page, parseFloat(secs), 'after clicking ' + sel);
      out.clicks.push({ selector: sel, source: st.source, startedAt, currentTime: st.t, seekable: st.seekable,
                        latency: st.latency, status: st.status, label: await page.textContent(sel),
                        playlists: await page.evaluate((k) => window.__podiumTest.playlistUrls.slice(k), urlsBefore) });
    }
  }
  if (out.ok && netDown.length >= 1) {
    // the attendee's network goes for netDown[0] s: every request fails
    const before = await page.evaluate(() => document.getElementById('video').currentTime);
    const statuses = [];
    const noteStatus = async () => {
      const st = await page.evaluate(() => document.getElementById('status').textContent);
      if (statuses[statuses.length - 1] !== st) statuses.push(st);
    };
    downFrom = Date.now();
    downUntil = downFrom + netDown[0] * 1000;
    // the browser notices only later that it is offline: hls.js waits for
    // the network then, rather than give up, and the page would have
    // nothing to retry
    let offline = false;
    while (Date.now() < downUntil) {
      await noteStatus();
      if (!offline && await page.evaluate(() => window.podium.reconnects > 0)) {
        await page.context().setOffline(true);
        offline = true;
      }
      await sleep(POLL_MS);
    }
    if (offline) await page.context().setOffline(false);
    const back = Date.now();
    const { st, startedAt } = await playFor(page, netPlay, 'after the network came back');
    await noteStatus();
    out.netDown = { seconds: netDown[0], before, statuses, resumedAt: startedAt, currentTime: st.t,
                    playingAfter: (Date.now() - back) / 1000 - netPlay, source: st.source,
                    ...await page.evaluate(() => ({ reconnects: window.podium.reconnects, waits: window.podium.waits,
                                                    onlineRetries: window.podium.onlineRetries })) };
  }
  if (out.ok && mediaErrors.length >= 1) {
    out.mediaErrors = [];
    for (let k = 0; k < mediaErrors[0]; k++) {
      const before = await page.evaluate(() => {
        const rec = window.__podiumTest;
        rec.hlsBefore = window.podium.hls;
        rec.failAppends = true;
        rec.appendsFailed = 0;
        return { fatal: rec.fatal.length };
      });
      // until hls.js has given up: the page's own recovery is what is tested
      await page.waitForFunction(() => !window.__podiumTest.failAppends, null, { timeout: timeoutMs });
      const statuses = [];
      const watcher = setInterval(async () => {
        const st = await page.evaluate(() => document.getElementById('status').textContent).catch(() => null);
        if (st !== null && statuses[statuses.length - 1] !== st) statuses.push(st);
      }, 100);
      let played;
      try {
        played = await playFor(page, mediaErrors[1] || 2, 'after media error ' + (k + 1));
      } finally {
        clearInterval(watcher);
      }
      out.mediaErrors.push({ statuses, resumedAt: played.startedAt, status: played.st.status, source: played.st.source,
                             ...await page.evaluate((n) => ({
                               fatal: window.__podiumTest.fatal.slice(n),
                               recoveries: window.podium.recoveries, reconnects: window.podium.reconnects,
                               newPlayer: window.podium.hls !== window.__podiumTest.hlsBefore,
                               appendsFailed: window.__podiumTest.appendsFailed, waits: window.podium.waits,
                             }), before.fatal) });
    }
  }
  if (out.ok && process.env.PODIUM_AFTER_PLAY) {
    const [path, ...texts] = process.env.PODIUM_AFTER_PLAY.split('|');
    out.afterStatuses = [];
    for (const text of texts) {
      writeFileSync(path, String(out.afterStatuses.length));
      out.afterStatus = await statusShowing(page, text, Math.max(1000, t0 + timeoutMs - Date.now()));
      out.afterStatuses.push(out.afterStatus);
    }
    // what the page shows then: its fatal player errors, its visible buttons
    Object.assign(out, await page.evaluate(() => ({
      errorsAfter: window.podium.errors.slice(),
      buttonsAfter: Array.from(document.querySelectorAll('button')).filter((b) => !b.hidden && b.offsetParent)
        .map((b) => b.id || b.innerText),
    })));
  }
  await page.screenshot({ path: shot });
  out.screenshot = shot;
} catch (e) {
  out.ok = false;
  out.error = String(e && e.stack || e);
  if (b) {
    try { await b.page.screenshot({ path: shot }); out.screenshot = shot; } catch { /* no page */ }
  }
} finally {
  clearTimeout(watchdog);
  out.elapsed = (Date.now() - t0) / 1000;
  if (b) await b.close();
}
result(out);
process.exit(out.ok ? 0 : 1);
