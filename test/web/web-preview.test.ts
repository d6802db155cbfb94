// The web preview in real Chromium (Debian's chromium driven by playwright-core): frames put()
// into a WebSkyLine are encoded by GStreamer, served by our WebServer and decoded by the page;
// the probe reads each shown picture's frame index band back from its pixels.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import type { Page } from 'playwright-core';
import { RTSPSkyLine, WebServer, WebSkyLine } from '../../src/index.js';
import { KIND_ACCESS_UNIT, readVideoHeader } from '../../src/web/wire.js';
import { TestPattern } from '../../examples/pattern.js';
import { chromiumMissing, feedIndexed, launchBrowser, pageStatus, takeShown, type Browser, type IndexedFeed, type ShownFrame } from '../support/browser.js';
import { freePort } from '../support/ports.js';
import { captureLogger } from '../support/quiet.js';
import { ffprobeFrames } from '../support/rtsp-players.js';
import { waitFor } from '../support/wait.js';

const W = 320, H = 240, FPS = 30;
const common = { stopTimeoutMs: 3000, statsIntervalMs: 0 } as const;
const missing = chromiumMissing();
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let browser: Browser;
let sky: WebSkyLine;
let feed: IndexedFeed;

before(async () => {
  if (missing) return;
  browser = await launchBrowser();
  // Keyframes only every 1000 frames: a page that shows a picture got a keyframe because it asked.
  // lan.test: the LAN-address test reaches the server by that name.
  sky = new WebSkyLine({ port: 0, keyframeInterval: 1000, serverOptions: { allowedHosts: ['lan.test'] }, ...common });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  feed = feedIndexed(sky, { fps: FPS, width: W, height: H });
});

after(async () => {
  feed?.stop();
  await sky?.close();
  await browser?.close();
});

async function waitShown(page: Page, n: number, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await pageStatus(page);
    if (s.framesShown >= n) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${n} frames (${what}); page status ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitState(page: Page, state: string, timeoutMs = 20_000): Promise<void> {
  await waitPage(page, `window.skyline.state === ${JSON.stringify(state)}`, `page state ${state}`, timeoutMs);
}

/** Polls a page expression (page.evaluate works under the page's CSP, waitForFunction's eval does not). */
async function waitPage(page: Page, expression: string, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await page.evaluate(expression)) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; status ${JSON.stringify(await pageStatus(page))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Shown frames carry readable, strictly increasing indices that were put. */
function assertIndexed(frames: ShownFrame[], puts: number, what: string): void {
  const readable = frames.filter((f) => f.index >= 0);
  assert.ok(readable.length >= frames.length - 2, `${what}: ${frames.length - readable.length} of ${frames.length} pictures without a readable index`);
  for (let i = 1; i < readable.length; i++) assert.ok(readable[i]!.index > readable[i - 1]!.index, `${what}: index ${readable[i]!.index} after ${readable[i - 1]!.index}`);
  assert.ok(readable.every((f) => f.index < puts), `${what}: every index was put`);
  assert.ok(frames.every((f) => f.width === W), `${what}: pictures ${W} wide`);
}

/**
 * Every picture shown is readable and is the frame its capture time says, in order; with
 * `consecutive`, from the first to the last every frame put() accepted is shown once.
 */
function assertShownFrames(frames: ShownFrame[], feed: IndexedFeed, what: string, consecutive: boolean): void {
  const indices = frames.map((f) => f.index);
  assert.deepEqual(indices.filter((i) => i < 0), [], `${what}: pictures without a readable index among ${indices.join(',')}`);
  for (const f of frames) {
    // WebCodecs hands the page each frame with its own timestamp: exact. MSE's page reads
    // currentTime as the compositor presents, which names the picture to within one frame.
    const near = consecutive ? [f.index] : [f.index, f.index - 1, f.index + 1];
    assert.ok(near.some((i) => feed.accepted.get(i) === f.captureMs), `${what}: picture ${f.index} shown with the capture time ${f.captureMs} of another frame (${feed.accepted.get(f.index)})`);
  }
  const first = indices[0]!, last = indices.at(-1)!;
  const expected = Array.from({ length: last - first + 1 }, (_, k) => first + k).filter((i) => feed.accepted.has(i));
  if (consecutive) assert.deepEqual(indices, expected, `${what}: shown ${indices.join(',')}`);
  else for (let i = 1; i < indices.length; i++) assert.ok(indices[i]! > indices[i - 1]!, `${what}: shown ${indices.join(',')}`);
  assert.ok(frames.every((f) => f.width === W), `${what}: pictures ${W} wide`);
}

// WebCodecs draws every decoded frame: all of them are shown. MSE's video element presents what
// the compositor picks while it steers to the live edge (seen on a loaded machine: 1 to 6 frames
// of 45 not presented): in order, each the frame it claims to be, not necessarily every one.
for (const [mode, every] of [['webcodecs', true], ['mse', false]] as const) {
  test(`${mode}: the page decodes frames and shows them; their pixels carry ${every ? 'consecutive frame indices, every frame put' : 'increasing frame indices'}, each the frame its capture time names`, { skip: missing }, async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${sky.url}?mode=${mode}`);
      await waitShown(page, 45, mode);
      const frames = await takeShown(page);
      assert.ok(frames.length >= 45, `${frames.length} pictures`);
      assertShownFrames(frames, feed, mode, every);
      const s = await pageStatus(page);
      assert.equal(s.mode, mode);
      assert.equal(s.state, 'playing');
      assert.equal(s.config?.width, W);
      assert.equal(s.config?.height, H);
      assert.match(s.config!.codec, /^avc1\.42[0-9A-F]{4}$/);
      assert.equal(await page.textContent('#size'), `${W}×${H}`);
      // The readout is the median latency of the last second, redrawn each second: a number, not '–'.
      await waitPage(page, "/ ms$/.test(document.getElementById('latency').textContent)", 'a latency readout');
      // Read together: both change in the same once-a-second callback.
      const [latencyText, latencyMs] = (await page.evaluate("[document.getElementById('latency').textContent, window.skyline.latencyMs]")) as [string, number];
      assert.match(latencyText, /^-?\d+ ms$/, `latency readout ${JSON.stringify(latencyText)}`);
      assert.equal(latencyText, `${Math.round(latencyMs)} ms`, 'the readout shows the page status latency');
    } finally {
      await page.close();
    }
  });
}

test('over a LAN-style address (not a secure context) the page has no WebCodecs and plays through MSE by itself', { skip: missing }, async () => {
  // lan.test resolves to loopback inside this browser only; http to a name that is not
  // localhost is not a secure context, as http://192.168.x.y would not be.
  const lan = await launchBrowser(['--host-resolver-rules=MAP lan.test 127.0.0.1']);
  try {
    const page = await lan.newPage();
    await page.goto(sky.url.replace('127.0.0.1', 'lan.test'));
    assert.equal(await page.evaluate('window.isSecureContext'), false);
    await waitShown(page, 20, 'MSE on a non-secure origin');
    assert.equal((await pageStatus(page)).mode, 'mse');
    assertIndexed(await takeShown(page), feed.puts, 'non-secure origin');
    // Forcing WebCodecs where it cannot exist falls back too.
    await page.goto(`${sky.url.replace('127.0.0.1', 'lan.test')}?mode=webcodecs`);
    await waitShown(page, 5, 'forced WebCodecs on a non-secure origin');
    assert.equal((await pageStatus(page)).mode, 'mse');
    await page.close();
  } finally {
    await lan.close();
  }
});

test('a late joiner asks for a keyframe and gets a picture long before the next natural one', { skip: missing }, async () => {
  // A stream of its own, so "before the next natural keyframe" does not depend on earlier tests.
  const s = new WebSkyLine({ port: 0, keyframeInterval: 1000, ...common });
  s.on('error', () => undefined);
  await s.startStreaming({ fps: FPS, width: W, height: H });
  const f = feedIndexed(s, { fps: FPS, width: W, height: H });
  const first = await browser.newPage();
  const late = await browser.newPage();
  try {
    await first.goto(s.url);
    await waitShown(first, 10, 'first viewer');
    const requestsBefore = s.server.stats().streams['/live']!.keyframeRequests;
    await late.goto(s.url);
    await waitShown(late, 1, 'late joiner');
    assert.ok(f.puts < 1000, 'still inside the first 1000-frame GOP: the picture came from a requested keyframe');
    assert.ok(s.server.stats().streams['/live']!.keyframeRequests > requestsBefore, 'the joiner asked for a keyframe');
    const frames = await takeShown(late);
    assert.ok(frames[0]!.index >= 0, 'the first picture is whole (readable index)');
    await waitFor(() => s.stats().viewers === 2, 5000, 'two viewers counted');
    await waitPage(late, 'document.getElementById("viewers").textContent === "2"', 'the page showing 2 viewers', 10_000);
    await first.close();
    await late.close();
    await waitFor(() => s.stats().viewers === 0, 10_000, 'closed viewers cleaned up');
  } finally {
    f.stop();
    await first.close();
    await late.close();
    await s.close();
  }
});

test('the index page lists every stream of a shared server', { skip: missing }, async () => {
  const server = new WebServer({ port: 0 });
  const a = new WebSkyLine({ server, path: '/cam-a', name: 'Front door', ...common });
  const b = new WebSkyLine({ server, path: '/cam-b', ...common });
  try {
    await server.listen();
    const page = await browser.newPage();
    await page.goto(server.url('/'));
    const links = await page.$$eval('a', (els) => els.map((e) => [e.getAttribute('href'), e.textContent]));
    assert.deepEqual(links, [['/cam-a', 'Front door'], ['/cam-b', 'cam-b']]);
    assert.equal(a.url, `${server.url('/cam-a')}`);
    await page.close();
    assert.throws(() => new WebSkyLine({ server, path: '/cam-a' }), /already mounted/);
    assert.throws(() => new WebSkyLine({ server, port: 1 }), /either server or host\/port/);
  } finally {
    await a.close();
    await b.close();
    await server.close();
  }
});

test('RTSPSkyLine with web: one encoder serves an RTSP player and a browser from the same access units', { skip: missing }, async () => {
  const rtsp = new RTSPSkyLine({ port: 0, web: { port: 0 }, keyframeInterval: 1000, ...common });
  rtsp.on('error', () => undefined);
  const page = await browser.newPage();
  let f: IndexedFeed | undefined;
  try {
    await rtsp.startStreaming({ fps: FPS, width: W, height: H });
    assert.equal((rtsp.pipelineDescription!.match(/x264enc|openh264enc|h264enc /g) ?? []).length, 1, 'one encoder');
    f = feedIndexed(rtsp, { fps: FPS, width: W, height: H });
    await page.goto(rtsp.webUrl!);
    const probe = ffprobeFrames(rtsp.url, 'tcp', 10);
    await waitShown(page, 20, 'browser of an RTSPSkyLine');
    const p = await probe;
    assert.equal(p.frames.length, 10, p.stderr);
    assert.ok(p.frames.every((fr) => fr.width === W && fr.height === H));
    assertIndexed(await takeShown(page), f.puts, 'RTSP + web');
    assert.equal(rtsp.stats().webViewers, 1);
  } finally {
    f?.stop();
    await page.close();
    await rtsp.close();
  }
});

test('the server restarts on the same port: the page reconnects by itself and plays the new session', { skip: missing }, async () => {
  const port = await freePort();
  let s1: WebSkyLine | undefined = new WebSkyLine({ port, ...common });
  let s2: WebSkyLine | undefined;
  let f1: IndexedFeed | undefined = undefined, f2: IndexedFeed | undefined;
  const page = await browser.newPage();
  try {
    await s1.startStreaming({ fps: FPS, width: W, height: H });
    f1 = feedIndexed(s1, { fps: FPS, width: W, height: H });
    await page.goto(s1.url);
    await waitShown(page, 10, 'before the restart');
    f1.stop();
    await s1.close();
    s1 = undefined;
    const down = await pageStatus(page);
    await waitPage(page, 'window.skyline.state !== "playing"', 'the page noticing the server went away', 10_000);
    await takeShown(page);
    s2 = new WebSkyLine({ port, ...common });
    await s2.startStreaming({ fps: FPS, width: W, height: H });
    f2 = feedIndexed(s2, { fps: FPS, width: W, height: H });
    await waitPage(page, 'window.skyline.connects >= 2', 'the page reconnecting', 20_000);
    await waitShown(page, down.framesShown + 10, 'after the restart');
    const frames = await takeShown(page);
    assertIndexed(frames, f2.puts, 'after the restart');
  } finally {
    f1?.stop();
    f2?.stop();
    await page.close();
    await s1?.close();
    await s2?.close();
  }
});

test('a new session of another size: the page stays connected and switches to the new size', { skip: missing }, async () => {
  const s = new WebSkyLine({ port: 0, ...common });
  s.on('error', () => undefined);
  const page = await browser.newPage();
  let f: IndexedFeed | undefined;
  try {
    await s.startStreaming({ fps: FPS, width: W, height: H });
    f = feedIndexed(s, { fps: FPS, width: W, height: H });
    await page.goto(s.url);
    await waitShown(page, 10, 'first session');
    f.stop();
    await s.stopStreaming();
    await s.startStreaming({ fps: FPS, width: 480, height: 360 });
    f = feedIndexed(s, { fps: FPS, width: 480, height: 360 });
    await waitPage(page, 'window.skyline.config && window.skyline.config.width === 480 && window.skyline.state === "playing"', 'the new size playing', 20_000);
    await takeShown(page);
    const before = (await pageStatus(page)).framesShown;
    await waitShown(page, before + 10, 'second session');
    const frames = await takeShown(page);
    assert.ok(frames.length > 0 && frames.every((fr) => fr.width === 480), 'pictures 480 wide');
    assert.ok(frames.filter((fr) => fr.index >= 0).length >= frames.length - 2, 'indices readable at the new size');
    assert.equal((await pageStatus(page)).connects, 1, 'the same connection throughout');
    assert.equal(await page.textContent('#size'), '480×360');
  } finally {
    f?.stop();
    await page.close();
    await s.close();
  }
});

test('Basic auth (RTSP credentials): a wrong password gets nothing, the right one plays; no secret in URL or logs', { skip: missing }, async () => {
  const log = captureLogger('debug');
  const password = 'horse-battery-77';
  const s = new WebSkyLine({ port: 0, auth: { username: 'viewer', password }, logger: log.logger, ...common });
  s.on('error', () => undefined);
  let f: IndexedFeed | undefined;
  try {
    await s.startStreaming({ fps: FPS, width: W, height: H });
    f = feedIndexed(s, { fps: FPS, width: W, height: H });
    assert.ok(!s.url.includes(password));
    // Without credentials, and with wrong ones: 401 on the page and on the WebSocket upgrade.
    const anon = await fetch(s.url);
    assert.equal(anon.status, 401);
    assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic/);
    const wrongHeader = `Basic ${Buffer.from('viewer:wrong').toString('base64')}`;
    assert.equal((await fetch(s.url, { headers: { authorization: wrongHeader } })).status, 401);
    assert.equal(await upgradeStatus(`${s.url.replace('http', 'ws')}/ws`, { authorization: wrongHeader }), 401);
    assert.equal(await upgradeStatus(`${s.url.replace('http', 'ws')}/ws`, {}), 401);
    const wrong = await browser.newPage({ httpCredentials: { username: 'viewer', password: 'wrong-password' } });
    const resp = await wrong.goto(s.url);
    assert.equal(resp?.status(), 401);
    assert.equal(s.stats().viewers, 0, 'no viewer got in');
    await wrong.close();
    const right = await browser.newPage({ httpCredentials: { username: 'viewer', password } });
    await right.goto(s.url);
    await waitShown(right, 10, 'with the right password');
    assertIndexed(await takeShown(right), f.puts, 'authorized');
    await right.close();
    assert.ok(!log.text().includes(password), 'password never logged');
  } finally {
    f?.stop();
    await s.close();
  }
});

test('token auth: the page trades the token from its URL fragment for a cookie; a wrong token gets nothing', { skip: missing }, async () => {
  const token = 'tok-5f2b9c1e7a';
  const s = new WebSkyLine({ port: 0, auth: { token }, ...common });
  s.on('error', () => undefined);
  let f: IndexedFeed | undefined;
  try {
    await s.startStreaming({ fps: FPS, width: W, height: H });
    f = feedIndexed(s, { fps: FPS, width: W, height: H });
    const wrong = await browser.newPage();
    await wrong.goto(`${s.url}#token=tok-wrong-00000`);
    await waitState(wrong, 'unauthorized');
    assert.equal((await pageStatus(wrong)).framesShown, 0);
    assert.equal(await wrong.isVisible('#token'), true, 'the page asks for a token');
    await wrong.close();
    assert.equal(await upgradeStatus(`${s.url.replace('http', 'ws')}/ws`, { authorization: 'Bearer nope-nope-nope' }), 401);
    const right = await browser.newPage();
    await right.goto(`${s.url}#token=${token}`);
    await waitShown(right, 10, 'with the token');
    assert.ok(!right.url().includes(token), 'the token is taken out of the address bar');
    assertIndexed(await takeShown(right), f.puts, 'token');
    await right.close();
  } finally {
    f?.stop();
    await s.close();
  }
});

/** Status of a WebSocket upgrade: 101 when accepted, else the HTTP status it was answered with. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: 5000 });
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', (e) => reject(e));
  });
}

test('screenshot of the page for the README (docs/web-preview.png)', { skip: missing }, async () => {
  const s = new WebSkyLine({ port: 0, path: '/front-door', name: 'front door', bitrate: 3000, ...common });
  s.on('error', () => undefined);
  const pattern = new TestPattern(1280, 720);
  let i = 0;
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const page = await browser.newPage({ viewport: { width: 1100, height: 680 } });
  try {
    await s.startStreaming({ fps: FPS, width: 1280, height: 720 });
    const tick = () => {
      s.put(pattern.frame(i++));
      timer = setTimeout(tick, Math.max(1, t0 + (i * 1000) / FPS - performance.now()));
    };
    tick();
    await page.goto(s.url);
    await waitShown(page, 60, 'screenshot');
    await waitPage(page, '/\\d+ ms/.test(document.getElementById("latency").textContent) && document.getElementById("fps").textContent !== "–"', 'latency and fps on the page', 10_000);
    // The committed README picture is refreshed only on request, so a test run leaves the
    // checkout clean; the screenshot is taken (and checked to be a PNG) either way.
    const dir = process.env.SKYLINE_UPDATE_DOCS === '1' ? join(root, 'docs') : mkdtempSync(join(tmpdir(), 'skyline-shot-'));
    mkdirSync(dir, { recursive: true });
    const png = await page.screenshot({ path: join(dir, 'web-preview.png') });
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', 'the screenshot is a PNG');
  } finally {
    if (timer) clearTimeout(timer);
    await page.close();
    await s.close();
  }
});

test('a page that dropped pictures on its own asks for a keyframe and gets one long before the next natural one', { skip: missing }, async () => {
  // The stream's GOP is 1000 frames (33 s): a keyframe soon after the request came because of it.
  const ws = new WebSocket(`${sky.url.replace('http:', 'ws:')}/ws?mode=webcodecs`);
  const units: Array<{ keyframe: boolean; at: number }> = [];
  let closed: number | undefined;
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    const h = readVideoHeader(data as Buffer);
    if (h?.kind === KIND_ACCESS_UNIT) units.push({ keyframe: h.keyframe, at: units.length });
  });
  ws.on('close', (code) => (closed = code));
  try {
    // Joining asks for the first keyframe; then some pictures go by.
    await waitFor(() => units.filter((u) => u.keyframe).length === 1 && units.length >= 10, 20_000, 'a keyframe and 9 pictures after joining');
    const askedAt = units.length;
    ws.send(JSON.stringify({ type: 'keyframe' }));
    await waitFor(() => closed !== undefined || units.some((u) => u.keyframe && u.at >= askedAt), 20_000, 'a keyframe after the request');
    assert.equal(closed, undefined, 'the request is understood, not refused');
    const next = units.find((u) => u.keyframe && u.at >= askedAt)!;
    assert.ok(next.at - askedAt < 300, `keyframe ${next.at - askedAt} pictures after the request, within a tenth of a 1000-frame GOP`);
  } finally {
    ws.close();
  }
});
