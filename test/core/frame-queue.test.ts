// FrameQueue: slots recycled, oldest dropped when full, and packed RGB slots living in the
// converter's WebAssembly memory (converted where put() wrote them), checked byte for byte
// against converting a plain copy of the same frame.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RgbToI420 } from '../../src/convert/rgb-to-i420.js';
import { FrameQueue, POOL_SLOTS, TRIM_WINDOW } from '../../src/frame-queue.js';
import { layoutOf } from '../../src/frame.js';

function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** What the drain hands appsrc for a frame: converted from an independent heap copy. */
function expected(frame: Uint8Array, layout: ReturnType<typeof layoutOf>): Buffer {
  return Buffer.from(RgbToI420.for(layout)!.convert(Buffer.from(frame)));
}

test('packed RGB slots live in the converter\'s memory and convert byte for byte as a copy would', () => {
  const layout = layoutOf('BGR', 64, 16);
  const q = new FrameQueue(4);
  const conv = q.converterFor(layout)!;
  assert.ok(conv.slots >= 4);
  const put = (seed: number) => {
    const { slot, evicted } = q.reserve(layout.gstSize, layout);
    const frame = noise(layout.srcSize, seed);
    slot.data.set(frame);
    slot.layout = layout;
    q.commit();
    return { frame, evicted };
  };
  const sent: Uint8Array[] = [];
  for (let i = 1; i <= 3; i++) sent.push(put(i).frame);
  // Drain two, put more: the ring reuses its slots, all inside the converter's memory.
  for (let round = 0; round < 5; round++) {
    for (let k = 0; k < 2; k++) {
      const slot = q.peek()!;
      assert.ok(conv.owns(slot.data), 'queued frame lives in the converter memory');
      assert.deepEqual(Buffer.from(q.converterFor(slot.layout)!.convert(slot.data)), expected(sent.shift()!, layout));
      q.shift();
    }
    for (let k = 0; k < 2; k++) sent.push(put(100 + round * 2 + k).frame);
  }
  // Full queue: the oldest frame goes, the others still convert right.
  const fourth = put(999);
  assert.equal(fourth.evicted, false);
  sent.push(fourth.frame);
  const last = put(998);
  assert.equal(last.evicted, true);
  sent.shift();
  sent.push(last.frame);
  while (q.length > 0) {
    const slot = q.peek()!;
    assert.deepEqual(Buffer.from(conv.convert(slot.data)), expected(sent.shift()!, layout));
    q.shift();
  }
});

test('a raised limit gets a converter with its pool; frames queued before and beyond the pool still convert right', () => {
  const layout = layoutOf('RGBA', 32, 8);
  const q = new FrameQueue(2);
  const first = q.converterFor(layout)!;
  const frames: Uint8Array[] = [];
  for (let i = 0; i < 2; i++) {
    const { slot } = q.reserve(layout.gstSize, layout);
    frames.push(noise(layout.srcSize, 40 + i));
    slot.data.set(frames[i]!);
    slot.layout = layout;
    q.commit();
  }
  q.limit = 6;
  const second = q.converterFor(layout)!;
  assert.notEqual(second, first);
  assert.ok(second.slots >= Math.min(6, POOL_SLOTS));
  for (let i = 2; i < 6; i++) {
    const { slot } = q.reserve(layout.gstSize, layout);
    assert.ok(!first.owns(slot.data), `new slot ${i} not in the old converter's memory`);
    if (i < 2 + POOL_SLOTS) assert.ok(second.owns(slot.data), `new slot ${i} in the new converter's memory`);
    frames.push(noise(layout.srcSize, 40 + i));
    slot.data.set(frames[i]!);
    slot.layout = layout;
    q.commit();
  }
  for (let i = 0; i < 6; i++) {
    const slot = q.peek()!;
    assert.deepEqual(Buffer.from(q.converterOf(slot)!.convert(slot.data)), expected(frames[i]!, layout), `frame ${i}`);
    q.shift();
  }
});

test('formats the converter cannot take keep heap slots', () => {
  const layout = layoutOf('GRAY8', 30, 8);
  const q = new FrameQueue(3);
  assert.equal(q.converterFor(layout), undefined);
  const { slot } = q.reserve(layout.gstSize, layout);
  assert.equal(slot.data.length, layout.gstSize);
  assert.equal(slot.data.buffer.byteLength >= layout.gstSize, true);
  assert.ok(!(slot.data.buffer instanceof WebAssembly.Memory));
});

test('release() empties the queue and lets go of its converter and slots', () => {
  const layout = layoutOf('BGR', 32, 8);
  const q = new FrameQueue(3);
  const first = q.converterFor(layout)!;
  q.reserve(layout.gstSize, layout);
  q.commit();
  assert.equal(q.release(), 1);
  assert.equal(q.length, 0);
  const second = q.converterFor(layout)!;
  assert.notEqual(second, first);
  const { slot } = q.reserve(layout.gstSize, layout);
  assert.ok(second.owns(slot.data) && !first.owns(slot.data));
});

test('after a burst fills the queue and drains, the queue lets go of the burst\'s memory', () => {
  const layout = layoutOf('BGR', 64, 16);
  const limit = 96;
  const q = new FrameQueue(limit);
  const sent: Uint8Array[] = [];
  let seed = 1;
  const put = () => {
    const { slot } = q.reserve(layout.gstSize, layout);
    const frame = noise(layout.srcSize, seed++);
    slot.data.set(frame);
    slot.layout = layout;
    q.commit();
    sent.push(frame);
  };
  const drain = () => {
    const slot = q.peek()!;
    assert.deepEqual(Buffer.from(q.converterOf(slot)!.convert(slot.data)), expected(sent.shift()!, layout));
    q.shift();
  };
  // Steady: one or two frames queued at a time, for several trim windows.
  const steadyRound = () => {
    put(); put(); drain(); drain();
  };
  for (let i = 0; i < TRIM_WINDOW * 2; i++) steadyRound();
  const steady = q.retainedBytes;
  const pool = q.converterFor(layout)!;
  assert.ok(steady >= pool.memoryBytes && steady < pool.memoryBytes + layout.srcSize * 2, `steady ${steady}`);
  // Burst: the encoder stalls and the queue fills to its limit; every frame still converts right.
  for (let i = 0; i < limit; i++) put();
  assert.equal(q.length, limit);
  const full = q.retainedBytes;
  assert.ok(full >= steady + (limit - POOL_SLOTS) * layout.srcSize, `full ${full}`);
  while (q.length > 0) drain();
  // Back to steady: within three windows of drains the burst's memory is gone.
  for (let i = 0; i < TRIM_WINDOW * 3 / 2; i++) steadyRound();
  assert.equal(q.retainedBytes, steady);
  // Steady again after the burst: every slot is back in the converter's own memory.
  for (let i = 0; i < 8; i++) {
    put();
    assert.ok(pool.owns(q.peek()!.data));
    drain();
  }
  // A second burst reuses the same pool and converts right.
  for (let i = 0; i < limit + 5; i++) put();
  sent.splice(0, 5);
  while (q.length > 0) drain();
  for (let i = 0; i < TRIM_WINDOW * 3 / 2; i++) steadyRound();
  assert.equal(q.retainedBytes, steady);
});

test('heap slots of a burst are let go too (formats the converter cannot take)', () => {
  const layout = layoutOf('GRAY8', 30, 8);
  const q = new FrameQueue(40);
  for (let i = 0; i < TRIM_WINDOW * 2; i++) {
    q.reserve(layout.gstSize, layout);
    q.commit();
    q.shift();
  }
  const steady = q.retainedBytes;
  assert.ok(steady > 0 && steady <= POOL_SLOTS * layout.gstSize, `steady ${steady}`);
  for (let i = 0; i < 40; i++) {
    q.reserve(layout.gstSize, layout);
    q.commit();
  }
  assert.equal(q.retainedBytes, 40 * layout.gstSize);
  while (q.length > 0) q.shift();
  for (let i = 0; i < TRIM_WINDOW * 3; i++) {
    q.reserve(layout.gstSize, layout);
    q.commit();
    q.shift();
  }
  assert.ok(q.retainedBytes <= POOL_SLOTS * layout.gstSize, `after ${q.retainedBytes}`);
});

test('a warm steady queue reuses the same slots and buffers across trim windows (put() allocates nothing)', () => {
  const layout = layoutOf('BGR', 64, 16);
  const q = new FrameQueue(24);
  const pool = q.converterFor(layout)!;
  const round = (seen?: Set<unknown>) => {
    for (let k = 0; k < 3; k++) {
      const { slot } = q.reserve(layout.gstSize, layout);
      slot.layout = layout;
      seen?.add(slot).add(slot.data);
      q.commit();
    }
    for (let k = 0; k < 3; k++) q.shift();
  };
  for (let i = 0; i < TRIM_WINDOW; i++) round();
  const warm = new Set<unknown>();
  for (let i = 0; i < TRIM_WINDOW; i++) round(warm);
  const later = new Set<unknown>();
  for (let i = 0; i < TRIM_WINDOW * 3; i++) round(later);
  assert.deepEqual([...later].filter((x) => !warm.has(x)), [], 'no new slot or buffer once warm');
  for (const x of later) if (Buffer.isBuffer(x)) assert.ok(pool.owns(x), 'steady slots live in the converter\'s memory');
});

test('slots a burst needs beyond the pool are heap buffers of one frame each, converted through the staging copy', () => {
  const layout = layoutOf('BGR', 64, 16);
  const limit = 12;
  const q = new FrameQueue(limit);
  const pool = q.converterFor(layout)!;
  const sent: Uint8Array[] = [];
  for (let i = 0; i < limit; i++) {
    const { slot } = q.reserve(layout.gstSize, layout);
    const frame = noise(layout.srcSize, 300 + i);
    slot.data.set(frame);
    slot.layout = layout;
    q.commit();
    sent.push(frame);
  }
  // The pool's memory and one frame per slot beyond it: no second converter's memory.
  assert.equal(q.retainedBytes, pool.memoryBytes + (limit - pool.slots) * layout.srcSize);
  for (let i = 0; i < limit; i++) {
    const slot = q.peek()!;
    if (i >= pool.slots) {
      assert.ok(!pool.owns(slot.data), `slot ${i} beyond the pool`);
      assert.equal(slot.data.buffer.byteLength, layout.srcSize, `slot ${i} is a buffer of its own`);
    }
    assert.equal(q.converterOf(slot), pool);
    assert.deepEqual(Buffer.from(q.converterOf(slot)!.convert(slot.data)), expected(sent[i]!, layout), `frame ${i}`);
    q.shift();
  }
});

test('a queue sized by limitFor() never holds more than its budget, converter memory included', () => {
  for (const [w, h, budget] of [[1280, 720, 64 * 2 ** 20], [640, 480, 8 * 2 ** 20], [1920, 1080, 32 * 2 ** 20]] as const) {
    const layout = layoutOf('BGR', w, h);
    const q = new FrameQueue(FrameQueue.limitFor(budget, layout.srcSize));
    let most = 0;
    // A stalled encoder: frames keep coming, none drains; the oldest are overwritten.
    for (let i = 0; i < q.limit * 2; i++) {
      q.reserve(layout.gstSize, layout);
      q.commit();
      most = Math.max(most, q.retainedBytes);
    }
    assert.equal(q.length, q.limit);
    assert.ok(most <= budget, `${w}x${h}: held ${most} bytes, budget ${budget}`);
    // And it uses the budget: one frame more would not fit.
    assert.ok(most + layout.srcSize > budget, `${w}x${h}: held ${most} bytes of ${budget}`);
  }
});

test('a burst\'s slots beyond the pool give their memory back when the ring lets them go, not at a later GC', () => {
  const layout = layoutOf('BGR', 64, 16);
  const limit = 40;
  const q = new FrameQueue(limit);
  const pool = q.converterFor(layout)!;
  const burst: Buffer[] = [];
  for (let i = 0; i < limit; i++) {
    const { slot } = q.reserve(layout.gstSize, layout);
    slot.layout = layout;
    if (!pool.owns(slot.data)) burst.push(slot.data);
    q.commit();
  }
  assert.equal(burst.length, limit - pool.slots);
  while (q.length > 0) q.shift();
  for (let i = 0; i < TRIM_WINDOW * 3; i++) {
    const { slot } = q.reserve(layout.gstSize, layout);
    slot.layout = layout;
    q.commit();
    q.shift();
  }
  assert.equal(q.retainedBytes, pool.memoryBytes);
  // Every burst buffer is emptied (its pages returned), none is still in the ring.
  assert.deepEqual(burst.map((b) => b.buffer.byteLength), burst.map(() => 0));
  // release() does the same for whatever the ring still holds.
  const q2 = new FrameQueue(12);
  const pool2 = q2.converterFor(layout)!;
  const held: Buffer[] = [];
  for (let i = 0; i < 12; i++) {
    const { slot } = q2.reserve(layout.gstSize, layout);
    if (!pool2.owns(slot.data)) held.push(slot.data);
    q2.commit();
  }
  q2.release();
  assert.ok(held.length > 0 && held.every((b) => b.buffer.byteLength === 0), 'released burst buffers emptied');
});
