#!/usr/bin/env node
// Opens a page, takes a screenshot and prints one JSON line:
//   {"ok", "status", "url", "title", "text", "links": [{"text","href"}], "buttons": [id or text], "bad": [texts marked red],
//    "video": {"muted", "paused", "currentTime"} of the page's first video,
//    "pageErrors", "error", "stage": the step it was at (where a timeout struck)}
// Usage: node page.mjs URL SCREENSHOT.png [TIMEOUT_SECONDS=20]
// Env: PODIUM_FILL="SELECTOR=VALUE", PODIUM_WAIT_TEXT=TEXT (see below),
// PODIUM_LOADED_FILE=PATH: written once the page has loaded, before the fill
// and the wait (the caller changes what the page shows after that).
// PODIUM_FILL may hold several SELECTOR=VALUE lines, filled in order;
// PODIUM_DIALOG=accept answers the page's confirm() with yes (the default
// is no); "dialogs" lists their messages.
// PODIUM_STABLE=SELECTOR: "stable" says whether that element survives two
// of the page's redraws (window.podium.refreshes).
// PODIUM_CLICK=SELECTOR is clicked after them (on a page counting its
// redraws in window.podium.refreshes, once it has redrawn after the fills).
// PODIUM_THEN: steps after that click, one per line, in order:
// "fill SELECTOR=VALUE" or "click SELECTOR" (a form the click opened).
// PODIUM_AFTER_REQUEST=TEXT: before any of those steps, wait until the page
// requests a URL containing TEXT. Playwright runs everything it does in the
// page (a click's wait for its element, an evaluate) as a user gesture, and
// a page the user has used may play with sound: a page that must decide
// without one (its player's play()) decides before the request it then makes.
// Exit 0 when the page loaded with HTTP 200 and raised no uncaught error, 1 otherwise.
import { writeFileSync } from 'node:fs';
import { onSignal, openBrowser, result } from './launch.mjs';

const [url, shot, timeoutArg] = process.argv.slice(2);
if (!url || !shot) {
  console.error('usage: node page.mjs URL SCREENSHOT.png [TIMEOUT_SECONDS]');
  process.exit(2);
}
const timeoutMs = Math.round(parseFloat(timeoutArg || '20') * 1000);

const out = { ok: false, url, status: null, title: null, text: null, links: [], pageErrors: [],
              consoleErrors: [], error: null };
let b = null;
onSignal(async (sig) => {
  out.error = out.error || 'page.mjs: interrupted by ' + sig;
  result(out);
  if (b) await b.close();
});
// out.stage: the step under way, with the seconds since the start it began
// at, so a timeout says where it was stuck (launch, load, a click's wait)
const t0 = Date.now();
const stage = (s) => { out.stage = s + ' (at ' + ((Date.now() - t0) / 1000).toFixed(1) + ' s)'; };
stage('launch');
// On a failure, what the page showed then (its text, its video), if it
// still answers within 2 s.
async function lastLook() {
  if (!b) return;
  const seen = b.page.evaluate(() => {
    const v = document.querySelector('video');
    return { text: document.body ? document.body.innerText : '',
             video: v ? { muted: v.muted, paused: v.paused, currentTime: v.currentTime } : null };
  }).catch(() => ({}));
  Object.assign(out, await Promise.race([seen, new Promise((r) => setTimeout(() => r({}), 2000))]));
}
const watchdog = setTimeout(async () => {
  out.error = out.error || 'page.mjs: overall timeout of ' + timeoutMs / 1000 + ' s during ' + out.stage;
  await lastLook();
  result(out);
  if (b) await b.close();
  process.exit(1);
}, timeoutMs + 5000);
try {
  b = await openBrowser();
  const { page } = b;
  page.setDefaultTimeout(timeoutMs);
  page.on('pageerror', (e) => out.pageErrors.push(String(e && e.message || e)));
  page.on('console', (m) => {
    if (m.type() === 'error') out.consoleErrors.push(m.text() + (m.location().url ? ' [' + m.location().url + ']' : ''));
  });
  // PODIUM_DIALOG=accept: confirm() answers yes (else playwright dismisses it)
  out.dialogs = [];
  page.on('dialog', async (d) => {
    out.dialogs.push(d.message());
    if (process.env.PODIUM_DIALOG === 'accept') await d.accept();
    else await d.dismiss();
  });
  const after = process.env.PODIUM_AFTER_REQUEST;
  const requested = after ? page.waitForRequest((r) => r.url().includes(after)) : null;
  if (requested) requested.catch(() => {});     // awaited below, unless the load fails first
  stage('load');
  const resp = await page.goto(url, { waitUntil: 'load', timeout: timeoutMs });
  out.status = resp ? resp.status() : null;
  if (process.env.PODIUM_LOADED_FILE)
    writeFileSync(process.env.PODIUM_LOADED_FILE, String(out.status));
  if (requested) {
    stage('wait for a request of ' + after);
    await requested;
  }
  // PODIUM_FILL="SELECTOR=VALUE" types into a field (the organizer's token);
  // PODIUM_WAIT_TEXT waits until the page's text contains it (a script's render)
  const fill = process.env.PODIUM_FILL, waitText = process.env.PODIUM_WAIT_TEXT;
  const click = process.env.PODIUM_CLICK;
  if (fill) stage('fill');
  for (const f of fill ? fill.split('\n') : []) {
    const eq = f.indexOf('=');
    await page.fill(f.slice(0, eq), f.slice(eq + 1));
  }
  if (process.env.PODIUM_STABLE) {
    stage('stable ' + process.env.PODIUM_STABLE);
    // "stable": whether that element is still the page's own after two of
    // its redraws (a redraw that replaces a button can swallow a click)
    const el = await page.waitForSelector(process.env.PODIUM_STABLE);
    const n = await page.evaluate(() => window.podium.refreshes);
    await page.waitForFunction((k) => window.podium.refreshes >= k + 2, n);
    out.stable = await el.evaluate((e) => e.isConnected);
  }
  if (click) {
    stage('click ' + click);
    // a page that redraws itself (the organizer's, every 2 s) must keep
    // what was typed: click only after it has redrawn once since
    const n = await page.evaluate(() => window.podium && window.podium.refreshes);
    if (typeof n === 'number')
      await page.waitForFunction((k) => window.podium.refreshes > k, n);
    await page.click(click);
  }
  for (const step of process.env.PODIUM_THEN ? process.env.PODIUM_THEN.split('\n') : []) {
    stage(step);
    const sp = step.indexOf(' '), arg = step.slice(sp + 1), eq = arg.indexOf('=');
    if (step.slice(0, sp) === 'fill') await page.fill(arg.slice(0, eq), arg.slice(eq + 1));
    else if (step.slice(0, sp) === 'click') await page.click(arg);
    else throw new Error('PODIUM_THEN: unknown step ' + JSON.stringify(step));
  }
  if (waitText) {
    stage('wait for text ' + JSON.stringify(waitText));
    await page.waitForFunction((t) => document.body && document.body.innerText.includes(t), waitText);
  }
  stage('collect');
  out.title = await page.title();
  out.text = await page.evaluate(() => document.body ? document.body.innerText : '');
  // the page's first video, if any: whether it plays, and with sound
  out.video = await page.evaluate(() => {
    const v = document.querySelector('video');
    return v ? { muted: v.muted, paused: v.paused, currentTime: v.currentTime } : null;
  });
  // what the page marks as a problem (red)
  out.bad = await page.evaluate(() => Array.from(document.querySelectorAll('.bad')).map((e) => e.textContent));
  out.links = await page.evaluate(() => Array.from(document.querySelectorAll('a[href]'))
    .map((a) => ({ text: a.innerText, href: a.getAttribute('href'), abs: a.href })));
  out.buttons = await page.evaluate(() => Array.from(document.querySelectorAll('button'))
    .map((b) => b.id || b.innerText));
  await page.screenshot({ path: shot, fullPage: true });
  out.screenshot = shot;
  out.ok = out.status === 200 && out.pageErrors.length === 0;
} catch (e) {
  out.error = String(e && e.stack || e);
  await lastLook();
  if (b) {
    try { await b.page.screenshot({ path: shot, fullPage: true }); out.screenshot = shot; } catch { /* no page */ }
  }
} finally {
  clearTimeout(watchdog);
  if (b) await b.close();
}
result(out);
process.exit(out.ok ? 0 : 1);
