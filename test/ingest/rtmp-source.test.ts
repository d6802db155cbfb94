// LiveSource from an RTMP relay (nginx-rtmp), the Chrysalis path: published by our RtmpSkyLine
// and by ffmpeg. The relay restarting mid-stream is survived without a call from the application.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { LiveSource, RtmpSkyLine, type LiveSourceOptions, type SourceFrame } from '../../src/index.js';
import { indexOf } from '../support/frames.js';
import { feedIndexed, material } from '../support/ingest-material.js';
import { NginxRtmp } from '../support/nginx-rtmp.js';
import { captureLogger } from '../support/quiet.js';
import { requireTool } from '../support/require-tool.js';
import { waitFor } from '../support/wait.js';

const W = 320;
const H = 240;
const FPS = 30;
const KEY = 'sk-Chrysalis-7Hd92kQ';
let relay: NginxRtmp;
let sky: RtmpSkyLine;
let feed: ReturnType<typeof feedIndexed>;
const opened: LiveSource[] = [];
// Skips on a developer machine without nginx-rtmp; under CI (any truthy CI) throws: a failure.
const skip = requireTool('nginx with the RTMP module', () => NginxRtmp.available(), 'apt-get install nginx libnginx-mod-rtmp');

before(async () => {
  if (skip) return;
  relay = await NginxRtmp.start();
  sky = new RtmpSkyLine({ url: relay.url(KEY), keyframeInterval: 15, statsIntervalMs: 0, stopTimeoutMs: 3000, reconnect: { initialDelayMs: 200, maxDelayMs: 1000 }, logger: captureLogger('warn').logger });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  feed = feedIndexed(sky, { fps: FPS, width: W, height: H, t0: Date.now() });
});

after(async () => {
  for (const s of opened) await s.close();
  feed?.stop();
  await sky?.close();
  await relay?.dispose();
});

function source(url: string, extra: Partial<LiveSourceOptions> = {}) {
  const log = captureLogger('debug');
  const s = new LiveSource({ url, logger: log.logger, queueFrames: 256, reconnect: { initialDelayMs: 200, maxDelayMs: 1000 }, ...extra });
  opened.push(s);
  const errors: Array<Error & { code?: string }> = [];
  s.on('error', (e) => errors.push(e));
  return { s, log, errors };
}

async function take(s: LiveSource, n: number): Promise<SourceFrame[]> {
  const out: SourceFrame[] = [];
  for await (const f of s) {
    out.push(f);
    if (out.length >= n) break;
  }
  return out;
}

test('RtmpSkyLine → nginx-rtmp → LiveSource: frames by index, capture times spaced as put(), the key never logged', { skip }, async () => {
  const { s, log } = source(relay.url(KEY));
  await s.start();
  assert.equal(s.url, `rtmp://127.0.0.1:${relay.port}/live/****`);
  const frames = await take(s, 30);
  const idx = frames.map(indexOf);
  for (let k = 1; k < idx.length; k++) assert.equal(idx[k], idx[k - 1]! + 1, `consecutive: ${idx}`);
  // No sender reports over RTMP: capture times are arrival-based, spaced by the FLV timestamps,
  // never going backwards.
  for (let k = 1; k < frames.length; k++) assert.ok(frames[k]!.timestamp > frames[k - 1]!.timestamp, `increasing at ${idx[k]}`);
  // Arrival-based: never before the put() time, and spaced as the put() times were (FLV
  // timestamps are whole milliseconds). The bound on the lag only catches a wrong clock or unit.
  for (let k = 0; k < frames.length; k++) {
    const f = frames[k]!;
    const lag = f.timestamp - feed.times.get(idx[k]!)!;
    assert.ok(lag >= 0 && lag < 60_000, `capture time ${lag} ms after put()`);
    if (k === 0) continue;
    const spacing = f.timestamp - frames[k - 1]!.timestamp;
    const put = feed.times.get(idx[k]!)! - feed.times.get(idx[k - 1]!)!;
    assert.ok(Math.abs(spacing - put) <= 1.5, `frames ${idx[k - 1]}..${idx[k]}: ${spacing} ms apart, put ${put} ms apart`);
  }
  const p = s.probe();
  assert.deepEqual([p.codec, p.width, p.height], ['video/x-h264', W, H]);
  const a = idx[10]!;
  const past = await s.past(frames[10]!.timestamp - 1, frames[14]!.timestamp + 1);
  assert.deepEqual(past.map(indexOf), [a, a + 1, a + 2, a + 3, a + 4]);
  assert.ok(!log.text().includes(KEY), 'the stream key is never logged');
});

test('the relay restarts: the source reconnects by itself and frames come again', { skip }, async () => {
  const { s, errors } = source(relay.url(KEY));
  const reconnects: number[] = [];
  s.on('reconnect', (r) => reconnects.push(r.attempt));
  await s.start();
  const before = indexOf((await take(s, 1))[0]!);
  await relay.restart();
  await waitFor(() => reconnects.length >= 1, 20_000, 'a reconnect');
  const puts = feed.count;
  await waitFor(() => s.state === 'streaming', 30_000, 'streaming again');
  const after = (await take(s, 5)).map(indexOf);
  assert.ok(after[0]! > before && after[0]! >= puts - 60, `frames after the restart: ${after} (before ${before}, puts ${puts})`);
  assert.ok(errors.some((e) => e.code === 'STREAM_LOST' || e.code === 'UNREACHABLE'), errors.map((e) => e.code).join());
  assert.deepEqual(reconnects, [...Array(reconnects.length).keys()].map((k) => k + 1), 'one retry loop: attempts 1, 2, 3, ...');
  assert.equal(s.stats().reconnects >= 1, true);
});

test('a stream published by ffmpeg (libx264 defaults, B-frames) reads back in order', { skip }, async () => {
  const url = relay.url('ffmpeg-stream');
  const ff: ChildProcess = spawn('ffmpeg', ['-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-s', `${W}x${H}`, '-r', String(FPS), '-i', '-', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-pix_fmt', 'yuv420p', '-f', 'flv', url], { stdio: ['pipe', 'ignore', 'ignore'] });
  ff.stdin!.on('error', () => undefined);
  let i = 0;
  const timer = setInterval(() => ff.stdin!.write(material(W, H, i++)), 1000 / FPS);
  try {
    const { s } = source(url);
    await waitFor(() => i > 10, 10_000, 'ffmpeg fed');
    await s.start();
    const idx = (await take(s, 40)).map(indexOf);
    for (let k = 1; k < idx.length; k++) assert.equal(idx[k], idx[k - 1]! + 1, `consecutive, in presentation order: ${idx}`);
  } finally {
    clearInterval(timer);
    ff.kill('SIGKILL');
  }
});
