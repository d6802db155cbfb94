// LiveSource from files: recordings made by FileSkyLine, ffmpeg and gst-launch, read back frame by
// frame. Pixels are checked through the frame index band and the colour of the lower half, capture
// times against the timestamps given to put(), past() and screenshot() against known indices.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LiveSource, type LiveSourceOptions, type SourceFrame } from '../../src/index.js';
import { indexOf } from '../support/frames.js';
import { LOWER, recordWithFfmpeg, recordWithGstLaunch, recordWithSkyLine } from '../support/ingest-material.js';
import { captureLogger } from '../support/quiet.js';
import { waitFor } from '../support/wait.js';

const W = 320;
const H = 240;
const FPS = 30;
const N = 90;
const T0 = 1_700_000_000_000;
let dir: string;
let ours: { path: string; times: number[] };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skyline-ingest-file-'));
  ours = await recordWithSkyLine(dir, 'ours.mp4', { n: N, fps: FPS, width: W, height: H, t0: T0, keyframeInterval: 30 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function source(url: string, extra: Partial<LiveSourceOptions> = {}): LiveSource {
  const s = new LiveSource({ url, filePace: 'fast', logger: captureLogger('warn').logger, ...extra });
  s.on('error', () => undefined);
  return s;
}

async function readAll(s: LiveSource): Promise<SourceFrame[]> {
  const frames: SourceFrame[] = [];
  const done = (async () => {
    for await (const f of s) frames.push(f);
  })();
  await s.start();
  await done;
  return frames;
}

/** Mean of a 4x4 patch at (x, y) of a packed frame, per channel. */
function pixel(f: SourceFrame, x: number, y: number): number[] {
  const bpp = f.data.length / (f.width * f.height);
  const out = new Array(bpp).fill(0);
  for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) for (let c = 0; c < bpp; c++) out[c] += f.data[((y + dy) * f.width + x + dx) * bpp + c]! / 16;
  return out.map(Math.round);
}

test('FileSkyLine recording: every frame in order, pixels right, capture times from the sidecar', async () => {
  const s = source(ours.path);
  const frames = await readAll(s);
  assert.equal(s.state, 'ended');
  assert.deepEqual(frames.map(indexOf), [...Array(N).keys()]);
  for (const f of frames) {
    assert.deepEqual([f.width, f.height, f.format, f.data.length], [W, H, 'BGR', W * H * 3]);
    const i = indexOf(f);
    assert.ok(Math.abs(f.timestamp - ours.times[i]!) < 0.01, `frame ${i}: capture time ${f.timestamp}, put ${ours.times[i]}`);
    assert.equal(f.keyframe, i % 30 === 0, `frame ${i} keyframe flag`);
  }
  // BGR: blue, green, red of the lower half.
  const [b, g, r] = pixel(frames[45]!, W / 2, (H * 3) / 4);
  assert.ok(Math.abs(r! - LOWER[0]) < 12 && Math.abs(g! - LOWER[1]) < 12 && Math.abs(b! - LOWER[2]) < 12, `lower half ${[b, g, r]}`);
  const upper = pixel(frames[45]!, W / 2, H / 3);
  assert.ok(upper.every((v) => Math.abs(v - 128) < 10), `upper half ${upper}`);
  assert.equal(s.stats().framesDropped, 0);
  await s.close();
});

test('HD colours: BT.709 from the stream\'s colorimetry, in BGR and RGBA alike (a BT.601 decode is 10-20 levels off)', async () => {
  const [w, h] = [1280, 720];
  const hd = await recordWithSkyLine(dir, 'hd.mp4', { n: 12, fps: FPS, width: w, height: h, t0: T0, keyframeInterval: 6 });
  for (const format of ['BGR', 'RGBA'] as const) {
    const s = source(hd.path, { format });
    const frames = await readAll(s);
    assert.deepEqual(frames.map(indexOf), [...Array(12).keys()]);
    const f = frames[8]!;
    assert.deepEqual([f.width, f.height, f.format, f.data.length], [w, h, format, w * h * (format === 'BGR' ? 3 : 4)]);
    const p = pixel(f, w / 2, (h * 3) / 4);
    const rgb = format === 'BGR' ? [p[2]!, p[1]!, p[0]!] : p.slice(0, 3);
    assert.ok(rgb.every((v, k) => Math.abs(v - LOWER[k]!) <= 6), `${format}: lower half ${rgb}, put ${LOWER}`);
    if (format === 'RGBA') assert.equal(p[3], 255);
    await s.close();
  }
});

test('past(), screenshot(), probe() and latest() on the buffered recording', async () => {
  const s = source(ours.path);
  await readAll(s);
  const p = s.probe();
  assert.equal(p.codec, 'video/x-h264');
  assert.deepEqual([p.width, p.height], [W, H]);
  assert.ok(Math.abs(p.fps! - FPS) < 0.5, `fps ${p.fps}`);
  assert.ok(Math.abs(p.start! - ours.times[0]!) < 0.01 && Math.abs(p.end! - ours.times[N - 1]!) < 0.01, `window ${p.start}..${p.end}`);
  assert.ok(p.bitrate! > 0 && p.units === N && p.bytes > 0);
  // The window 40..50: decoded from keyframe 30, only 40..50 handed out.
  // (The sidecar keeps microseconds: a millisecond of slack around the put() times.)
  const past = await s.past(ours.times[40]! - 1, ours.times[50]! + 1);
  assert.deepEqual(past.map(indexOf), [40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50]);
  past.forEach((f, k) => assert.ok(Math.abs(f.timestamp - ours.times[40 + k]!) < 0.01));
  // Nearest keyframe: 28 is nearer 30 than 0; 44 is nearer 30 than 60; nothing within 100 ms of 15.
  assert.equal(indexOf((await s.screenshot(ours.times[28]!))!), 30);
  const shot = (await s.screenshot(ours.times[44]!))!;
  assert.equal(indexOf(shot), 30);
  assert.equal(shot.keyframe, true);
  assert.equal(shot.timestamp, ours.times[30]);
  assert.deepEqual(await s.past(T0 - 10_000, T0 - 5_000), []);
  const narrow = source(ours.path, { screenshotWindowMs: 100 });
  await readAll(narrow);
  assert.equal(await narrow.screenshot(ours.times[15]!), null);
  await narrow.close();
  await assert.rejects(s.past(5, 1), RangeError);
  // latest(): the newest frame once, then nothing new.
  const l = await s.latest();
  assert.equal(indexOf(l!), N - 1);
  assert.equal(await s.latest(), null);
  await s.close();
});

test('output formats and sizes are made in GStreamer: RGB, RGBA, GRAY8, I420, scaled', async () => {
  for (const [format, bpp] of [['RGB', 3], ['RGBA', 4], ['GRAY8', 1], ['I420', 1.5]] as const) {
    const s = source(ours.path, { format, width: 160, height: 120 });
    await s.start();
    await waitFor(() => s.state === 'ended', 20_000, 'the whole file buffered');
    const f = (await s.screenshot(ours.times[60]!))!;
    assert.deepEqual([f.format, f.width, f.height, f.data.length], [format, 160, 120, 160 * 120 * bpp], format);
    assert.equal(indexOf(f), 60, `${format} index band`);
    if (format === 'RGB' || format === 'RGBA') {
      const [r, g, b] = pixel(f, 80, 90);
      assert.ok(Math.abs(r! - LOWER[0]) < 12 && Math.abs(g! - LOWER[1]) < 12 && Math.abs(b! - LOWER[2]) < 12, `${format} lower half ${[r, g, b]}`);
    }
    await s.close();
  }
});

test('an MP4 made by ffmpeg (libx264 defaults: B-frames) reads back in presentation order', async () => {
  const path = join(dir, 'ffmpeg.mp4');
  await recordWithFfmpeg(path, { n: 60, fps: FPS, width: W, height: H, gop: 25 });
  const s = source(path);
  const frames = await readAll(s);
  assert.deepEqual(frames.map(indexOf), [...Array(60).keys()]);
  // No sidecar: capture times are arrival-based, spaced by the file's own PTS.
  for (let i = 1; i < frames.length; i++) assert.ok(Math.abs(frames[i]!.timestamp - frames[i - 1]!.timestamp - 1000 / FPS) < 1, `spacing at ${i}`);
  const past = await s.past(frames[30]!.timestamp - 1, frames[34]!.timestamp + 1);
  assert.deepEqual(past.map(indexOf), [30, 31, 32, 33, 34]);
  assert.equal(indexOf((await s.screenshot(frames[24]!.timestamp))!), 25);
  await s.close();
});

test('an MKV made by gst-launch, read at its own pace (the default)', async () => {
  const path = join(dir, 'gst.mkv');
  await recordWithGstLaunch(path, { n: 20, fps: FPS, width: W, height: H, gop: 10 });
  const s = source(path, { filePace: 'realtime', queueFrames: 64 });
  const frames = await readAll(s);
  assert.deepEqual(frames.map(indexOf), [...Array(20).keys()]);
  assert.equal(s.state, 'ended');
  await s.close();
});

test('a file cut mid-frame: the frames before the cut, then a clean end, no hang', async () => {
  const path = join(dir, 'gst-full.mkv');
  await recordWithGstLaunch(path, { n: 60, fps: FPS, width: W, height: H, gop: 10 });
  const cut = join(dir, 'cut.mkv');
  const bytes = readFileSync(path);
  writeFileSync(cut, bytes.subarray(0, Math.floor(statSync(path).size * 0.6)));
  const s = source(cut);
  const frames = await readAll(s);
  const idx = frames.map(indexOf);
  assert.ok(frames.length >= 20 && frames.length < 60, `${frames.length} frames before the cut`);
  assert.deepEqual(idx, [...Array(frames.length).keys()], 'in order from 0, none garbled');
  assert.equal(s.state, 'ended', 'a file that ends early still ends: README, state ended (a file\'s end)');
  await s.close();
});

test('the loop from the README: frames from a LiveSource put() into a SkyLine keep their capture times', async () => {
  const { FileSkyLine, parseSidecar } = await import('../../src/index.js');
  const s = source(ours.path);
  const sky = new FileSkyLine({ path: join(dir, 'relayed.mkv'), logger: captureLogger('warn').logger, statsIntervalMs: 0 });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  const loop = (async () => {
    for await (const f of s) assert.equal(await sky.putAsync(f, { timestamp: f.timestamp }), true);
  })();
  await s.start();
  await loop;
  await sky.stopStreaming();
  const rows = parseSidecar(readFileSync(sky.timestampsPath!, 'utf8'));
  await sky.close();
  await s.close();
  assert.equal(rows.length, N);
  rows.forEach((row, i) => assert.ok(Math.abs(row.captureTimeUs / 1000 - ours.times[i]!) < 0.01, `frame ${i}`));
});
