// Shared by play.mjs and page.mjs: starts Debian's Chromium headless through
// playwright-core (installed in web/node_modules by `scripts/deps browser`),
// with a fresh profile in a temporary directory, and cleans up after itself.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env.PODIUM_CHROMIUM || '/usr/bin/chromium';
const WEB = new URL('../../web/', import.meta.url);

// Chromium as root, headless, no network side traffic (see shared FIELD-NOTES).
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // PODIUM_AUTOPLAY_POLICY=document-user-activation-required: a desktop
  // browser's own, where a page plays with sound only once used
  '--autoplay-policy=' + (process.env.PODIUM_AUTOPLAY_POLICY || 'no-user-gesture-required'),
];

function loadPlaywright() {
  const require = createRequire(new URL('package.json', WEB));
  try {
    return require('playwright-core');
  } catch (e) {
    throw new Error('playwright-core not found in ' + new URL('node_modules', WEB).pathname +
                    ' (run scripts/deps browser): ' + e.message);
  }
}

// Returns {context, page, close}. close() is idempotent (one shared promise):
// it closes Chromium and removes the profile.
export async function openBrowser({ width = 1280, height = 800 } = {}) {
  if (!existsSync(CHROMIUM))
    throw new Error(CHROMIUM + ' not found (run scripts/deps browser)');
  const { chromium } = loadPlaywright();
  // PODIUM_BROWSER_TMPDIR: the e2e test's temporary directory (removed with it).
  const parent = process.env.PODIUM_BROWSER_TMPDIR || tmpdir();
  const profile = mkdtempSync(join(parent, 'podium-chromium-'));
  let context = null;
  let closing = null;
  // Every caller (normal end, error path, signal handler) waits for the same close.
  const close = () => {
    closing = closing || (async () => {
      try { if (context) await context.close(); } catch { /* already gone */ }
      rmSync(profile, { recursive: true, force: true });
    })();
    return closing;
  };
  // Playwright passes the profile to Chromium as --user-data-dir.
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width, height },
      // what the pages show in dates does not depend on the machine's LANG;
      // PODIUM_TZ is an attendee's time zone (IANA name)
      locale: 'en-US',
      ...(process.env.PODIUM_TZ ? { timezoneId: process.env.PODIUM_TZ } : {}),
      // The drivers handle signals themselves (onSignal): close Chromium, then
      // remove the profile and print their result.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } catch (e) {
    await close();
    throw e;
  }
  const page = context.pages()[0] || await context.newPage();
  return { context, page, close };
}

// On SIGTERM/SIGINT/SIGHUP: run cleanup (async) once, then exit 1.
export function onSignal(cleanup) {
  let done = false;
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(sig, async () => {
      if (done) return;
      done = true;
      try { await cleanup(sig); } finally { process.exit(1); }
    });
  }
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

export function result(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}
