// LiveSource over HTTP (HLS playlists and MJPEG multipart streams served by a Node server here),
// and the built-in test pattern.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LiveSource, type LiveSourceOptions, type SourceFrame } from '../../src/index.js';
import { indexOf } from '../support/frames.js';
import { material, pipeFrames } from '../support/ingest-material.js';
import { listenOnLoopback } from '../support/ports.js';
import { captureLogger } from '../support/quiet.js';

const W = 320;
const H = 240;
let dir: string;
let server: http.Server;
let port = 0;
const jpegs: Buffer[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skyline-ingest-http-'));
  // HLS: 4 s of indexed frames in 1 s MPEG-TS segments, by gst-launch's hlssink.
  await pipeFrames('gst-launch-1.0', ['-q', ...`fdsrc fd=0 ! rawvideoparse format=bgr width=${W} height=${H} framerate=30/1 ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast key-int-max=30 ! h264parse ! mpegtsmux ! hlssink location=${dir}/seg%05d.ts playlist-location=${dir}/index.m3u8 target-duration=1 max-files=100 playlist-length=0`.split(' ')], { n: 120, width: W, height: H });
  // MJPEG: 8 indexed JPEG images, made by GStreamer's jpegenc.
  for (let i = 0; i < 8; i++) {
    const raw = join(dir, `f${i}.bgr`);
    (await import('node:fs')).writeFileSync(raw, material(W, H, i));
    execFileSync('gst-launch-1.0', ['-q', ...`filesrc location=${raw} blocksize=${W * H * 3} ! rawvideoparse format=bgr width=${W} height=${H} ! videoconvert ! jpegenc quality=90 ! filesink location=${raw}.jpg`.split(' ')]);
    jpegs.push(readFileSync(`${raw}.jpg`));
  }
  server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/cam.mjpg') {
      res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame' });
      let i = 0;
      const t = setInterval(() => {
        const j = jpegs[i++ % jpegs.length]!;
        res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${j.length}\r\n\r\n`);
        res.write(j);
        res.write('\r\n');
      }, 50);
      req.on('close', () => clearInterval(t));
      return;
    }
    const name = url.slice(1);
    if (/^(index\.m3u8|seg\d+\.ts)$/.test(name) && readdirSync(dir).includes(name)) {
      res.writeHead(200, { 'Content-Type': name.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t' });
      // An ended playlist: a recording, not a live edge.
      const body = readFileSync(join(dir, name));
      res.end(name.endsWith('.m3u8') ? `${body.toString().trim()}\n#EXT-X-ENDLIST\n` : body);
      return;
    }
    if (url === '/page.html') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><html><body><h1>Camera admin</h1><p>Please log in.</p></body></html>'.repeat(20));
      return;
    }
    if (url === '/private.m3u8') {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="cam"' });
      res.end();
      return;
    }
    res.writeHead(404);
    res.end('not found');
  });
  port = await listenOnLoopback(server);
});

after(() => {
  server?.closeAllConnections();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const opened: LiveSource[] = [];
after(async () => {
  for (const s of opened) await s.close();
});

function source(url: string, extra: Partial<LiveSourceOptions> = {}) {
  const s = new LiveSource({ url, logger: captureLogger('warn').logger, queueFrames: 512, ...extra });
  opened.push(s);
  s.on('error', () => undefined);
  return s;
}

async function take(s: LiveSource, n: number): Promise<SourceFrame[]> {
  const out: SourceFrame[] = [];
  const it = (async () => {
    for await (const f of s) {
      out.push(f);
      if (out.length >= n) break;
    }
  })();
  await s.start();
  await it;
  return out;
}

test('HLS: an m3u8 playlist of MPEG-TS segments, frames by index', async () => {
  const s = source(`http://127.0.0.1:${port}/index.m3u8`);
  const frames = await take(s, 100);
  const idx = frames.map(indexOf);
  assert.deepEqual(idx, [...Array(100).keys()]);
  assert.deepEqual([frames[0]!.width, frames[0]!.height], [W, H]);
  assert.equal(s.probe().codec, 'video/x-h264');
});

test('HLS: a playlist with #EXT-X-ENDLIST ends the source (state ended, every frame once), no reconnect', async () => {
  const s = source(`http://127.0.0.1:${port}/index.m3u8`);
  const reconnects: unknown[] = [];
  s.on('reconnect', (r) => reconnects.push(r));
  const frames: SourceFrame[] = [];
  const it = (async () => {
    for await (const f of s) frames.push(f);
  })();
  await s.start();
  await it;
  assert.equal(s.state, 'ended');
  assert.deepEqual(frames.map(indexOf), [...Array(120).keys()]);
  assert.deepEqual(reconnects, []);
});

test('MJPEG over HTTP: every image is a keyframe; pixels and index survive JPEG', async () => {
  const s = source(`http://127.0.0.1:${port}/cam.mjpg`);
  const frames = await take(s, 12);
  const idx = frames.map(indexOf);
  for (let k = 1; k < idx.length; k++) assert.equal(idx[k], (idx[k - 1]! + 1) % 8, `cycling 0..7: ${idx}`);
  assert.ok(frames.every((f) => f.keyframe && f.width === W && f.height === H));
  const p = s.probe();
  assert.equal(p.codec, 'image/jpeg');
  assert.deepEqual([p.width, p.height], [W, H]);
  const shot = (await s.screenshot(frames[5]!.timestamp))!;
  assert.equal(indexOf(shot), idx[5]);
});

test('testsrc:// gives a live test pattern of the asked size', async () => {
  const s = source('testsrc://smpte?width=160&height=120&fps=15');
  const frames = await take(s, 5);
  assert.ok(frames.every((f) => f.width === 160 && f.height === 120 && f.data.length === 160 * 120 * 3));
  // SMPTE bars: the top-left bar is light grey (about 192 in every channel).
  const f = frames[0]!;
  const px = [...f.data.subarray((10 * 160 + 5) * 3, (10 * 160 + 5) * 3 + 3)];
  assert.ok(px.every((v) => v > 150), `top-left bar ${px}`);
});

test('an HTML page is not a stream; 404 is NOT_FOUND; 401 is UNAUTHORIZED', async () => {
  await assert.rejects(source(`http://127.0.0.1:${port}/page.html`).start(), (e: Error & { code?: string }) => e.code === 'NOT_A_STREAM' && /not a media stream|type of stream|text/i.test(e.message));
  await assert.rejects(source(`http://127.0.0.1:${port}/missing.m3u8`).start(), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
  await assert.rejects(source(`http://user:hunter22@127.0.0.1:${port}/private.m3u8`).start(), (e: Error & { code?: string }) => e.code === 'UNAUTHORIZED' && !e.message.includes('hunter22'));
});
