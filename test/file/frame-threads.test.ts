// FileSkyLine encodes with x264 frame threads (several frames in flight): every frame still
// reaches the file, in order, with its timestamp, and stopStreaming() flushes the frames
// still inside the encoder's threads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSkyLine } from '../../src/index.js';
import { centreColour, decodeRgb, frameTimes, probeVideo } from '../support/ffprobe.js';
import { level } from '../support/frames.js';
import { captureLogger } from '../support/quiet.js';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'skyline-frame-threads-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

test('FileSkyLine uses frame threads and still records every frame in order', async () => {
  const sky = new FileSkyLine({ path: join(dir, 'ft.mp4'), timestamps: false, logger: captureLogger('warn').logger });
  await sky.startStreaming({ fps: 30, width: 640, height: 360 });
  assert.match(sky.pipelineDescription!, /x264enc [^!]*sliced-threads=false/);
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < 45; i++) assert.equal(await sky.putAsync(level(640, 360, i * 5), { timestamp: t0 + (i * 1000) / 30 }), true);
  await sky.stopStreaming();
  const p = await probeVideo(sky.path!);
  assert.equal(p.frames, 45);
  const times = await frameTimes(sky.path!);
  assert.equal(times.length, 45);
  for (let i = 0; i < 45; i++) assert.ok(Math.abs(times[i]! - i / 30) < 0.002, `frame ${i} at ${times[i]} s`);
  const { frames, width, height } = await decodeRgb(sky.path!);
  for (const i of [0, 1, 2, 3, 22, 44]) {
    const [r] = centreColour(frames[i]!, width, height);
    assert.ok(Math.abs(r - i * 5) < 8, `frame ${i} brightness ${r}, expected ${i * 5}`);
  }
  await sky.close();
});

test('frameThreads: false keeps the sliced (low-latency) encoder for a file too', async () => {
  const sky = new FileSkyLine({ path: join(dir, 'sliced.mp4'), timestamps: false, frameThreads: false, logger: captureLogger('warn').logger });
  await sky.startStreaming({ fps: 30, width: 320, height: 240 });
  assert.doesNotMatch(sky.pipelineDescription!, /sliced-threads/);
  for (let i = 0; i < 10; i++) await sky.putAsync(level(320, 240, 100), { timestamp: 1000 + i * 33 });
  await sky.stopStreaming();
  assert.equal((await probeVideo(sky.path!)).frames, 10);
  await sky.close();
});
