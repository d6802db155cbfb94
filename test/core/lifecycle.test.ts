// The SkyLine lifecycle against real pipelines: states, serialized commands, frames accepted
// while a session opens, what a failed start leaves behind. Issue 9, defects 1, 2, 3, 8, 12.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { FileDestination, FileSkyLine, MultiSkyLine, parseSidecar } from '../../src/index.js';
import { encoderPipelines } from '../support/encoder-pipelines.js';
import { frameTimes, probeVideo } from '../support/ffprobe.js';
import { level } from '../support/frames.js';
import { listeningPorts, openFds } from '../support/proc.js';
import { captureLogger } from '../support/quiet.js';
import { RecordingDestination } from '../support/recording-destination.js';
import { waitFor } from '../support/wait.js';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'skyline-lifecycle-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

function quiet(): { logger: ReturnType<typeof captureLogger>['logger'] } {
  return { logger: captureLogger('warn').logger };
}

/** A gate a test opens when it wants. */
function gate(): { wait: Promise<void>; open(): void; reached: boolean } {
  let open!: () => void;
  const g = { wait: new Promise<void>((r) => (open = r)), open: () => open(), reached: false };
  return g;
}

/** A destination that opens when the test opens the gate: the session stays 'opening' until then. */
function gated(): { destination: RecordingDestination; g: ReturnType<typeof gate> } {
  const g = gate();
  const destination = new RecordingDestination('gated');
  destination.openGate = g.wait;
  const open = destination.open.bind(destination);
  destination.open = (video, link) => {
    g.reached = true;
    return open(video, link);
  };
  return { destination, g };
}

test('defect 1: stopStreaming() and close() called together keep all 60 queued frames, and the MP4 plays', async () => {
  const sky = new FileSkyLine({ path: join(dir, 'sigint.mp4'), ...quiet() });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps: 30, width: 160, height: 120 });
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < 60; i++) assert.equal(sky.put(level(160, 120, i * 4), { timestamp: t0 + (i * 1000) / 30 }), true);
  // What a SIGINT handler often does.
  await Promise.all([sky.stopStreaming(), sky.close()]);
  const p = await probeVideo(sky.path!);
  assert.equal(p.frames, 60);
  assert.equal(sky.stats().framesDropped, 0);
});

test('defect 2: put() while a session opens is accepted, state reads opening, and the frames are recorded', async () => {
  const file = new FileDestination({ path: join(dir, 'opening.mp4') });
  const { destination, g } = gated();
  const sky = new MultiSkyLine({ destinations: [file, destination], ...quiet() });
  sky.on('error', () => undefined);
  const starting = sky.startStreaming({ fps: 10, width: 64, height: 48 });
  await waitFor(() => g.reached, 10_000, 'the destination to be opened');
  for (let i = 0; i < 5; i++) assert.equal(sky.put(level(64, 48, i * 40), { timestamp: 1_700_000_000_000 + i * 100 }), true);
  assert.equal(sky.state, 'opening');
  g.open();
  await starting;
  assert.equal(sky.state, 'streaming');
  await sky.stopStreaming();
  assert.equal((await probeVideo(file.path!)).frames, 5);
  await sky.close();
});

test('defect 3: frames put while a session opens stay within queueBytes + the warmup frames, and do not raise the limit', async () => {
  const frameBytes = 640 * 480 * 3;
  const queueBytes = 8 * 2 ** 20;
  const queueFrames = Math.floor(queueBytes / frameBytes); // 9
  const warmupFrames = 10;
  // The destination opens when the test says so; the encoder takes frames and hands nothing out.
  const { destination, g } = gated();
  const pipelines = encoderPipelines();
  pipelines.stallPlays = true;
  const sky = new MultiSkyLine({ destinations: [destination], ...quiet(), queueBytes, warmupFrames, stopTimeoutMs: 2000, statsIntervalMs: 0 });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps: null, width: null, height: null });
  const frame = level(640, 480, 77);
  let t = 1_700_000_000_000;
  let peak = 0;
  for (let i = 0; i < warmupFrames; i++) sky.put(frame, { timestamp: (t += 33) });
  await waitFor(() => g.reached, 10_000, 'the session to open after warmup');
  for (let i = 0; i < 200; i++) {
    assert.equal(sky.put(frame, { timestamp: (t += 33) }), true);
    peak = Math.max(peak, sky.stats().queued);
  }
  assert.ok(peak <= warmupFrames + queueFrames, `${peak} frames held while opening, budget ${warmupFrames} warmup + ${queueFrames} queue`);
  g.open();
  await waitFor(() => sky.state === 'streaming', 10_000, 'streaming');
  for (let i = 0; i < 100; i++) {
    sky.put(frame, { timestamp: (t += 33) });
    await tick();
    peak = Math.max(peak, sky.stats().queued);
  }
  assert.ok(peak <= warmupFrames + queueFrames, `${peak} frames held while streaming into a stalled pipeline`);
  assert.ok(sky.stats().framesDropped > 0, 'the queue dropped the oldest frames');
  await sky.close();
  pipelines.restore();
});

test('defect 8: failed starts leave no descriptor, sidecar or listener behind', async () => {
  // The destination opened (sidecar file and all), then the encoder pipeline cannot start.
  const pipelines = encoderPipelines();
  pipelines.failPlays = true;
  const sky = new FileSkyLine({ path: join(dir, 'bad-config.mp4'), ...quiet() });
  sky.on('error', () => undefined);
  try {
    await assert.rejects(sky.startStreaming({ fps: 10, width: 64, height: 48 }));
    await sky.stopStreaming(); // the first pipeline and GStreamer's own descriptors exist from now on
    const fds = openFds();
    for (let i = 0; i < 5; i++) await assert.rejects(sky.startStreaming({ fps: 10, width: 64, height: 48 }));
    assert.equal(openFds(), fds, 'descriptors held after 5 failed starts');
    await sky.close();
  } finally {
    pipelines.restore();
  }

  // A destination whose opening fails: the session's tap and listener go with it.
  const refusing = new RecordingDestination('refusing');
  refusing.openError = new Error('destination refused');
  const ports = listeningPorts();
  const tap = new MultiSkyLine({ destinations: [refusing], ...quiet() });
  tap.on('error', () => undefined);
  for (let i = 0; i < 3; i++) await assert.rejects(tap.startStreaming({ fps: 10, width: 64, height: 48 }), /destination refused/);
  assert.deepEqual(listeningPorts(), ports, 'listening sockets after 3 failed starts');
  assert.equal(tap.listenerCount('error'), 1);
  await tap.close();
});

test('defect 12: timestamps "frame-rate" gives PTS n/fps for putAsync() in a tight loop; the sidecar keeps capture times', async () => {
  const before = Date.now();
  const sky = new FileSkyLine({ path: join(dir, 'offline.mp4'), timestamps: 'frame-rate', ...quiet() });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps: 30, width: 160, height: 120 });
  for (let i = 0; i < 90; i++) assert.equal(await sky.putAsync(level(160, 120, i * 2)), true);
  await sky.stopStreaming();
  const after = Date.now();
  const p = await probeVideo(sky.path!);
  assert.equal(p.frames, 90);
  assert.ok(Math.abs(p.duration - 3) < 0.06, `duration ${p.duration} s`);
  const times = await frameTimes(sky.path!);
  times.forEach((s, i) => assert.ok(Math.abs(s - times[0]! - i / 30) < 0.0015, `frame ${i} at ${s - times[0]!}`));
  const rows = parseSidecar(readFileSync(`${sky.path}.timestamps.csv`, 'utf8'));
  assert.equal(rows.length, 90);
  rows.forEach((r, i) => {
    assert.ok(r.captureTimeUs >= before * 1000 && r.captureTimeUs <= after * 1000, `row ${i}: capture time ${r.captureTimeUs}`);
    assert.equal(r.ptsUs, Math.round((i * 1e6) / 30));
  });
  await sky.close();
});

test('states: opening, streaming, stopping, stopped, closed; a second stop is the stop in progress; restart = stop + start', async () => {
  const sky = new FileSkyLine({ path: join(dir, 'states.mp4'), ...quiet() });
  const states: string[] = [];
  sky.on('state', (s) => states.push(s));
  sky.on('error', () => undefined);
  const frame = level(64, 48, 50);
  assert.equal(sky.put(frame), false, 'stopped');
  await sky.startStreaming({ fps: 10, width: 64, height: 48 });
  assert.deepEqual(states, ['opening', 'streaming']);
  let t = 1_700_000_000_000;
  for (let i = 0; i < 10; i++) assert.equal(sky.put(frame, { timestamp: (t += 100) }), true);
  const a = sky.stopStreaming();
  const b = sky.stopStreaming();
  assert.equal(sky.put(frame), false, 'no frame is taken once stopping was asked for');
  await Promise.all([a, b]);
  assert.deepEqual(states, ['opening', 'streaming', 'stopping', 'stopped']);
  assert.equal((await probeVideo(sky.path!)).frames, 10);

  await sky.startStreaming();
  for (let i = 0; i < 5; i++) sky.put(frame, { timestamp: (t += 100) });
  const first = sky.path!;
  await sky.startStreaming(); // restart: the first session is stopped (and flushed) first
  assert.deepEqual(states.slice(4), ['opening', 'streaming', 'stopping', 'stopped', 'opening', 'streaming']);
  assert.equal((await probeVideo(first)).frames, 5);
  await sky.close();
  assert.equal(sky.state, 'closed');
  assert.equal(sky.put(frame), false);
  await assert.rejects(sky.startStreaming(), /closed/);
  await sky.close(); // twice is fine
});

test('the transition table: allowed moves pass, others throw as bugs; commands run one at a time', async () => {
  const { Lifecycle, CommandChain, TRANSITIONS } = await import('../../src/lifecycle.js');
  const seen: string[] = [];
  const lc = new Lifecycle((next, prev) => seen.push(`${prev}>${next}`));
  for (const s of ['opening', 'streaming', 'reconnecting', 'streaming', 'stopping', 'stopped', 'warmup', 'error', 'stopping', 'stopped', 'closed'] as const) lc.to(s);
  assert.equal(seen.length, 11);
  assert.throws(() => lc.to('streaming'), /no transition from 'closed' to 'streaming'/);
  const fresh = new Lifecycle(() => undefined);
  assert.throws(() => fresh.to('streaming'), /bug/);
  assert.deepEqual(TRANSITIONS.stopping, ['stopped']);
  const chain = new CommandChain();
  const order: string[] = [];
  const slow = chain.run(async () => { await new Promise((r) => setTimeout(r, 30)); order.push('a'); });
  const failing = chain.run(async () => { order.push('b'); throw new Error('b failed'); });
  const fast = chain.run(async () => { order.push('c'); });
  await slow;
  await assert.rejects(failing, /b failed/);
  await fast;
  assert.deepEqual(order, ['a', 'b', 'c']);
  assert.equal(chain.busy, false);
});
