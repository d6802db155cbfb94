// HlsDestination end to end with third parties: every playlist we serve read by m3u8-parser
// and held to RFC 8216bis; blocking reload answered when the part exists; ffmpeg/ffprobe decode
// the playlist and segments (frame index band in order); hls.js in headless Chromium, low-latency
// mode, plays it from another origin (CORS); the same credentials as the web preview; the
// directory mode with its sliding window on disk.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HlsDestination, LiveSource, MultiSkyLine, WebDestination } from '../../src/index.js';
import { RTSPServer } from '../../src/rtsp/server.js';
import { ClipPlayer, encodeClip } from '../support/rtsp-source.js';
import { chromiumMissing, launchBrowser, takeShown } from '../support/browser.js';
import { decodeErrors, decodeRgb, probeVideo } from '../support/ffprobe.js';
import { indexed, indexOf } from '../support/frames.js';
import { HLS_PACKAGES_INSTALL, hlsJsFile, hlsPackagesPresent, parseM3u8, specProblems, type ParsedPlaylist } from '../support/hls-packages.js';
import { listenOnLoopback } from '../support/ports.js';
import { captureLogger } from '../support/quiet.js';
import { commandWorks, requireTool } from '../support/require-tool.js';

const W = 320;
const H = 240;
const FPS = 25;
const dir = mkdtempSync(join(tmpdir(), 'skyline-hls-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const skip = requireTool('m3u8-parser and hls.js', hlsPackagesPresent, HLS_PACKAGES_INSTALL)
  || requireTool('ffmpeg and ffprobe', () => commandWorks('ffmpeg') && commandWorks('ffprobe'), 'apt-get install ffmpeg');

function sky(keyframeInterval = FPS) {
  const log = captureLogger('info');
  const s = new MultiSkyLine({ logger: log.logger, statsIntervalMs: 0, keyframeInterval, stopTimeoutMs: 8000 });
  const errors: Error[] = [];
  s.on('error', (e) => errors.push(e));
  return { sky: s, log, errors };
}

/** Puts frames with the index band at real-time pace until `count`, or until stopped. */
function feed(s: MultiSkyLine, count: number): { done: Promise<void>; stop(): void; readonly puts: number; t0: number } {
  let stopped = false;
  let puts = 0;
  const t0 = Date.now();
  const done = (async () => {
    for (let i = 0; i < count && !stopped; i++) {
      const wait = t0 + (i * 1000) / FPS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const ok = await s.putAsync(indexed(W, H, i), { timestamp: t0 + (i * 1000) / FPS });
      if (stopped) break; // the test ended (or failed) and closed the SkyLine
      assert.equal(ok, true, `frame ${i} accepted`);
      puts = i + 1;
    }
  })();
  return { done, stop: () => void (stopped = true), get puts() { return puts; }, t0 };
}

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; text: string; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, text: body.toString(), body, headers: res.headers });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function valid(text: string): ParsedPlaylist {
  const parsed = parseM3u8(text);
  assert.deepEqual(specProblems(parsed), [], text);
  return parsed;
}

/** (msn, part) of the part after the last one the playlist lists. */
function nextPart(p: ParsedPlaylist): { msn: number; part: number } {
  const m = p.manifest;
  return { msn: (m.mediaSequence ?? 0) + m.segments.length, part: m.preloadSegment?.parts?.length ?? 0 };
}

/** Does the playlist satisfy a blocking request for part `part` of segment `msn` (it or anything later listed)? */
function lists(p: ParsedPlaylist, msn: number, part: number): boolean {
  const open = nextPart(p);
  return msn < open.msn || (msn === open.msn && open.part > part);
}

test('served LL-HLS: valid playlists, blocking reload answered once the part exists, far-future requests 400, ffmpeg decodes every frame in order', { skip, timeout: 60_000 }, async () => {
  const hls = new HlsDestination({ port: 0, partMs: 200, segmentMs: 1000, windowSegments: 3 });
  const { sky: s, errors } = sky();
  s.attach(hls);
  await s.startStreaming({ fps: FPS, width: W, height: H });
  assert.match(hls.url, /^http:\/\/127\.0\.0\.1:\d+\/live\/index\.m3u8$/);
  const frames = FPS * 4;
  const f = feed(s, frames);
  try {
    // A plain request waits for the first part instead of answering with an empty list.
    let p = valid((await get(hls.url)).text);
    const base = hls.url;
    let blocked = 0;
    while (f.puts < frames - FPS) {
      const want = nextPart(p);
      const hint = p.manifest.preloadSegment?.preloadHints?.[0]?.uri;
      assert.ok(hint, 'a preload hint while live');
      // The hinted part, asked for before it exists, comes once it is cut (a CMAF chunk: moof first).
      const hinted = get(new URL(hint, base).href);
      const r = await get(`${base}?_HLS_msn=${want.msn}&_HLS_part=${want.part}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['content-type'], 'application/vnd.apple.mpegurl');
      const q = valid(r.text);
      assert.ok(lists(q, want.msn, want.part), `answer to msn ${want.msn} part ${want.part} lists it:\n${r.text}`);
      assert.ok(!lists(p, want.msn, want.part), 'the part was not there when asked');
      const part = await hinted;
      assert.equal(part.status, 200);
      assert.equal(part.body.subarray(4, 8).toString('latin1'), 'moof');
      p = q;
      blocked++;
    }
    assert.ok(blocked >= 8, `${blocked} blocking reloads`);
    const { msn } = nextPart(p);
    assert.equal((await get(`${base}?_HLS_msn=${msn + 3}`)).status, 400, 'three segments ahead');
    assert.equal((await get(`${base}?_HLS_msn=${msn}&_HLS_part=40`)).status, 400, 'past the Advance Part Limit');
    assert.equal((await get(`${base}?_HLS_part=1`)).status, 400, '_HLS_part without _HLS_msn');
    assert.equal((await get(`${base}?_HLS_msn=x`)).status, 400);
    assert.equal((await get(base.replace('index.m3u8', 'nope.m4s'))).status, 404);
    const init = await get(new URL(/#EXT-X-MAP:URI="([^"]+)"/.exec((await get(base)).text)![1]!, base).href);
    assert.equal(init.body.subarray(4, 8).toString('latin1'), 'ftyp');
    assert.match(String(init.headers['cache-control']), /^public, max-age=\d+$/);
    await f.done;
    await s.stopStreaming();
    const ended = valid((await get(base)).text);
    assert.equal(ended.manifest.endList, true);
    // ffprobe and ffmpeg read the playlist and its segments over HTTP: the window's frames, in order, no errors.
    const probe = await probeVideo(base);
    assert.equal(probe.codec, 'h264');
    assert.deepEqual([probe.width, probe.height], [W, H]);
    const windowFrames = Math.round(ended.manifest.segments.reduce((n, x) => n + x.duration, 0) * FPS);
    assert.equal(probe.frames, windowFrames);
    const decoded = await decodeRgb(base);
    const idx = decoded.frames.map((d) => indexOf({ data: d, width: W, height: H, format: 'RGB' }));
    assert.equal(idx.length, windowFrames);
    assert.deepEqual(idx, idx.map((_, i) => frames - windowFrames + i), 'the last frames, each once, in order');
    assert.equal(await decodeErrors(base), '');
    assert.deepEqual(errors, []);
    assert.equal(hls.stats().kind, 'hls');
    assert.equal(hls.stats().unitsIn, frames);
    const st = hls.hlsStats();
    assert.ok(st.blockingReloads >= blocked && st.badRequests === 4 && st.timeouts === 0, JSON.stringify(st));
  } finally {
    f.stop();
    await s.close();
  }
});

test('hls.js in headless Chromium, low-latency mode, plays it from another origin (CORS for allowedOrigins only)', { skip: skip || chromiumMissing(), timeout: 60_000 }, async (t) => {
  // The player's page on an origin of its own: only CORS lets it read the stream.
  let hlsUrl = '';
  const page = http.createServer((req, res) => {
    if (req.url === '/hls.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(readFileSync(hlsJsFile()));
    res.writeHead(200, { 'Content-Type': 'text/html' }).end(`<!doctype html><body style="margin:0"><video id="v" muted autoplay playsinline width="${W}" height="${H}"></video>
<script src="/hls.js"></script><script>
var v = document.getElementById('v'); window.hlsErrors = [];
var hls = new Hls({ lowLatencyMode: true, backBufferLength: 4, maxLiveSyncPlaybackRate: 1.5 });
hls.on(Hls.Events.ERROR, function (e, d) { window.hlsErrors.push(d.details + (d.fatal ? ' (fatal)' : '')); });
hls.loadSource(${JSON.stringify('HLS_URL')}.replace('HLS_URL', location.hash.slice(1))); hls.attachMedia(v);
v.requestVideoFrameCallback(function shown() {
  window.dispatchEvent(new CustomEvent('skyline-frame', { detail: { source: v, captureMs: 0, latencyMs: 0, receivedAt: 0 } }));
  v.requestVideoFrameCallback(shown);
});
</script>`);
  });
  const pagePort = await listenOnLoopback(page);
  const origin = `http://127.0.0.1:${pagePort}`;
  const hls = new HlsDestination({ port: 0, partMs: 200, segmentMs: 1000, allowedOrigins: [origin] });
  const { sky: s } = sky();
  s.attach(hls);
  await s.startStreaming({ fps: FPS, width: W, height: H });
  hlsUrl = hls.url;
  const f = feed(s, FPS * 12);
  const browser = await launchBrowser();
  try {
    // CORS: the allowed origin is named back; another site gets 403; the server's own pages need none.
    const cors = await get(hlsUrl, { Origin: origin });
    assert.equal(cors.headers['access-control-allow-origin'], origin);
    assert.equal((await get(hlsUrl, { Origin: 'http://evil.example' })).status, 403);
    const preflight = await get(hlsUrl, { Origin: origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' }, 'OPTIONS');
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], origin);
    assert.match(String(preflight.headers['access-control-allow-headers']), /Authorization/);
    assert.equal((await get(hlsUrl, { Origin: 'http://evil.example' }, 'OPTIONS')).status, 403);
    assert.equal((await get(hlsUrl, { Origin: new URL(hlsUrl).origin })).headers['access-control-allow-origin'], undefined);

    const tab = await browser.newPage({ viewport: { width: W, height: H } });
    await tab.goto(`${origin}/#${hlsUrl}`);
    const shown: number[] = [];
    const latencies: number[] = [];
    const end = Date.now() + 20_000;
    while (Date.now() < end && shown.filter((i) => i >= 0).length < 60) {
      await new Promise((r) => setTimeout(r, 250));
      for (const x of await takeShown(tab)) {
        shown.push(x.index);
        // Glass to glass: shown in the page minus when the frame was put (same machine, same clock).
        if (x.index >= 0) latencies.push(x.at - (f.t0 + (x.index * 1000) / FPS));
      }
    }
    const read = shown.filter((i) => i >= 0);
    const errors = (await tab.evaluate('window.hlsErrors')) as string[];
    assert.ok(read.length >= 60, `frames read from the canvas: ${read.length} of ${shown.length}; hls.js errors: ${errors.join(', ')}`);
    // The band's indices go forward (playback order), with few unreadable pictures.
    const backwards = read.filter((x, i) => i > 0 && x < read[i - 1]!).length;
    assert.equal(backwards, 0, `indices in order: ${read.join(',')}`);
    assert.ok(read.length >= shown.length * 0.9, `readable: ${read.length} of ${shown.length}`);
    // Low latency: the picture shown is within about two seconds of the frame just put.
    const behind = f.puts - read.at(-1)!;
    assert.ok(behind < FPS * 2.5, `${behind} frames behind live`);
    const q = (await tab.evaluate('(function(){var v=document.getElementById("v"), q=v.getVideoPlaybackQuality(); return { t: v.currentTime, decoded: q.totalVideoFrames, dropped: q.droppedVideoFrames, lowLatency: hls.lowLatencyMode };})()')) as { t: number; decoded: number; lowLatency: boolean };
    assert.ok(q.t > 0 && q.decoded >= 30, JSON.stringify(q));
    assert.equal(q.lowLatency, true);
    // hls.js took the low-latency path: blocking playlist reloads and parts.
    const st = hls.hlsStats();
    assert.ok(st.blockingReloads >= 5, JSON.stringify(st));
    latencies.sort((a, b) => a - b);
    const pct = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
    t.diagnostic(`hls.js glass to glass: p50 ${pct(0.5)} ms, p95 ${pct(0.95)} ms over ${latencies.length} pictures`);
    t.diagnostic(`hls.js: ${read.length} pictures read, ${behind} frames behind the last put, ${JSON.stringify(q)}, ${JSON.stringify(st)}`);
    assert.deepEqual(errors.filter((e) => e.includes('fatal')), []);
  } finally {
    f.stop();
    await browser.close();
    await s.close();
    page.close();
  }
});

test('the preview and its HLS share a path and credentials: one cookie opens both; the token never reaches a log', { skip, timeout: 20_000 }, async () => {
  const token = 'hls-secret-token-1234';
  const log = captureLogger('debug');
  const web = new WebDestination({ port: 0, auth: { token }, logger: log.logger });
  const hls = new HlsDestination({ server: web.server, auth: { token } });
  assert.throws(() => new HlsDestination({ server: web.server, path: '/live', auth: { token: 'another-token-5678' } }), /already serves files|other credentials/);
  await web.listen();
  try {
    assert.equal(hls.url, web.url + '/index.m3u8');
    assert.equal((await get(hls.url)).status, 401);
    assert.equal((await get(hls.url, { Authorization: 'Bearer wrong-token-000' })).status, 401);
    // Authorized, before the stream starts: the server says so (503), not the guard.
    assert.equal((await get(hls.url, { Authorization: `Bearer ${token}` })).status, 503);
    const session = await get(web.url + '/session', { Authorization: `Bearer ${token}` }, 'POST');
    const cookie = String(session.headers['set-cookie']).split(';')[0]!;
    assert.equal((await get(hls.url, { Cookie: cookie })).status, 503);
    assert.equal((await get(hls.url.replace('index.m3u8', 'x.m4s'), { Cookie: cookie })).status, 503);
    assert.ok(!log.text().includes(token), 'the token is not logged');
    assert.match(log.text(), /web login failed/);
  } finally {
    await hls.dispose();
    await web.dispose();
  }
});

test('served window slides (old segments and parts 404), and a reader that stops reading is cut', { skip, timeout: 40_000 }, async () => {
  // Short segments (a keyframe every 5 frames, 200 ms) so the window slides within seconds.
  const hls = new HlsDestination({ port: 0, partMs: 100, segmentMs: 200, windowSegments: 3, serverOptions: { stallTimeoutMs: 1000 } });
  const { sky: s, errors } = sky(5);
  s.attach(hls);
  await s.startStreaming({ fps: FPS, width: W, height: H });
  const f = feed(s, FPS * 4);
  try {
    const first = valid((await get(hls.url)).text);
    const oldSegment = new URL(first.manifest.segments[0]?.uri ?? first.manifest.preloadSegment!.parts![0]!.uri, hls.url).href;
    const oldPart = new URL((first.manifest.segments[0]?.parts ?? first.manifest.preloadSegment!.parts!)[0]!.uri, hls.url).href;
    assert.equal((await get(oldPart)).status, 200);
    // A reader that asks for segments over and over (pipelined) and never reads the answers.
    let segment = '';
    while (!segment) {
      const p = valid((await get(hls.url)).text);
      segment = p.manifest.segments.at(-1)?.uri ?? '';
      if (!segment) await new Promise((r) => setTimeout(r, 100));
    }
    const { port } = new URL(hls.url);
    const stuck = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((r) => stuck.once('connect', () => r()));
    stuck.pause();
    const path = new URL(segment, hls.url).pathname;
    stuck.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`.repeat(2000));
    stuck.on('error', () => undefined);
    const connections = () => hls.server!.stats().connections;
    const end = Date.now() + 15_000;
    // Cut: the server drops the connection (its count goes back to none) while the stream goes on.
    while (Date.now() < end && connections() > 0) await new Promise((r) => setTimeout(r, 100));
    assert.equal(connections(), 0, 'the stuck reader was cut');
    stuck.destroy();
    await f.done;
    // 4 s of 200 ms segments: far past twice the window plus one. The first ones are gone.
    assert.equal((await get(oldSegment)).status, 404);
    assert.equal((await get(oldPart)).status, 404);
    const last = valid((await get(hls.url)).text);
    assert.equal(last.manifest.segments.length, 3);
    assert.equal((await get(new URL(last.manifest.segments[0]!.uri, hls.url).href)).status, 200);
    assert.deepEqual(errors, []);
  } finally {
    f.stop();
    await s.close();
  }
});

test('a camera relayed by LiveSource (no re-encode, 2 s GOP over 1 s targets): valid playlists, ffmpeg decodes the window cleanly', { skip, timeout: 40_000 }, async () => {
  const clip = await encodeClip({ width: W, height: H, fps: FPS, frames: 100, keyInt: 50 });
  const server = new RTSPServer({ port: 0, logger: captureLogger('warn').logger });
  await server.listen();
  const mount = server.mount('/cam');
  // The camera ignores keyframe requests: a relay cannot ask it for one.
  const player = new ClipPlayer(clip, FPS, (au) => mount.pushAccessUnit(au));
  player.start();
  const source = new LiveSource({ url: server.url('/cam'), logger: captureLogger('warn').logger });
  const errors: Error[] = [];
  source.on('error', (e) => errors.push(e));
  const hls = new HlsDestination({ port: 0, partMs: 200, segmentMs: 1000, windowSegments: 3 });
  try {
    // Attached before the camera's first keyframe, it opens later: listen() makes the URL final now.
    await hls.listen();
    await source.attach(hls);
    await source.start();
    let p = valid((await get(hls.url)).text);
    let sequence = p.manifest.mediaSequence ?? 0;
    while (hls.hlsStats().mediaSequence < 6) {
      const next = nextPart(p);
      p = valid((await get(`${hls.url}?_HLS_msn=${next.msn}&_HLS_part=${next.part}`)).text);
      assert.ok((p.manifest.mediaSequence ?? 0) >= sequence, 'the media sequence never goes back');
      sequence = p.manifest.mediaSequence ?? 0;
    }
    // Detached, it ends its playlist and keeps serving it (close() would dispose of it).
    await source.detach(hls);
    const ended = valid((await get(hls.url)).text);
    assert.equal(ended.manifest.endList, true);
    // The listing starts at a segment that starts with a keyframe, so a player joining decodes from its first frame.
    assert.equal(await decodeErrors(hls.url), '');
    const probe = await probeVideo(hls.url);
    assert.deepEqual([probe.width, probe.height], [W, H]);
    assert.ok(probe.frames >= FPS, `${probe.frames} frames`);
    // The listing starts with a keyframe segment, and a segment cut between keyframes ends at the next one.
    const sync: boolean[] = [];
    for (const seg of ended.manifest.segments) {
      const b = (await get(new URL(seg.uri, hls.url).href)).body;
      // Our moof: mfhd, traf(tfhd, tfdt, trun); the first sample's flags sit at byte 96.
      assert.equal(b.subarray(72, 76).toString('latin1'), 'trun');
      sync.push(b.readUInt32BE(96) === 0x02000000);
    }
    assert.equal(sync[0], true, sync.join());
    assert.ok(sync.every((k, i) => k || i === sync.length - 1 || sync[i + 1]), sync.join());
    assert.ok(sync.includes(false), `some segments were cut between keyframes: ${sync.join()}`);
    assert.deepEqual(errors, []);
  } finally {
    player.stop();
    await source.close();
    await hls.dispose();
    await server.close();
  }
});

test('directory mode: plain HLS, files renamed into place, the playlist after its files, old segments deleted; ffmpeg reads it', { skip, timeout: 40_000 }, async () => {
  const out = join(dir, 'cam');
  // Short segments (a keyframe every 5 frames) so the window slides within a few seconds.
  const hls = new HlsDestination({ directory: out, partMs: 100, segmentMs: 200, windowSegments: 3 });
  assert.throws(() => new HlsDestination({ directory: out, port: 0 }), /directory/);
  const { sky: s, errors } = sky(5);
  s.attach(hls);
  await s.startStreaming({ fps: FPS, width: W, height: H });
  const frames = FPS * 3;
  const f = feed(s, frames);
  const seen = new Set<string>();
  try {
    while (f.puts < frames) {
      await new Promise((r) => setTimeout(r, 100));
      if (!existsSync(hls.url)) continue;
      const p = valid(readFileSync(hls.url, 'utf8'));
      // Static files cannot block: plain HLS of whole segments, spec-valid without blocking reload.
      assert.equal(p.manifest.partTargetDuration, undefined);
      assert.equal(p.manifest.serverControl, undefined);
      // Every file the playlist names is already there (the playlist is renamed in last).
      const names = [...p.manifest.segments.flatMap((x) => [x.uri, x.map!.uri, ...(x.parts ?? []).map((y) => y.uri)]), ...(p.manifest.preloadSegment?.parts ?? []).map((y) => y.uri)];
      for (const n of names) assert.ok(existsSync(join(out, n)), `${n} is on disk`);
      for (const n of readdirSync(out)) seen.add(n);
    }
    await f.done;
    await s.stopStreaming();
    const files = readdirSync(out);
    assert.deepEqual(files.filter((n) => n.endsWith('.tmp') || /-p\d+\.m4s$/.test(n)), [], 'no temporary files, no parts');
    const segments = files.filter((n) => /-s\d+\.m4s$/.test(n));
    assert.ok(segments.length <= 2 * 3 + 1, `segments kept: ${segments.length}`);
    const gone = [...seen].filter((n) => /-s\d+\.m4s$/.test(n) && !files.includes(n));
    assert.ok(gone.length > 0, 'older segments were deleted');
    const p = valid(readFileSync(hls.url, 'utf8'));
    assert.equal(p.manifest.endList, true);
    const decoded = await decodeRgb(hls.url);
    const idx = decoded.frames.map((d) => indexOf({ data: d, width: W, height: H, format: 'RGB' }));
    assert.ok(idx.length >= 10);
    assert.deepEqual(idx, idx.map((_, i) => frames - idx.length + i));
    assert.equal(await decodeErrors(hls.url), '');
    assert.deepEqual(errors, []);
    assert.ok(hls.stats().bytesOut > 0);
  } finally {
    f.stop();
    await s.close();
  }
});
