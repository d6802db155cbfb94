// The WebAssembly I420 -> packed RGB converter (LiveSource's decoder output) against: its scalar
// reference, byte for byte (fixed sizes and a property over sizes, formats and colorimetries);
// the exact floating-point formulas of each matrix; and GStreamer's videoconvert on the same frames.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { I420ToRgb, RGB_FORMATS, colorimetryOf, reference, type Colorimetry, type RgbFormat } from '../../src/convert/i420-to-rgb.js';
import { layoutOf } from '../../src/frame.js';

const COLORIMETRIES: Colorimetry[] = [
  { matrix: 'bt601', range: 'limited' },
  { matrix: 'bt709', range: 'limited' },
  { matrix: 'bt2020', range: 'limited' },
  { matrix: 'bt601', range: 'full' },
];
const ORDER: Record<RgbFormat, { bpp: number; r: number; g: number; b: number }> = {
  BGR: { bpp: 3, b: 0, g: 1, r: 2 }, RGB: { bpp: 3, r: 0, g: 1, b: 2 },
  BGRA: { bpp: 4, b: 0, g: 1, r: 2 }, RGBA: { bpp: 4, r: 0, g: 1, b: 2 },
};
const KR_KB = { bt601: [0.299, 0.114], bt709: [0.2126, 0.0722], bt2020: [0.2627, 0.0593], smpte240m: [0.212, 0.087], fcc: [0.3, 0.11] } as const;

function noise(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Smooth luma, blocky chroma: what a decoded picture looks like, with every hue visited. */
function picture(w: number, h: number): Buffer {
  const l = layoutOf('I420', w, h);
  const out = Buffer.alloc(l.gstSize);
  const [py, pu, pv] = l.planes;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[py!.dstOffset + y * py!.dstStride + x] = 16 + Math.floor(((x + y) * 219) / (w + h));
  for (let y = 0; y < pu!.rows; y++) {
    for (let x = 0; x < pu!.rowBytes; x++) {
      out[pu!.dstOffset + y * pu!.dstStride + x] = 16 + (((x >> 3) * 37 + (y >> 3) * 11) % 225);
      out[pv!.dstOffset + y * pv!.dstStride + x] = 16 + (((x >> 3) * 53 + (y >> 3) * 29) % 225);
    }
  }
  return out;
}

for (const format of RGB_FORMATS) {
  test(`I420 -> ${format}: the kernel matches its scalar reference byte for byte`, () => {
    // 18x3: a width that is not a multiple of 16 and an odd last row; 1282: GStreamer pads its rows.
    for (const [w, h] of [[16, 2], [18, 3], [48, 4], [200, 10], [1282, 6]] as const) {
      for (const c of COLORIMETRIES) {
        const conv = new I420ToRgb(format, w, h, c);
        assert.ok(conv.simd, `the kernel takes ${w}x${h}`);
        assert.equal(conv.inputBytes, layoutOf('I420', w, h).gstSize);
        const src = noise(conv.inputBytes, w * 31 + h);
        const got = conv.convert(src);
        assert.equal(got.length, w * h * ORDER[format].bpp);
        assert.deepEqual(got, Buffer.from(reference(src, format, w, h, c)), `${w}x${h} ${c.matrix}/${c.range}`);
      }
    }
  });
}

test('property: any even width from 16, any height, any bytes: kernel and reference agree', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 8, max: 60 }).map((n) => n * 2),
      fc.integer({ min: 1, max: 9 }),
      fc.constantFrom(...RGB_FORMATS),
      fc.constantFrom(...COLORIMETRIES),
      fc.integer(),
      (w, h, format, c, seed) => {
        const conv = new I420ToRgb(format, w, h, c);
        const src = noise(conv.inputBytes, seed);
        // Assembled in place, as the decoder does: convert() reads its own input.
        conv.input.set(src);
        assert.deepEqual(conv.convert(), Buffer.from(reference(src, format, w, h, c)));
      },
    ),
    { numRuns: 150 },
  );
});

test('each output frame is a buffer of its own; sizes the kernel does not take use the scalar path', () => {
  const conv = new I420ToRgb('BGR', 32, 4, COLORIMETRIES[1]!);
  conv.input.fill(128);
  const a = conv.convert();
  conv.input.fill(200);
  const b = conv.convert();
  assert.notEqual(a.buffer, b.buffer);
  assert.ok(a.every((v) => v === a[0]), 'the first frame is unchanged by the second');
  assert.ok(a[0] !== b[0]);
  for (const [w, h] of [[33, 5], [8, 4]] as const) {
    const odd = new I420ToRgb('RGB', w, h, COLORIMETRIES[0]!);
    assert.equal(odd.simd, false, `${w}x${h} goes the scalar way`);
    const src = picture(w, h);
    assert.deepEqual(odd.convert(src), Buffer.from(reference(src, 'RGB', w, h, COLORIMETRIES[0]!)));
  }
  assert.throws(() => conv.convert(Buffer.alloc(10)), /an I420 frame of 32x4 has 192 bytes, got 10/);
});

// The Q6 coefficients are within 1/128 of the exact ones, so each chroma term (at most about 146
// levels) is off by at most 1.15, and green has two; measured worst: 1.22 (BT.709), 1.80
// (SMPTE 240M). More than 2 would be a wrong coefficient, range or chroma sample.
test('the kernel is within 2 levels of the exact formulas of each matrix and range', () => {
  const [w, h] = [64, 48];
  for (const c of [...COLORIMETRIES, { matrix: 'smpte240m', range: 'limited' } as Colorimetry]) {
    const conv = new I420ToRgb('RGB', w, h, c);
    const src = picture(w, h);
    const got = conv.convert(src);
    const [kr, kb] = KR_KB[c.matrix];
    const kg = 1 - kr - kb;
    const ys = c.range === 'limited' ? 255 / 219 : 1, cs = c.range === 'limited' ? 255 / 224 : 1, off = c.range === 'limited' ? 16 : 0;
    const l = layoutOf('I420', w, h);
    let worst = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const Y = (src[y * w + x]! - off) * ys;
        const d = (src[l.planes[1]!.dstOffset + (y >> 1) * (w / 2) + (x >> 1)]! - 128) * cs;
        const e = (src[l.planes[2]!.dstOffset + (y >> 1) * (w / 2) + (x >> 1)]! - 128) * cs;
        const rgb = [Y + 2 * (1 - kr) * e, Y - ((2 * kb * (1 - kb)) / kg) * d - ((2 * kr * (1 - kr)) / kg) * e, Y + 2 * (1 - kb) * d];
        for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs(got[(y * w + x) * 3 + k]! - Math.max(0, Math.min(255, rgb[k]!))));
      }
    }
    assert.ok(worst <= 2, `${c.matrix}/${c.range}: ${worst.toFixed(2)} levels from the formula`);
  }
});

test('colorimetry from caps: names, GStreamer\'s numbers, and the defaults for the size', () => {
  assert.deepEqual(colorimetryOf('video/x-raw, format=(string)I420, colorimetry=(string)bt709, framerate=(fraction)30/1', 480), { matrix: 'bt709', range: 'limited' });
  assert.deepEqual(colorimetryOf('video/x-raw, colorimetry=(string)bt601', 1080), { matrix: 'bt601', range: 'limited' });
  assert.deepEqual(colorimetryOf('video/x-raw, colorimetry=(string)1:4:0:0', 720), { matrix: 'bt601', range: 'full' });
  assert.deepEqual(colorimetryOf('video/x-raw, colorimetry=(string)2:6:14:7', 720), { matrix: 'bt2020', range: 'limited' });
  assert.deepEqual(colorimetryOf('video/x-raw, colorimetry=(string)bt2020-10', 720), { matrix: 'bt2020', range: 'limited' });
  assert.deepEqual(colorimetryOf('video/x-raw, width=(int)1280', 720), { matrix: 'bt709', range: 'limited' });
  assert.deepEqual(colorimetryOf('video/x-raw, width=(int)640', 480), { matrix: 'bt601', range: 'limited' });
  assert.deepEqual(colorimetryOf('video/x-raw, colorimetry=(string)2:0:0:0', 480), { matrix: 'bt601', range: 'limited' });
});

// ---- Against GStreamer's videoconvert ----------------------------------------------------------
// Tolerance, and why: videoconvert's 8-bit integer matrices are themselves off the exact formulas
// by up to 5.6 levels, 1.9 too dark on average (measured on picture() at 320x240, BT.709); ours
// are within 2 with no bias (the test above). So the two differ by up to 6 (measured: max 6,
// mean 1.9 for limited range; max 3, mean 0.76 for full range). A wrong matrix differs by up to
// about 30, swapped channels or a mis-sited chroma plane by far more.
const MAX_DIFF = 7;
const MEAN_DIFF = 2.5;

function videoconvert(src: Buffer, w: number, h: number, colorimetry: string, format: RgbFormat): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'skyline-i2r-'));
  try {
    writeFileSync(join(dir, 'in.i420'), src);
    execFileSync('gst-launch-1.0', [
      '-q', 'filesrc', `location=${join(dir, 'in.i420')}`, `blocksize=${src.length}`,
      '!', 'rawvideoparse', 'format=i420', `width=${w}`, `height=${h}`, `colorimetry=${colorimetry}`, 'framerate=1/1',
      '!', 'videoconvert', 'dither=none', '!', `video/x-raw,format=${format}`,
      '!', 'filesink', `location=${join(dir, 'out.raw')}`,
    ], { timeout: 60_000 });
    return readFileSync(join(dir, 'out.raw'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const [w, h, colorimetry, c] of [
  [320, 240, 'bt601', COLORIMETRIES[0]!],
  [1280, 720, 'bt709', COLORIMETRIES[1]!],
  [64, 48, '1:4:0:0', COLORIMETRIES[3]!],
] as const) {
  test(`${w}x${h} ${colorimetry}: the converter matches GStreamer's videoconvert within its rounding`, { timeout: 120_000 }, () => {
    for (const format of ['BGR', 'RGBA'] as const) {
      const src = picture(w, h);
      const ours = new I420ToRgb(format, w, h, c).convert(src);
      const theirs = videoconvert(src, w, h, colorimetry, format);
      assert.equal(theirs.length, ours.length, 'same packed layout');
      let worst = 0;
      let sum = 0;
      for (let i = 0; i < ours.length; i++) {
        const d = Math.abs(ours[i]! - theirs[i]!);
        if (d > worst) worst = d;
        sum += d;
      }
      assert.ok(worst <= MAX_DIFF, `${format}: max difference ${worst} > ${MAX_DIFF}`);
      assert.ok(sum / ours.length <= MEAN_DIFF, `${format}: mean difference ${(sum / ours.length).toFixed(3)} > ${MEAN_DIFF}`);
    }
  });
}
