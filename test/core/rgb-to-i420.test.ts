// The WebAssembly RGB -> I420 converter against a plain scalar version of the same integer
// formulas: every byte must match, for each packed format, both matrices, and widths that are
// and are not multiples of 16.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RgbToI420, defaultMatrix, type Matrix } from '../../src/convert/rgb-to-i420.js';
import { layoutOf, type PixelFormat } from '../../src/frame.js';

const COEFFS: Record<Matrix, number[][]> = {
  bt601: [[66, 129, 25], [-38, -74, 112], [112, -94, -18]],
  bt709: [[47, 157, 16], [-26, -86, 112], [112, -102, -10]],
};
const ORDER: Record<string, { bpp: number; r: number; g: number; b: number }> = {
  BGR: { bpp: 3, b: 0, g: 1, r: 2 }, RGB: { bpp: 3, r: 0, g: 1, b: 2 },
  BGRA: { bpp: 4, b: 0, g: 1, r: 2 }, RGBA: { bpp: 4, r: 0, g: 1, b: 2 },
};

function reference(src: Uint8Array, format: string, w: number, h: number, matrix: Matrix): Uint8Array {
  const o = ORDER[format]!;
  const [cy, cu, cv] = COEFFS[matrix];
  const out = new Uint8Array(w * h * 1.5);
  const px = (x: number, y: number) => {
    const i = (y * w + x) * o.bpp;
    return [src[i + o.r]!, src[i + o.g]!, src[i + o.b]!];
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [r, g, b] = px(x, y);
      out[y * w + x] = (cy![0]! * r! + cy![1]! * g! + cy![2]! * b! + 4224) >> 8;
    }
  }
  const clamp = (v: number) => Math.max(0, Math.min(255, v));
  for (let y = 0; y < h; y += 2) {
    for (let x = 0; x < w; x += 2) {
      const s = [0, 0, 0];
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const p = px(x + dx!, y + dy!);
        for (let k = 0; k < 3; k++) s[k]! += p[k]!;
      }
      const [r, g, b] = s.map((v) => (v + 2) >> 2) as [number, number, number];
      const ci = (y / 2) * (w / 2) + x / 2;
      out[w * h + ci] = clamp(((cu![0]! * r + cu![1]! * g + cu![2]! * b + 128) >> 8) + 128);
      out[w * h + (w / 2) * (h / 2) + ci] = clamp(((cv![0]! * r + cv![1]! * g + cv![2]! * b + 128) >> 8) + 128);
    }
  }
  return out;
}

function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

for (const format of ['BGR', 'RGB', 'BGRA', 'RGBA'] as PixelFormat[]) {
  for (const matrix of ['bt601', 'bt709'] as Matrix[]) {
    test(`${format} -> I420 (${matrix}) matches the scalar formulas byte for byte`, () => {
      for (const [w, h] of [[16, 2], [48, 4], [40, 6], [200, 10], [1280, 8]] as const) {
        const layout = layoutOf(format, w, h);
        const conv = RgbToI420.for(layout, matrix);
        assert.ok(conv, `a converter for ${w}x${h} ${format}`);
        const src = noise(layout.srcSize, w * 31 + h);
        const got = conv.convert(src);
        assert.deepEqual(Buffer.from(got), Buffer.from(reference(src, format, w, h, matrix)), `${w}x${h}`);
        assert.equal(got.length, layoutOf('I420', w, h).gstSize);
      }
    });
  }
}

test('frames in the converter\'s own slots convert in place, byte for byte, without touching other slots', () => {
  for (const [format, w, h] of [['BGR', 1280, 8], ['RGBA', 48, 4], ['BGR', 40, 6]] as const) {
    const layout = layoutOf(format, w, h);
    const conv = RgbToI420.for(layout, 'bt709', 3)!;
    assert.equal(conv.slots, 3);
    const frames = [0, 1, 2].map((k) => noise(layout.srcSize, 97 * k + w));
    const slots = [0, 1, 2].map((k) => conv.slot(k));
    for (let k = 0; k < 3; k++) {
      assert.equal(slots[k]!.length, layout.srcSize);
      assert.ok(conv.owns(slots[k]!));
      slots[k]!.set(frames[k]!);
    }
    for (const k of [2, 0, 1]) {
      assert.deepEqual(Buffer.from(conv.convert(slots[k]!)), Buffer.from(reference(frames[k]!, format, w, h, 'bt709')), `slot ${k} ${format} ${w}x${h}`);
    }
    for (let k = 0; k < 3; k++) assert.deepEqual(Buffer.from(slots[k]!), Buffer.from(frames[k]!), `slot ${k} unchanged by converting`);
    // A frame from elsewhere still goes through the staging copy.
    const other = noise(layout.srcSize, 5);
    assert.ok(!conv.owns(other));
    assert.deepEqual(Buffer.from(conv.convert(other)), Buffer.from(reference(other, format, w, h, 'bt709')));
    assert.throws(() => conv.slot(3), /slot must be from 0 to 2, got 3/);
  }
});

test('frames it cannot convert are left to videoconvert', () => {
  assert.equal(RgbToI420.for(layoutOf('BGR', 8, 8)), undefined, 'narrower than 16');
  assert.equal(RgbToI420.for(layoutOf('BGR', 33, 8)), undefined, 'odd width');
  assert.equal(RgbToI420.for(layoutOf('BGR', 32, 9)), undefined, 'odd height');
  assert.equal(RgbToI420.for(layoutOf('BGR', 34, 8)), undefined, 'rows padded for GStreamer');
  assert.equal(RgbToI420.for(layoutOf('GRAY8', 32, 8)), undefined, 'not packed RGB');
  assert.equal(RgbToI420.for(layoutOf('I420', 32, 8)), undefined, 'already I420');
});

test('the matrix follows GStreamer\'s default for the height', () => {
  assert.equal(defaultMatrix(480), 'bt601');
  assert.equal(defaultMatrix(576), 'bt601');
  assert.equal(defaultMatrix(720), 'bt709');
  assert.equal(defaultMatrix(1080), 'bt709');
});
