import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adaptFrame, checkFrameSize, copyToGst, layoutOf, type RawFrame } from '../../src/frame.js';

const out = (): RawFrame => ({ data: new Uint8Array(0), width: 0, height: 0, format: 'BGR' });

test('plain frames default to BGR and keep their data', () => {
  const data = Buffer.alloc(4 * 2 * 3);
  const f = adaptFrame({ data, width: 4, height: 2 }, out());
  assert.equal(f.format, 'BGR');
  assert.equal(f.data, data);
  checkFrameSize(f, layoutOf(f.format, f.width, f.height));
});

test('OpenCV Mat-like objects map channels to formats', () => {
  const mat = (channels: number, depth = 0) => ({ rows: 2, cols: 3, channels, depth, getData: () => Buffer.alloc(2 * 3 * channels) });
  assert.equal(adaptFrame(mat(3), out()).format, 'BGR');
  assert.equal(adaptFrame(mat(4), out()).format, 'BGRA');
  assert.equal(adaptFrame(mat(1), out()).format, 'GRAY8');
  const f = adaptFrame(mat(3), out());
  assert.deepEqual([f.width, f.height], [3, 2]);
  assert.throws(() => adaptFrame(mat(2), out()), /1, 3 or 4 channels.*got 2/);
  assert.throws(() => adaptFrame(mat(3, 5), out()), /8-bit.*depth 5/);
});

test('ImageData-like objects are RGBA', () => {
  const data = new Uint8ClampedArray(2 * 2 * 4);
  const f = adaptFrame({ data, width: 2, height: 2 }, out());
  assert.equal(f.format, 'RGBA');
  assert.equal(f.data.byteLength, 16);
});

test('bad input names what was expected and what came', () => {
  assert.throws(() => adaptFrame(null, out()), (e: Error) => e instanceof TypeError && /expects a frame.*got null/.test(e.message));
  assert.throws(() => adaptFrame(42, out()), TypeError);
  assert.throws(() => adaptFrame({ data: [1, 2, 3], width: 1, height: 1 }, out()), /Buffer, Uint8Array or Uint8ClampedArray, got an array/);
  assert.throws(() => adaptFrame({ data: Buffer.alloc(3), width: 1.5, height: 1 }, out()), /width must be an integer/);
  assert.throws(() => adaptFrame({ data: Buffer.alloc(3), width: 0, height: 1 }, out()), RangeError);
  assert.throws(() => adaptFrame({ data: Buffer.alloc(3), width: 1, height: 1, format: 'YUY2' }, out()), /one of BGR, RGB.*YUY2/);
  const f = adaptFrame({ data: Buffer.alloc(100), width: 640, height: 480 }, out());
  assert.throws(() => checkFrameSize(f, layoutOf('BGR', 640, 480)), (e: Error) => e instanceof RangeError && /100 bytes, expected 921600 for 640x480 BGR/.test(e.message));
});

test('layouts follow GStreamer strides (rows padded to 4 bytes)', () => {
  const bgr = layoutOf('BGR', 641, 3);
  assert.equal(bgr.srcSize, 641 * 3 * 3);
  assert.equal(bgr.gstSize, 1924 * 3);
  assert.equal(bgr.tight, false);
  assert.equal(layoutOf('BGR', 640, 3).tight, true);
  assert.equal(layoutOf('RGBA', 641, 3).tight, true);
  const i420 = layoutOf('I420', 640, 480);
  assert.equal(i420.srcSize, 640 * 480 * 1.5);
  assert.equal(i420.gstSize, 640 * 480 * 1.5);
  const odd = layoutOf('I420', 6, 4); // chroma rows 3 bytes wide, padded to 4
  assert.equal(odd.srcSize, 24 + 2 * 3 * 2);
  assert.equal(odd.gstSize, 8 * 4 + 2 * 4 * 2);
  assert.equal(layoutOf('NV12', 6, 4).gstSize, 8 * 4 + 8 * 2);
  assert.equal(layoutOf('GRAY8', 5, 2).gstSize, 16);
});

test('copyToGst pads each row and keeps every pixel', () => {
  const w = 5, h = 3;
  const layout = layoutOf('BGR', w, h);
  const src = Uint8Array.from({ length: w * h * 3 }, (_, i) => i % 251);
  const dst = new Uint8Array(layout.gstSize).fill(0xee);
  copyToGst(src, layout, dst);
  for (let y = 0; y < h; y++) {
    assert.deepEqual(dst.subarray(y * 16, y * 16 + 15), src.subarray(y * 15, y * 15 + 15));
  }
  const i420 = layoutOf('I420', 6, 4);
  const s2 = Uint8Array.from({ length: i420.srcSize }, (_, i) => i);
  const d2 = new Uint8Array(i420.gstSize);
  copyToGst(s2, i420, d2);
  assert.deepEqual([...d2.subarray(32, 35)], [24, 25, 26]); // first U row
  assert.deepEqual([...d2.subarray(36, 39)], [27, 28, 29]); // second U row after padding
  assert.deepEqual([...d2.subarray(40, 43)], [30, 31, 32]); // V plane
});
