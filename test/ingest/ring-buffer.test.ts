// The encoded ring buffer: bounded by time and bytes, always starting at a keyframe, and its
// keyframe index answering the same as a brute-force search over what it holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EncodedRing, type EncodedUnit } from '../../src/ingest/ring-buffer.js';

const unitArb = fc.record({ size: fc.integer({ min: 1, max: 5000 }), gapMs: fc.integer({ min: 0, max: 200 }), keyframe: fc.boolean() });

function fill(ring: EncodedRing, units: Array<{ size: number; gapMs: number; keyframe: boolean }>, t0 = 1_700_000_000_000): EncodedUnit[] {
  let t = t0;
  const stored: EncodedUnit[] = [];
  for (const u of units) {
    t += u.gapMs;
    const s = ring.push(Buffer.alloc(u.size), (t - t0) * 1e6, t, u.keyframe);
    if (s) stored.push(s);
  }
  return stored;
}

function held(ring: EncodedRing): EncodedUnit[] {
  return ring.oldest ? ring.range(ring.oldest.seq) : [];
}

test('a 30 fps stream, keyframe every 30: keeps whole groups within the time limit', () => {
  const ring = new EncodedRing({ maxMs: 10_000, maxBytes: 1 << 30 });
  for (let i = 0; i < 30 * 60; i++) ring.push(Buffer.alloc(1000), i * 33_333_333, 1e12 + i * 33.333, i % 30 === 0);
  assert.equal(ring.oldest!.keyframe, true);
  const span = ring.newest!.timestampMs - ring.oldest!.timestampMs;
  assert.ok(span <= 10_000 && span >= 9_000, `span ${span}`);
  assert.equal(ring.bytes, ring.length * 1000);
  assert.equal(ring.newest!.seq, 30 * 60 - 1);
  // The keyframe at or before a time, and the nearest one.
  const at = 1e12 + 1500 * 33.333 + 5;
  assert.equal(ring.keyframeAtOrBefore(at)!.seq, 1500);
  assert.equal(ring.keyframeNearest(1e12 + 1528 * 33.333, 5000)!.seq, 1530);
  assert.equal(ring.keyframeNearest(1e12 + 1528 * 33.333, 10), undefined);
  assert.deepEqual(ring.range(1500, 1e12 + 1502 * 33.333 + 1).map((u) => u.seq), [1500, 1501, 1502]);
});

test('units before the first keyframe are not kept (they cannot be decoded)', () => {
  const ring = new EncodedRing({ maxMs: 1000, maxBytes: 1000 });
  assert.equal(ring.push(Buffer.alloc(1), 0, 0, false), undefined);
  assert.equal(ring.skipped, 1);
  assert.equal(ring.push(Buffer.alloc(1), 1, 1, true)!.seq, 0);
});

test('property: the buffer starts at a keyframe, stays within its limits (beyond one group), and the index agrees with a brute-force search', () => {
  fc.assert(
    fc.property(fc.array(unitArb, { maxLength: 400 }), fc.integer({ min: 100, max: 5000 }), fc.integer({ min: 5000, max: 100_000 }), fc.integer({ min: -500, max: 40_000 }), (units, maxMs, maxBytes, probeOffset) => {
      const ring = new EncodedRing({ maxMs, maxBytes });
      const all = fill(ring, units);
      const h = held(ring);
      if (all.length === 0) {
        assert.equal(ring.length, 0);
        return;
      }
      assert.equal(h.length, ring.length);
      assert.ok(h[0]!.keyframe, 'starts at a keyframe');
      assert.equal(h.at(-1), all.at(-1), 'the newest unit is always kept');
      assert.equal(ring.bytes, h.reduce((n, u) => n + u.data.length, 0));
      // Seqs are contiguous from the oldest held.
      h.forEach((u, i) => assert.equal(u.seq, h[0]!.seq + i));
      const keys = h.filter((u) => u.keyframe);
      if (keys.length > 1) {
        // More than one group held: the limits hold.
        assert.ok(h.at(-1)!.timestampMs - h[0]!.timestampMs <= maxMs, 'time limit');
        assert.ok(ring.bytes <= maxBytes, 'byte limit');
      }
      const t = h[0]!.timestampMs + probeOffset;
      const before = keys.filter((k) => k.timestampMs <= t).at(-1) ?? keys[0];
      assert.equal(ring.keyframeAtOrBefore(t)?.seq, before?.seq);
      const nearest = keys.reduce<EncodedUnit | undefined>((best, k) => (!best || Math.abs(k.timestampMs - t) < Math.abs(best.timestampMs - t) ? k : best), undefined);
      const got = ring.keyframeNearest(t, 1000);
      if (nearest && Math.abs(nearest.timestampMs - t) <= 1000) assert.equal(Math.abs(got!.timestampMs - t), Math.abs(nearest.timestampMs - t));
      else assert.equal(got, undefined);
    }),
    { numRuns: 300 },
  );
});

test('memory: 60 s of 720p at 2 Mbit/s is about 15 MB of units, and a byte limit caps it', () => {
  const ring = new EncodedRing({ maxMs: 60_000, maxBytes: 64 * 2 ** 20 });
  const perFrame = Math.round(2_000_000 / 8 / 30);
  for (let i = 0; i < 30 * 90; i++) ring.push(Buffer.alloc(perFrame), i * 33_333_333, i * 33.333, i % 60 === 0);
  assert.ok(ring.bytes > 14_000_000 && ring.bytes < 15_500_000, `${ring.bytes} bytes`);
  const capped = new EncodedRing({ maxMs: 60_000, maxBytes: 4_000_000 });
  for (let i = 0; i < 30 * 90; i++) capped.push(Buffer.alloc(perFrame), i * 33_333_333, i * 33.333, i % 60 === 0);
  assert.ok(capped.bytes <= 4_000_000);
  assert.ok(capped.oldest!.keyframe);
});
