// The producer side of destinations, on real encoded video (ffmpeg libx264, GOP of 10): the
// history pre-roll starts at, the keyframe each destination starts at, bounded backlogs that
// drop whole GOPs, isolation of a broken destination, rate-limited keyframe requests.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { EncodedHistory, unitBytes } from '../../src/destinations/history.js';
import { Fanout, type FanoutOptions } from '../../src/destinations/fanout.js';
import { DestinationError } from '../../src/destinations/destination.js';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { Redactor } from '../../src/log.js';
import { encodeAccessUnits } from '../support/kvs/h264-source.js';
import { RecordingDestination } from '../support/recording-destination.js';

const FPS = 10;
const GOP = 10;
const ORIGIN = 1_700_000_000_000;
let aus: AccessUnit[] = [];
const video = { width: 160, height: 120, fps: FPS, framerate: '10/1' };

before(async () => {
  aus = await encodeAccessUnits({ frames: 60, width: 160, height: 120, fps: FPS, gop: GOP, originMs: ORIGIN });
  assert.deepEqual(aus.map((a, i) => a.keyframe === (i % GOP === 0)), aus.map(() => true), 'a keyframe every 10 frames');
});

function fanout(over: Partial<FanoutOptions> = {}): { f: Fanout; errors: DestinationError[]; keyframes: number[] } {
  const errors: DestinationError[] = [];
  const keyframes: number[] = [];
  const f = new Fanout({
    history: { ms: 60_000, bytes: 64 * 2 ** 20 },
    backlog: { ms: 60_000, bytes: 64 * 2 ** 20 },
    log: pino({ level: 'silent' }),
    redactor: new Redactor(),
    requestKeyframe: () => keyframes.push(Date.now()),
    keyframeGapMs: 0,
    error: (e) => errors.push(e),
    state: () => undefined,
    ...over,
  });
  return { f, errors, keyframes };
}

test('history: since(t) starts at the newest keyframe captured at or before t', () => {
  const h = new EncodedHistory({ ms: 60_000, bytes: 64 * 2 ** 20 });
  for (const au of aus.slice(3)) h.add(au); // starts mid-GOP: units before the first keyframe are not kept
  assert.equal(h.length, 60 - 10);
  const at = (frame: number) => ORIGIN + (frame * 1000) / FPS;
  const cases: Array<[askedFrame: number, firstFrame: number]> = [
    [59, 50], [50, 50], [49, 40], [25, 20], [10, 10], [0, 10], [-100, 10],
  ];
  for (const [asked, first] of cases) {
    const got = h.since(at(asked));
    assert.equal(got[0], aus[first], `since(frame ${asked}) starts at frame ${first}`);
    assert.equal(got.length, 60 - first);
  }
});

test('history: over its span or bytes it drops whole GOPs from the front, never the newest GOP', () => {
  const bySpan = new EncodedHistory({ ms: 2500, bytes: 64 * 2 ** 20 });
  for (const au of aus) bySpan.add(au);
  // 2.5 s at 10 fps: the last 25 frames would start mid-GOP; it keeps from the keyframe at frame 40.
  assert.equal(bySpan.since(0)[0], aus[40]);
  const gop = aus.slice(50).reduce((n, a) => n + unitBytes(a), 0);
  const byBytes = new EncodedHistory({ ms: 60_000, bytes: 1 });
  for (const au of aus) byBytes.add(au);
  assert.equal(byBytes.since(0)[0], aus[50]);
  assert.equal(byBytes.bytes, gop);
});

test('a destination attached mid-stream starts at the next keyframe; with preRollMs at the keyframe before now - preRollMs', async () => {
  const { f, keyframes } = fanout();
  f.begin();
  await f.start(video);
  for (const au of aus.slice(0, 25)) f.write(au);
  const next = new RecordingDestination('next');
  await f.attach(next);
  assert.equal(keyframes.length, 1, 'attaching asks the encoder for a keyframe');
  // pre-roll is measured against the clock: 0 ms means the keyframe at or before now, frame 20.
  const clip = new RecordingDestination('clip');
  await f.attach(clip, { preRollMs: 0 });
  for (const au of aus.slice(25)) f.write(au);
  assert.equal(next.units[0], aus[30], 'the next keyframe');
  assert.equal(next.units.length, 30);
  assert.equal(clip.units[0], aus[20], 'the keyframe before now');
  assert.equal(clip.units.length, 40);
  await f.end(AbortSignal.timeout(1000));
  assert.equal(next.closes, 1);
  assert.equal(clip.closes, 1);
});

test('a destination that refuses units fills only its own backlog; over budget it loses whole GOPs and resumes at a keyframe', async () => {
  const gopBytes = aus.slice(10, 20).reduce((n, a) => n + unitBytes(a), 0);
  const { f } = fanout({ backlog: { ms: 60_000, bytes: Math.ceil(gopBytes * 2.5) } });
  const slow = new RecordingDestination('slow');
  const fast = new RecordingDestination('fast');
  await f.attach(slow);
  await f.attach(fast);
  f.begin();
  await f.start(video);
  slow.full = true;
  for (const au of aus) f.write(au);
  assert.equal(fast.units.length, 60, 'the other destination got everything');
  const waiting = f.stats().find((s) => s.name === 'slow')!;
  assert.ok(waiting.backlogBytes <= gopBytes * 2.5 * 1.5, `backlog ${waiting.backlogBytes} stays near its budget`);
  slow.unblock();
  assert.ok(slow.units[0]!.keyframe, 'what it gets after the drops starts at a keyframe');
  const dropped = f.stats().find((s) => s.name === 'slow')!.unitsDropped;
  assert.equal(slow.units.length + dropped, 60, 'every unit is either delivered or counted as dropped');
  assert.equal(dropped % GOP, 0, 'drops are whole GOPs');
  assert.ok(dropped > 0);
});

test('a destination whose write() throws is cut off with an error naming it; the others carry on', async () => {
  const { f, errors } = fanout();
  const bad = new RecordingDestination('bad');
  const good = new RecordingDestination('good');
  await f.attach(bad);
  await f.attach(good);
  f.begin();
  await f.start(video);
  bad.broken = true;
  for (const au of aus) f.write(au);
  assert.equal(good.units.length, 60);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.destination, 'bad');
  assert.match(errors[0]!.message, /^bad: write\(\) threw/);
});

test('attach during warmup resolves once the stream opens; a failing open rejects attach and leaves it detached', async () => {
  const { f } = fanout();
  f.begin();
  const early = new RecordingDestination('early');
  let attached = false;
  const p = f.attach(early).then(() => (attached = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(attached, false, 'no video yet');
  await f.start(video);
  await p;
  assert.deepEqual(early.opened, [video]);
  const failing = new RecordingDestination('failing');
  failing.openError = new Error('disk full');
  await assert.rejects(f.attach(failing), (e: Error) => e instanceof DestinationError && /^failing: disk full/.test(e.message));
  assert.equal(f.has(failing), false);
});

test('detach delivers what waited, then closes; the destination can be attached again', async () => {
  const { f } = fanout();
  const d = new RecordingDestination('d');
  f.begin();
  await f.start(video);
  await f.attach(d, { preRollMs: 60_000 });
  d.full = true;
  for (const au of aus.slice(0, 20)) f.write(au);
  const detaching = f.detach(d, AbortSignal.timeout(5000));
  setTimeout(() => d.unblock(), 20);
  await detaching;
  assert.equal(d.units.length, 20, 'the backlog went out before the close');
  assert.equal(d.closes, 1);
  assert.equal(f.has(d), false);
  await f.attach(d);
  assert.equal(f.has(d), true);
});

test('keyframe requests from many destinations reach the encoder at most once per keyframeGapMs', async () => {
  const { f, keyframes } = fanout({ keyframeGapMs: 200 });
  f.begin();
  await f.start(video);
  const ds = Array.from({ length: 5 }, (_, i) => new RecordingDestination(`d${i}`));
  for (const d of ds) await f.attach(d);
  for (const d of ds) d.link!.requestKeyframe();
  assert.equal(keyframes.length, 1, 'one at once');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(keyframes.length, 2, 'the rest coalesced into one after the gap');
  assert.ok(keyframes[1]! - keyframes[0]! >= 200);
  await f.end(AbortSignal.timeout(1000));
});
