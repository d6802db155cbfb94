// The web server under bad clients: a viewer that stops reading, half-open and flooding
// connections, garbage and oversized messages. Video comes from a clip replayed in real time
// (no encoder: these tests are about the server), fast viewers are real Chromium pages.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket } from 'ws';
import type { Page } from 'playwright-core';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { WebServer, type WebStream } from '../../src/index.js';
import { chromiumMissing, launchBrowser, pageStatus, type Browser } from '../support/browser.js';
import { ClipPlayer, encodeClip } from '../support/rtsp-source.js';
import { waitFor } from '../support/wait.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const missing = chromiumMissing();
const BACKLOG = 64 * 1024;
let browser: Browser;
let clip: AccessUnit[];
let server: WebServer;
let stream: WebStream;
let player: ClipPlayer;

before(async () => {
  if (missing) return;
  // Snow at a high bitrate: frames of tens of kilobytes, so a reader that stops fills its socket quickly.
  clip = await encodeClip({ width: 640, height: 480, fps: 30, frames: 60, keyInt: 30, pattern: 'snow', bitrateKbps: 8000 });
  browser = await launchBrowser();
  // Every bad client here comes from 127.0.0.1, as the browser does: no per-address limit.
  server = new WebServer({ port: 0, maxViewerBacklogBytes: BACKLOG, stallTimeoutMs: 3000, requestTimeoutMs: 2000, heartbeatMs: 60_000, maxConnectionsPerAddress: 1000 });
  await server.listen();
  stream = server.mount('/live', { onKeyframeRequest: () => player.requestKeyframe() });
  player = new ClipPlayer(clip, 30, (au) => stream.pushAccessUnit(au));
  player.start();
});

after(async () => {
  player?.stop();
  await server?.close();
  await browser?.close();
});

async function framesShown(page: Page): Promise<number> {
  return (await pageStatus(page)).framesShown;
}

async function waitFrames(page: Page, n: number, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while ((await framesShown(page)) < n) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${n} frames (${what}): ${JSON.stringify(await pageStatus(page))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function wsUrl(path = '/live/ws?mode=webcodecs'): string {
  return server.url(path).replace('http:', 'ws:');
}

function openWs(url = wsUrl()): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
}

test('a viewer that stops reading skips to keyframes with bounded memory, is cut off, and never slows a fast viewer', { skip: missing }, async () => {
  const page = await browser.newPage();
  try {
    await page.goto(`${server.url('/live')}?mode=webcodecs`);
    await waitFrames(page, 10, 'fast viewer');
    const slow = await openWs();
    slow.pause(); // stops reading: the server's send queue for it fills
    const droppedBefore = stream.stats().droppedViewers;
    const shownBefore = await framesShown(page);
    const largest = Math.max(...clip.map((au) => au.nalus.reduce((a, n) => a + n.length + 4, 0))) + 64;
    let maxQueued = 0;
    await waitFor(() => {
      for (const v of stream.viewers) if (v.skipped > 0) maxQueued = Math.max(maxQueued, v.ws.bufferedAmount);
      return stream.stats().droppedViewers > droppedBefore;
    }, 30_000, 'the stalled viewer to be cut off');
    assert.ok(stream.stats().skippedUnits > 0, 'the slow viewer skipped pictures');
    assert.ok(maxQueued <= BACKLOG + 2 * largest, `queued to the slow viewer: ${maxQueued} bytes, bound ${BACKLOG} + one picture`);
    // The fast page kept getting pictures all along, and was never behind.
    assert.ok((await framesShown(page)) > shownBefore + 30, 'the fast viewer kept playing');
    const fast = [...stream.viewers];
    assert.equal(fast.length, 1, 'only the fast viewer is left');
    assert.equal(fast[0]!.skipped, 0, 'the fast viewer missed nothing');
    slow.terminate();
  } finally {
    await page.close();
  }
  await waitFor(() => stream.viewers.size === 0, 10_000, 'viewers cleaned up');
});

test('a hundred half-open connections, garbage and oversized messages: each answered or closed, the server keeps serving, memory comes back', { skip: missing }, async () => {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const badBefore = stream.stats().badMessages;

  // 100 upgrades that never finish their headers: closed by the server's request deadline.
  const halfOpen: net.Socket[] = [];
  let closedByServer = 0;
  for (let i = 0; i < 100; i++) {
    const s = net.connect(server.port, '127.0.0.1');
    s.on('error', () => undefined);
    s.on('close', () => closedByServer++);
    s.resume(); // read, so the server's answer and close are seen
    s.write('GET /live/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    halfOpen.push(s);
  }
  // 10 finished WebSockets that never read: skipped, then cut off.
  const silent = await Promise.all(Array.from({ length: 10 }, () => openWs()));
  for (const ws of silent) ws.pause();

  // Garbage over the WebSocket: each closed with a code saying why.
  const closeCode = async (send: (ws: WebSocket) => void): Promise<number> => {
    const ws = await openWs();
    const code = new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    send(ws);
    return code;
  };
  assert.equal(await closeCode((ws) => ws.send('not json at all')), 1008);
  assert.equal(await closeCode((ws) => ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]))), 1003);
  assert.equal(await closeCode((ws) => ws.send('x'.repeat(10_000))), 1009);
  assert.equal(await closeCode((ws) => ws.send('{"type":"ping","t":"soon"}')), 1008);

  // Garbage over HTTP, unknown paths and modes: answered with a status.
  const raw = (text: string) => new Promise<string>((resolve) => {
    const s = net.connect(server.port, '127.0.0.1', () => s.write(text));
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('error', () => resolve(got));
    s.on('close', () => resolve(got));
  });
  assert.match(await raw('BLAH BLAH\r\n\r\n'), /^HTTP\/1\.1 400/);
  assert.equal((await fetch(server.url('/nope'))).status, 404);
  assert.equal((await fetch(server.url('/live/ws'))).status, 426);
  assert.equal((await fetch(server.url('/live'), { method: 'DELETE' })).status, 405);
  const upgrade = (path: string) => new Promise<number>((resolve) => {
    const ws = new WebSocket(server.url(path).replace('http:', 'ws:'));
    ws.on('unexpected-response', (_q, r) => { resolve(r.statusCode ?? 0); ws.terminate(); });
    ws.on('open', () => { resolve(101); ws.terminate(); });
    ws.on('error', () => resolve(-1));
  });
  assert.equal(await upgrade('/other/ws'), 404);
  assert.equal(await upgrade('/live/ws?mode=flash'), 400);

  // Through all this, a browser joins and plays.
  const page = await browser.newPage();
  try {
    await page.goto(server.url('/live'));
    await waitFrames(page, 20, 'a browser among bad clients');
  } finally {
    await page.close();
  }
  await waitFor(() => closedByServer === 100, 20_000, 'the half-open connections closed by the server').catch((e: Error) => { throw new Error(`${e.message}: ${closedByServer} of 100`); });
  await waitFor(() => stream.viewers.size === 0, 20_000, 'silent and closed viewers removed');
  for (const ws of silent) ws.terminate();
  for (const s of halfOpen) s.destroy();
  await waitFor(() => server.stats().connections === 0, 20_000, 'every connection gone');
  gc();
  const grown = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(grown < 20 * 2 ** 20, `heap grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
  assert.equal(stream.stats().badMessages - badBefore, 4, 'the four bad messages sent: not JSON, binary, oversized, a ping without a number');
});

// Needs no browser: runs without Chromium too.
test('a flood beyond maxConnections is refused at once; the server serves again when it ends', async () => {
  const small = new WebServer({ port: 0, maxConnections: 20 });
  await small.listen();
  small.mount('/live');
  const flood: net.Socket[] = [];
  let closed = 0;
  try {
    for (let i = 0; i < 50; i++) {
      const s = net.connect(small.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => closed++);
      flood.push(s);
    }
    await waitFor(() => small.stats().refusedConnections >= 30 && closed >= 30, 10_000, '30 connections refused');
    assert.ok(small.stats().connections <= 20);
    for (const s of flood) s.destroy();
    await waitFor(() => small.stats().connections === 0, 10_000, 'the flood gone');
    const r = await fetch(small.url('/'));
    assert.equal(r.status, 200);
    assert.match(await r.text(), /href="\/live"/);
  } finally {
    for (const s of flood) s.destroy();
    await small.close();
  }
});
