// The WebAssembly RGB -> I420 converter against a plain scalar version of the same integer
// formulas (every byte must match, for each packed format, both matrices, and widths that are
// and are not multiples of 16), and against GStreamer's videoconvert on the same frames.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

test('convertInto() writes the I420 picture into a slot, from a frame elsewhere or from another slot, and touches nothing else', () => {
  // 1280x106 BGR and 2000x30 RGBA come in several bands of 192 KiB, the last one shorter.
  for (const [format, w, h] of [['BGR', 1280, 8], ['RGBA', 48, 4], ['BGR', 40, 6], ['BGR', 1280, 106], ['RGBA', 2000, 30]] as const) {
    const layout = layoutOf(format, w, h);
    const conv = RgbToI420.for(layout, 'bt601', 3)!;
    const slots = [0, 1, 2].map((k) => conv.slot(k));
    const frames = [0, 1, 2].map((k) => noise(layout.srcSize, 31 * k + w));
    slots[1]!.set(frames[1]!);
    slots[2]!.set(frames[2]!);
    // From the caller's memory (through the staging area) into slot 0.
    const got0 = conv.convertInto(frames[0]!, slots[0]!);
    assert.equal(got0.length, layoutOf('I420', w, h).gstSize);
    assert.equal(got0.buffer, slots[0]!.buffer);
    assert.equal(got0.byteOffset, slots[0]!.byteOffset);
    assert.deepEqual(Buffer.from(got0), Buffer.from(reference(frames[0]!, format, w, h, 'bt601')));
    // From slot 2 into slot 1: slot 1's frame is overwritten, slot 2's stays.
    const got1 = conv.convertInto(slots[2]!, slots[1]!);
    assert.deepEqual(Buffer.from(got1), Buffer.from(reference(frames[2]!, format, w, h, 'bt601')));
    assert.deepEqual(Buffer.from(slots[2]!), Buffer.from(frames[2]!), 'the source slot is unchanged');
    assert.deepEqual(Buffer.from(got0), Buffer.from(reference(frames[0]!, format, w, h, 'bt601')), 'slot 0 unchanged by the second conversion');
    // The same view each time for a slot: no allocation per frame.
    assert.equal(conv.convertInto(frames[0]!, slots[0]!), got0);
    assert.throws(() => conv.convertInto(slots[1]!, slots[1]!), /cannot convert a slot into itself/);
    assert.throws(() => conv.convertInto(frames[0]!, Buffer.alloc(layout.srcSize)), /needs one of this converter's slots/);
    assert.throws(() => conv.convertInto(frames[0]!, slots[0]!.subarray(1)), /needs one of this converter's slots/);
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

// ---- Against GStreamer's videoconvert --------------------------------------------------------
// The same frames through `rawvideoparse ! videoconvert dither=none ! I420` (what our pipeline
// would do without the kernel, with the matrix GStreamer picks for the size).
//
// Tolerances, and why: videoconvert rounds its integer matrix differently from our x256
// coefficients with +0.5 rounding, so a luma sample lands one level apart about half the time
// (measured: max 1, mean 0.50) and never more. Its chroma is also the mean of each 2x2 block,
// but the coefficient rounding differs by up to 2 levels for BT.709 Cb (measured: max 2,
// mean <= 1.01 on flat patches) and 1 elsewhere. More than that would be a real colour error:
// a swapped channel, a wrong matrix or range, a shifted or mis-sited chroma plane.
const Y_MAX_DIFF = 1;
const C_MAX_DIFF = 2;
const MEAN_DIFF = 1.1;

function videoconvert(src: Uint8Array, format: PixelFormat, w: number, h: number): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'skyline-vc-'));
  try {
    writeFileSync(join(dir, 'in.raw'), src);
    execFileSync('gst-launch-1.0', [
      '-q', 'filesrc', `location=${join(dir, 'in.raw')}`, `blocksize=${src.length}`,
      '!', 'rawvideoparse', `format=${format.toLowerCase()}`, `width=${w}`, `height=${h}`, 'framerate=1/1',
      '!', 'videoconvert', 'dither=none', '!', `video/x-raw,format=I420,width=${w},height=${h}`,
      '!', 'filesink', `location=${join(dir, 'out.raw')}`,
    ], { timeout: 60_000 });
    return readFileSync(join(dir, 'out.raw'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function frameOf(kind: 'noise' | 'ramp' | 'patches', format: PixelFormat, w: number, h: number): Uint8Array {
  const bpp = format.length === 3 ? 3 : 4;
  if (kind === 'noise') {
    const n = noise(w * h * bpp, w + h);
    if (bpp === 4) for (let i = 3; i < n.length; i += 4) n[i] = 255;
    return n;
  }
  const out = new Uint8Array(w * h * bpp);
  const o = ORDER[format]!;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * bpp;
      const k = (x >> 4) * 7 + (y >> 4) * 13;
      const [r, g, b] = kind === 'ramp'
        ? [((x + y) * 255) / (w + h), (y * 255) / h, (x * 255) / w]
        : [(k * 37) & 255, (k * 91) & 255, (k * 53) & 255];
      out[i + o.r] = r; out[i + o.g] = g; out[i + o.b] = b;
      if (bpp === 4) out[i + 3] = 255;
    }
  }
  return out;
}

for (const [w, h] of [[320, 240], [1280, 720], [40, 6]] as const) {
  test(`${w}x${h} (${defaultMatrix(h)}): the converter matches GStreamer's videoconvert within rounding`, { timeout: 120_000 }, () => {
    for (const format of ['BGR', 'RGBA'] as PixelFormat[]) {
      const conv = RgbToI420.for(layoutOf(format, w, h), defaultMatrix(h))!;
      for (const kind of ['noise', 'ramp', 'patches'] as const) {
        const src = frameOf(kind, format, w, h);
        const ours = conv.convert(src);
        const theirs = videoconvert(src, format, w, h);
        assert.equal(theirs.length, ours.length, 'same I420 layout');
        const ys = w * h;
        const cs = ys / 4;
        for (const [plane, from, to, max] of [['Y', 0, ys, Y_MAX_DIFF], ['U', ys, ys + cs, C_MAX_DIFF], ['V', ys + cs, ys + 2 * cs, C_MAX_DIFF]] as const) {
          let worst = 0;
          let sum = 0;
          for (let i = from; i < to; i++) {
            const d = Math.abs(ours[i]! - theirs[i]!);
            if (d > worst) worst = d;
            sum += d;
          }
          const what = `${format} ${kind} ${plane}`;
          assert.ok(worst <= max, `${what}: max difference ${worst} > ${max}`);
          assert.ok(sum / (to - from) <= MEAN_DIFF, `${what}: mean difference ${(sum / (to - from)).toFixed(3)} > ${MEAN_DIFF}`);
        }
      }
    }
  });
}
