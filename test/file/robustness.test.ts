// What happens when things go wrong: the process is killed, the pipeline stalls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { FileSkyLine, MultiSkyLine, parseSidecar } from '../../src/index.js';
import { encoderPipelines } from '../support/encoder-pipelines.js';
import { decodeRgb, frameTimes, probeVideo } from '../support/ffprobe.js';
import { indexed, indexOf, level } from '../support/frames.js';
import { captureLogger } from '../support/quiet.js';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'skyline-robust-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

// The README promises a killed recording plays up to about its last second: fragments of
// fragmentMs (1 s) for MP4, clusters for MKV. Frames still inside the encoder at the kill are
// lost too; x264 (zerolatency) holds none, the queue and appsrc at most a few.
const FPS = 30;
const MAX_LOST_S = 1.5;

for (const container of ['mp4', 'mkv'] as const) {
  test(`SIGKILL during a ${container} recording loses at most about 1 s; every surviving frame and sidecar row checked`, async (t) => {
    const path = join(dir, `killed.${container}`);
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../support/record-child.ts'), path, container], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SKYLINE_LOG_LEVEL: 'error' },
    });
    // Let it record about 3 seconds, then kill it without warning.
    let put = 0;
    await new Promise<void>((resolve, reject) => {
      const limit = setTimeout(() => reject(new Error('child did not record 90 frames within 30 s')), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        for (const m of d.toString().matchAll(/frames (\d+)/g)) put = Math.max(put, Number(m[1]));
        if (put >= 90) { clearTimeout(limit); resolve(); }
      });
      child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    child.removeAllListeners('exit');
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    // At least `put` frames were put before the kill (more may have been, unseen yet).
    const p = await probeVideo(path);
    t.diagnostic(`${put} frames put (at least), ${p.frames} survived`);
    assert.deepEqual([p.width, p.height], [320, 240]);
    assert.ok(put - p.frames <= MAX_LOST_S * FPS, `${put} frames put, ${p.frames} survived: more than ${MAX_LOST_S} s lost`);
    const { frames, width, height } = await decodeRgb(path);
    assert.equal(frames.length, p.frames, 'every surviving frame decodes');
    // The surviving frames are the first ones put, in order, none missing.
    frames.forEach((rgb, k) => assert.equal(indexOf({ data: rgb, width, height, format: 'RGB' }), k, `decoded frame ${k}`));
    // The sidecar covers every surviving frame (rows are written before a frame reaches the encoder),
    // and every row's pts is that frame's time in the video and its capture time minus the first's.
    const rows = parseSidecar(readFileSync(`${path}.timestamps.csv`, 'utf8'));
    assert.ok(rows.length >= p.frames, `sidecar has ${rows.length} rows for ${p.frames} frames`);
    const times = await frameTimes(path);
    assert.equal(times.length, p.frames);
    for (let k = 0; k < p.frames; k++) {
      const r = rows[k]!;
      assert.equal(r.frame, k);
      assert.ok(Math.abs(r.ptsUs / 1e6 - (times[k]! - times[0]!)) < 0.002, `row ${k}: pts ${r.ptsUs} us, video ${times[k]! - times[0]!} s`);
      // PTS = capture time - first capture time, nudged at most 1 ms forward when time stood still.
      const fromCapture = r.captureTimeUs - rows[0]!.captureTimeUs;
      assert.ok(r.ptsUs >= fromCapture && r.ptsUs - fromCapture <= 1000 * (k + 1), `row ${k}: pts ${r.ptsUs} vs capture delta ${fromCapture}`);
    }
  });
}

test('a stalled pipeline keeps memory bounded and counts drops; put() keeps returning', async () => {
  // The encoder takes frames and hands nothing out: it falls ever further behind put().
  const pipelines = encoderPipelines();
  pipelines.stallPlays = true;
  const sky = new MultiSkyLine({ logger: captureLogger('error').logger, queueBytes: 8 * 2 ** 20, stopTimeoutMs: 3000 });
  await sky.startStreaming({ fps: 30, width: 640, height: 480 });
  pipelines.restore();
  const frame = level(640, 480, 77);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  for (let i = 0; i < 300; i++) {
    assert.equal(sky.put(frame), true); // drop-oldest: the newest frame is always taken
    await tick();
    if (i % 20 === 0) peak = Math.max(peak, process.memoryUsage().rss);
  }
  const s = sky.stats();
  assert.equal(s.framesAccepted, 300);
  assert.ok(s.framesDropped > 200, `dropped ${s.framesDropped}`);
  assert.ok(s.queued <= 10, `queue holds ${s.queued} frames`);
  // 300 frames of 640x480 BGR would be 276 MB if nothing were dropped.
  assert.ok(peak - rss0 < 80 * 2 ** 20, `RSS grew by ${((peak - rss0) / 2 ** 20).toFixed(1)} MB`);
  await sky.stopStreaming();
  assert.equal(sky.state, 'stopped');
  await sky.close();
});

test('putAsync never drops: a slow pipeline slows the producer instead', async () => {
  // The smallest queue: each putAsync() waits for the encoder to take the frame before it.
  const sky = new MultiSkyLine({ logger: captureLogger('error').logger, queueBytes: 1 });
  await sky.startStreaming({ fps: 30, width: 320, height: 240 });
  for (let i = 0; i < 60; i++) assert.equal(await sky.putAsync(level(320, 240, i)), true);
  await sky.stopStreaming();
  const s = sky.stats();
  assert.equal(s.framesDropped, 0);
  assert.equal(s.framesEncoded, 60);
  await sky.close();
});

test('recording in real time: duration matches the wall time between first and last put', async () => {
  const sky = new FileSkyLine({ path: join(dir, 'wall.mp4'), logger: captureLogger('error').logger });
  await sky.startStreaming({ fps: 25, width: 160, height: 120 });
  const first = Date.now();
  let last = first;
  await new Promise<void>((resolve) => {
    let i = 0;
    const t = setInterval(() => {
      last = Date.now();
      sky.put(level(160, 120, i++));
      if (i === 50) { clearInterval(t); resolve(); }
    }, 40);
  });
  await sky.stopStreaming();
  const times = await frameTimes(sky.path!);
  assert.equal(times.length, 50);
  const span = times[49]! - times[0]!;
  const wall = (last - first) / 1000;
  assert.ok(Math.abs(span - wall) <= wall * 0.02 + 0.002, `video spans ${span} s, wall ${wall} s`);
  await sky.close();
});
