// FileSkyLine against real GStreamer: every recording is decoded back with ffprobe/ffmpeg.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSkyLine, USE_LAST_VALUE, parseSidecar, type FileSkyLineOptions } from '../../src/index.js';
import { centreColour, decodeRgb, elementaryStreamRate, frameTimes, probeVideo } from '../support/ffprobe.js';
import { level, solid, type Rgb } from '../support/frames.js';
import { captureLogger } from '../support/quiet.js';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'skyline-file-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

function recorder(name: string, extra: Partial<FileSkyLineOptions> = {}): FileSkyLine {
  const sky = new FileSkyLine({ path: join(dir, name), logger: captureLogger('warn').logger, ...extra });
  sky.on('error', () => undefined);
  return sky;
}

/** Puts `n` frames with capture times `1000/fps` ms apart, waiting for room (no drops). */
async function feed(sky: FileSkyLine, n: number, fps: number, make: (i: number) => Parameters<FileSkyLine['put']>[0], t0 = 1_700_000_000_000) {
  for (let i = 0; i < n; i++) {
    assert.equal(await sky.putAsync(make(i), { timestamp: t0 + (i * 1000) / fps }), true, `frame ${i} accepted`);
  }
}

test('a 3-second 640x360@30 recording decodes to exactly the frames put', async () => {
  const sky = recorder('three.mp4');
  await sky.startStreaming({ fps: 30, width: 640, height: 360 });
  assert.equal(sky.state, 'streaming');
  await feed(sky, 90, 30, (i) => level(640, 360, (i * 2) % 256));
  await sky.stopStreaming();
  assert.equal(sky.state, 'stopped');
  const p = await probeVideo(sky.path!);
  assert.equal(p.codec, 'h264');
  assert.equal(p.frames, 90);
  assert.deepEqual([p.width, p.height], [640, 360]);
  assert.ok(Math.abs(p.duration - 3) < 0.06, `duration ${p.duration}`);
  // Frame order and content: brightness climbs 2 levels per frame.
  const { frames, width, height } = await decodeRgb(sky.path!);
  assert.equal(frames.length, 90);
  for (const i of [0, 30, 60, 89]) {
    const [r] = centreColour(frames[i]!, width, height);
    assert.ok(Math.abs(r - i * 2) < 8, `frame ${i} brightness ${r}, expected ${i * 2}`);
  }
  const s = sky.stats();
  assert.equal(s.framesAccepted, 90);
  assert.equal(s.framesDropped, 0);
  assert.equal(s.framesEncoded, 90);
  assert.equal(s.bytesOut, statSync(sky.path!).size, 'bytesOut: the size of the file written');
  await sky.close();
});

test('putAsync() waits once two frames are queued, long before the queue is full, and still drops none', async () => {
  const sky = recorder('shallow.mp4');
  await sky.startStreaming({ fps: 30, width: 320, height: 240 });
  // All calls are made before the drain can run (it is scheduled with setImmediate): the
  // first two are accepted at once, the rest wait for the drain although the queue (64 MB,
  // hundreds of such frames) has room. Frames queued deeper only go cold before conversion.
  const t0 = 1_700_000_000_000;
  const pending = Array.from({ length: 20 }, (_, i) => sky.putAsync(level(320, 240, i * 10), { timestamp: t0 + (i * 1000) / 30 }));
  const queued = sky.stats().queued;
  const accepted = await Promise.all(pending);
  await sky.stopStreaming();
  assert.equal(queued, 2, 'frames queued while the rest wait');
  assert.deepEqual(accepted, Array(20).fill(true));
  assert.equal(sky.stats().framesDropped, 0);
  assert.equal((await probeVideo(sky.path!)).frames, 20);
});

test('putAsync() converts each frame as it takes it, put() in the drain: mixed, every frame keeps its own colour and place', async () => {
  const sky = recorder('mixed-colours.mp4');
  const [w, h] = [320, 240];
  await sky.startStreaming({ fps: 30, width: w, height: h });
  const colours: Rgb[] = [[220, 30, 30], [30, 200, 40], [40, 50, 210], [230, 220, 40], [30, 200, 210], [200, 40, 190]];
  const t0 = 1_700_000_000_000;
  const n = 36;
  for (let i = 0; i < n; i++) {
    const frame = solid(w, h, colours[i % colours.length]!, i % 4 === 3 ? 'RGBA' : 'BGR');
    const opts = { timestamp: t0 + (i * 1000) / 30 };
    // Runs of putAsync() (converted at once, into the converter's slots) and put() (copied, converted later).
    if (Math.floor(i / 3) % 2 === 0) assert.equal(await sky.putAsync(frame, opts), true);
    else assert.equal(sky.put(frame, opts), true);
  }
  await sky.stopStreaming();
  assert.equal(sky.stats().framesDropped, 0);
  const { frames, width, height } = await decodeRgb(sky.path!);
  assert.equal(frames.length, n);
  for (let i = 0; i < n; i++) {
    const got = centreColour(frames[i]!, width, height);
    const want = colours[i % colours.length]!;
    assert.ok(got.every((v, k) => Math.abs(v - want[k]!) <= 12), `frame ${i}: ${got.join(',')}, expected ${want.join(',')}`);
  }
  await sky.close();
});

test('a loop awaiting putAsync() still lets the event loop run (sockets, timers) between frames', async () => {
  const sky = recorder('yields.mp4');
  await sky.startStreaming({ fps: 30, width: 320, height: 240 });
  // Counts event-loop turns while the loop runs: putAsync() pushes a frame within the call when
  // appsrc has room, and without its own wait for a turn of the loop it would starve sockets
  // and timers until appsrc filled (this count then stays near 0).
  let turns = 0;
  let ticking = true;
  const tick = (): void => { turns++; if (ticking) setImmediate(tick); };
  setImmediate(tick);
  const n = 60;
  for (let i = 0; i < n; i++) assert.equal(await sky.putAsync(solid(320, 240, [(i * 4) % 256, 80, 160]), { timestamp: 1_700_000_000_000 + i * 33 }), true);
  ticking = false;
  await sky.stopStreaming();
  assert.ok(turns >= n / 3, `event-loop turns during ${n} putAsync() calls: ${turns}`);
  assert.equal((await probeVideo(sky.path!)).frames, n);
  await sky.close();
});

test('irregular put() intervals play back at real speed (PTS from capture times)', async () => {
  const sky = recorder('irregular.mkv');
  await sky.startStreaming({ fps: 25, width: 160, height: 120 });
  // Gaps of 20, 40 and 80 ms in turn: 60 frames over 2.8 s of capture time.
  const gaps = [20, 40, 80];
  let t = 1_700_000_000_000;
  const expected: number[] = [];
  for (let i = 0; i < 60; i++) {
    expected.push(t);
    assert.equal(await sky.putAsync(level(160, 120, i * 4), { timestamp: t }), true);
    t += gaps[i % 3]!;
  }
  await sky.stopStreaming();
  assert.equal(sky.container, 'mkv');
  const times = await frameTimes(sky.path!);
  assert.equal(times.length, 60);
  for (let i = 0; i < 60; i++) {
    const want = (expected[i]! - expected[0]!) / 1000;
    assert.ok(Math.abs(times[i]! - times[0]! - want) < 0.0015, `frame ${i} at ${times[i]! - times[0]!}, expected ${want}`);
  }
  await sky.close();
});

for (const fps of [15, 30]) {
  test(`warmup measures ${fps} fps and keeps the warmup frames`, async () => {
    const sky = recorder(`warmup-${fps}.mp4`, { warmupFrames: 100 });
    await sky.startStreaming(); // nothing known: measure everything
    assert.equal(sky.state, 'warmup');
    await feed(sky, 130, fps, (i) => level(320, 240, i % 200));
    await sky.stopStreaming();
    assert.equal(sky.videoFps, fps, 'capture times exactly 1/fps apart');
    assert.deepEqual([sky.videoWidth, sky.videoHeight], [320, 240]);
    const p = await probeVideo(sky.path!);
    assert.equal(p.frames, 130, 'the 100 warmup frames are in the video too');
    assert.equal(p.rateFraction, `${fps}/1`);
    assert.ok(Math.abs(p.duration - 130 / fps) < 0.1, `duration ${p.duration}`);
    await sky.close();
  });
}

test('a full warmup memory budget ends warmup early instead of dropping frames', async () => {
  const frameBytes = 320 * 240 * 3;
  const sky = recorder('budget.mp4', { warmupFrames: 100, warmupMemoryBytes: frameBytes * 10 });
  await sky.startStreaming();
  await feed(sky, 40, 20, (i) => level(320, 240, i * 5));
  await sky.stopStreaming();
  assert.equal(sky.videoFps, 20, 'capture times 50 ms apart');
  assert.equal(sky.stats().framesDropped, 0);
  assert.equal((await probeVideo(sky.path!)).frames, 40);
  await sky.close();
});

test('USE_LAST_VALUE restart skips warmup and keeps the values; a new session gets its own file', async () => {
  const sky = recorder('restart.mp4', { warmupFrames: 10 });
  await sky.startStreaming({ fps: null, width: null, height: null });
  await feed(sky, 20, 20, () => solid(200, 100, [0, 0, 255]));
  await sky.stopStreaming();
  const first = sky.path!;
  assert.equal(sky.videoFps, 20, 'capture times 50 ms apart');
  await sky.startStreaming({ fps: USE_LAST_VALUE, width: USE_LAST_VALUE, height: USE_LAST_VALUE });
  assert.equal(sky.state, 'streaming', 'no warmup the second time');
  await feed(sky, 10, 20, () => solid(200, 100, [0, 255, 0]));
  await sky.stopStreaming();
  assert.notEqual(sky.path, first);
  assert.match(sky.path!, /restart-2\.mp4$/);
  const [a, b] = await Promise.all([probeVideo(first), probeVideo(sky.path!)]);
  assert.equal(a.frames, 20);
  assert.equal(b.frames, 10);
  assert.deepEqual([b.width, b.height, Math.round(b.rate)], [200, 100, 20]);
  await sky.close();
});

test('a frame of another size is scaled to the session size inside GStreamer', async () => {
  const sky = recorder('scaled.mp4');
  await sky.startStreaming({ fps: 10, width: 320, height: 240 });
  await feed(sky, 5, 10, () => solid(320, 240, [255, 0, 0]));
  await feed(sky, 5, 10, () => solid(640, 480, [0, 0, 255]), 1_700_000_000_500);
  await feed(sky, 5, 10, () => solid(161, 121, [0, 255, 0]), 1_700_000_001_000);
  await sky.stopStreaming();
  const { frames, width, height } = await decodeRgb(sky.path!);
  assert.deepEqual([frames.length, width, height], [15, 320, 240]);
  const want: Rgb[] = [[255, 0, 0], [0, 0, 255], [0, 255, 0]];
  for (let k = 0; k < 3; k++) {
    const c = centreColour(frames[k * 5 + 2]!, width, height);
    assert.ok(c.every((v, i) => Math.abs(v - want[k]![i]!) < 20), `segment ${k}: ${c} vs ${want[k]}`);
  }
  await sky.close();
});

for (const [format, rgb] of [['BGR', [200, 40, 90]], ['RGB', [200, 40, 90]], ['RGBA', [30, 160, 220]], ['BGRA', [30, 160, 220]], ['GRAY8', [128, 128, 128]]] as const) {
  test(`${format} input comes out with the right colours`, async () => {
    const sky = recorder(`colour-${format}.mp4`);
    await sky.startStreaming({ fps: 10, width: 160, height: 120 });
    await feed(sky, 5, 10, () => solid(160, 120, [...rgb] as Rgb, format));
    await sky.stopStreaming();
    const { frames, width, height } = await decodeRgb(sky.path!);
    assert.equal(frames.length, 5);
    const c = centreColour(frames[4]!, width, height);
    const want = format === 'GRAY8' ? [128, 128, 128] : rgb;
    assert.ok(c.every((v, i) => Math.abs(v - want[i]!) < 12), `${format}: decoded ${c.map(Math.round)}, expected ${want}`);
    await sky.close();
  });
}

test('I420 and NV12 input, OpenCV Mat and ImageData shapes are accepted', async () => {
  const sky = recorder('yuv.mp4');
  await sky.startStreaming({ fps: 10, width: 64, height: 48 });
  const w = 64, h = 48;
  // Mid grey in YUV: Y=128, U=V=128.
  const i420 = Buffer.alloc(w * h * 1.5, 128);
  const nv12 = Buffer.alloc(w * h * 1.5, 128);
  const t0 = 1_700_000_000_000;
  assert.equal(await sky.putAsync({ data: i420, width: w, height: h, format: 'I420' }, { timestamp: t0 }), true);
  assert.equal(await sky.putAsync({ data: nv12, width: w, height: h, format: 'NV12' }, { timestamp: t0 + 100 }), true);
  const mat = { rows: h, cols: w, channels: 3, getData: () => Buffer.alloc(w * h * 3, 128) };
  assert.equal(await sky.putAsync(mat, { timestamp: t0 + 200 }), true);
  const imageData = { data: new Uint8ClampedArray(w * h * 4).fill(128), width: w, height: h };
  assert.equal(await sky.putAsync(imageData, { timestamp: t0 + 300 }), true);
  await sky.stopStreaming();
  const { frames, width, height } = await decodeRgb(sky.path!);
  assert.equal(frames.length, 4);
  for (const f of frames) {
    const c = centreColour(f, width, height);
    assert.ok(c.every((v) => Math.abs(v - 128) < 12), `grey expected, got ${c}`);
  }
  await sky.close();
});

test('fractional fps gives valid caps and a 29.97 fps stream', async () => {
  const sky = recorder('ntsc.mp4');
  await sky.startStreaming({ fps: 29.97, width: 160, height: 120 });
  await feed(sky, 30, 29.97, (i) => level(160, 120, i));
  await sky.stopStreaming();
  const p = await probeVideo(sky.path!);
  assert.equal(p.frames, 30);
  assert.ok(Math.abs(p.rate - 29.97) < 0.01, `rate ${p.rate}`);
  await sky.close();
});

test('fps measured at 29.97 (a camera\'s whole-millisecond capture times) stays fractional: the file is 30000/1001, as ffprobe reads it', async () => {
  // The backpack bug the README contrasts with: a measured 29.97 rounded to 30 makes a file that
  // runs 0.1 % fast. Default warmup (100 frames), capture times rounded to the millisecond.
  const sky = recorder('measured-ntsc.mp4');
  await sky.startStreaming({ fps: null, width: 160, height: 120 });
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < 150; i++) assert.equal(await sky.putAsync(level(160, 120, i), { timestamp: t0 + Math.round((i * 1001) / 30) }), true);
  await sky.stopStreaming();
  // 99 intervals over 3303 ms: 29.973, within 0.01 % of 30000/1001.
  assert.equal(sky.videoFps, 29.973);
  const p = await probeVideo(sky.path!);
  assert.equal(p.frames, 150);
  assert.equal(p.rateFraction, '30000/1001', 'the container: timestamps');
  assert.equal(await elementaryStreamRate(sky.path!, join(dir, 'measured-ntsc.h264')), '30000/1001', 'the H.264 stream: the rate the encoder was given');
  assert.match(sky.pipelineDescription!, /framerate=30000\/1001/);
  await sky.close();
});

test('a wrong data length throws, naming expected and actual; nothing is queued', async () => {
  const sky = recorder('bad.mp4');
  await sky.startStreaming({ fps: 10, width: 64, height: 48 });
  assert.throws(() => sky.put({ data: Buffer.alloc(10), width: 64, height: 48 }), (e: Error) =>
    e instanceof RangeError && e.message.includes('10 bytes') && e.message.includes('expected 9216') && e.message.includes('64x48 BGR'));
  assert.throws(() => sky.put('not a frame' as never), TypeError);
  assert.throws(() => sky.put(level(64, 48, 1), { timestamp: Number.NaN }), /timestamp must be/);
  assert.equal(sky.stats().framesAccepted, 0);
  assert.equal(sky.put(level(64, 48, 1)), true, 'a good frame still goes through');
  await sky.stopStreaming();
  assert.equal((await probeVideo(sky.path!)).frames, 1);
  await sky.close();
});

test('put() before start returns false and does not throw', async () => {
  const sky = recorder('never.mp4');
  assert.equal(sky.put(level(64, 48, 1)), false);
  assert.equal(await sky.putAsync(level(64, 48, 1)), false);
  assert.equal(sky.state, 'stopped');
  await sky.close();
  assert.equal(existsSync(join(dir, 'never.mp4')), false);
});

test('an unwritable path gives a clear error and state error, and the process lives on', async () => {
  // A missing directory is created now (test/file/directories.test.ts); a parent that is a file cannot be.
  writeFileSync(join(dir, 'not-a-dir'), 'x');
  const sky = recorder('not-a-dir/x.mp4');
  await assert.rejects(sky.startStreaming({ fps: 10, width: 64, height: 48 }), /cannot record to .*not-a-dir\/x\.mp4: its directory .*not-a-dir cannot be created/);
  assert.equal(sky.state, 'error');
  assert.equal(sky.put(level(64, 48, 1)), false);
  await sky.stopStreaming();
  assert.equal(sky.state, 'stopped');
  await sky.close();
});

test('the timestamps sidecar has one row per frame with its capture time', async () => {
  const sky = recorder('sidecar.mp4');
  await sky.startStreaming({ fps: 30, width: 160, height: 120 });
  const t0 = 1_700_000_123_456.789;
  await feed(sky, 45, 30, (i) => level(160, 120, i), t0);
  await sky.stopStreaming();
  const rows = parseSidecar(readFileSync(sky.timestampsPath!, 'utf8'));
  assert.equal(rows.length, 45);
  const times = await frameTimes(sky.path!);
  assert.equal(times.length, rows.length);
  rows.forEach((r, i) => {
    assert.equal(r.frame, i);
    assert.equal(r.captureTimeUs, Math.round((t0 + (i * 1000) / 30) * 1000));
    assert.ok(Math.abs(r.ptsUs / 1e6 - (times[i]! - times[0]!)) < 0.0015, `row ${i} pts ${r.ptsUs} vs video ${times[i]}`);
  });
  await sky.close();
});

test('pipelineDescription shows the encoder pipeline the session ran', async () => {
  const sky = recorder('described.mp4');
  assert.equal(sky.pipelineDescription, undefined);
  await sky.startStreaming({ fps: 10, width: 64, height: 48 });
  await feed(sky, 3, 10, () => level(64, 48, 9));
  await sky.stopStreaming();
  const d = sky.pipelineDescription!;
  // The encoder ends in the tap back into Node; the file has a muxer pipeline of its own.
  assert.match(d, /^appsrc name=src .* ! x264enc .* ! h264parse .* ! rtph264pay .* ! tcpclientsink name=tapclient/);
  await sky.close();
});
