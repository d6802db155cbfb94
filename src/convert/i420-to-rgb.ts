// I420 (GStreamer's layout) to packed RGB (BGR, RGB, BGRA, RGBA) with WebAssembly SIMD, for
// LiveSource's decoder: GStreamer hands over the decoder's own I420 and Node converts it. Done
// in GStreamer, videoconvert costs about 3 ms per 1080p frame, and a packed frame twice the size
// of I420 then crosses the loopback socket (tcpclientsink also merges gdppay's header and payload
// into a fresh allocation per frame, which page-faults anew for 6 MB frames); see BENCHMARKS.md,
// figure 8. Chroma is taken per 2x2 block (nearest), as swscale's unscaled path does.
//
// Fixed point, in 16-bit lanes: y = ((Y - off) * ky + 64) >> 1 (Q6 with its rounding bias, ky =
// luma scale x128), then R = (y + rv*E) >> 6, G = (y + gu*D + gv*E) >> 6, B = (y + bu*D) >> 6
// with D = U - 128, E = V - 128 and Q6 coefficients; narrowing saturates to 0..255. The scalar
// reference() below is the same arithmetic, byte for byte, and serves sizes the kernel cannot.
import { layoutOf } from '../frame.js';
import { Asm, I32, SIMD, V128, i16x8, moduleOf } from './wasm-asm.js';

export type RgbFormat = 'BGR' | 'RGB' | 'BGRA' | 'RGBA';
export const RGB_FORMATS: readonly RgbFormat[] = ['BGR', 'RGB', 'BGRA', 'RGBA'];

/** Kr and Kb of the YCbCr matrices GStreamer names (GstVideoColorMatrix). */
const MATRICES = {
  bt601: { kr: 0.299, kb: 0.114 },
  bt709: { kr: 0.2126, kb: 0.0722 },
  bt2020: { kr: 0.2627, kb: 0.0593 },
  smpte240m: { kr: 0.212, kb: 0.087 },
  fcc: { kr: 0.3, kb: 0.11 },
} as const;
export type YuvMatrix = keyof typeof MATRICES;

export interface Colorimetry {
  matrix: YuvMatrix;
  /** 'limited': Y in 16..235, chroma in 16..240 (video); 'full': 0..255 (JPEG). */
  range: 'limited' | 'full';
}

/** GstVideoColorMatrix numbers (the third field of a "r:m:t:p" colorimetry string). */
const MATRIX_NUMBERS: Record<number, YuvMatrix> = { 2: 'fcc', 3: 'bt709', 4: 'bt601', 5: 'smpte240m', 6: 'bt2020' };
const NAMED: Record<string, Colorimetry> = {
  bt601: { matrix: 'bt601', range: 'limited' },
  bt709: { matrix: 'bt709', range: 'limited' },
  smpte240m: { matrix: 'smpte240m', range: 'limited' },
  bt2020: { matrix: 'bt2020', range: 'limited' },
  'bt2020-10': { matrix: 'bt2020', range: 'limited' },
  'bt2100-pq': { matrix: 'bt2020', range: 'limited' },
  'bt2100-hlg': { matrix: 'bt2020', range: 'limited' },
};

/**
 * The colorimetry of I420 caps (`colorimetry=bt709`, or GStreamer's "range:matrix:transfer:
 * primaries" numbers); what is missing or unknown takes GStreamer's defaults for YUV: limited
 * range, BT.709 above 576 lines and BT.601 up to it.
 */
export function colorimetryOf(caps: string, height: number): Colorimetry {
  const fallback: YuvMatrix = height > 576 ? 'bt709' : 'bt601';
  const v = /(?:^|[ ,])colorimetry=(?:\(string\))?"?([A-Za-z0-9:-]+)/.exec(caps)?.[1];
  if (!v) return { matrix: fallback, range: 'limited' };
  const named = NAMED[v.toLowerCase()];
  if (named) return named;
  const m = /^(\d+):(\d+):\d+:\d+$/.exec(v);
  if (!m) return { matrix: fallback, range: 'limited' };
  return { matrix: MATRIX_NUMBERS[Number(m[2])] ?? fallback, range: m[1] === '1' ? 'full' : 'limited' };
}

/** The integer coefficients of the arithmetic above, for one colorimetry. */
export function coefficients(c: Colorimetry): { off: number; ky: number; rv: number; gu: number; gv: number; bu: number } {
  const { kr, kb } = MATRICES[c.matrix];
  const kg = 1 - kr - kb;
  const limited = c.range === 'limited';
  const ys = limited ? 255 / 219 : 1;
  const cs = limited ? 255 / 224 : 1;
  const q6 = (v: number) => Math.round(v * 64);
  return {
    off: limited ? 16 : 0,
    ky: Math.round(ys * 128),
    rv: q6(2 * (1 - kr) * cs),
    gu: -q6(((2 * kb * (1 - kb)) / kg) * cs),
    gv: -q6(((2 * kr * (1 - kr)) / kg) * cs),
    bu: q6(2 * (1 - kb) * cs),
  };
}

const ORDER: Record<RgbFormat, { bpp: 3 | 4; r: number; g: number; b: number }> = {
  BGR: { bpp: 3, b: 0, g: 1, r: 2 },
  RGB: { bpp: 3, r: 0, g: 1, b: 2 },
  BGRA: { bpp: 4, b: 0, g: 1, r: 2 },
  RGBA: { bpp: 4, r: 0, g: 1, b: 2 },
};

interface Planes {
  width: number;
  height: number;
  yOff: number;
  uOff: number;
  vOff: number;
  yStride: number;
  cStride: number;
  /** Bytes of the I420 frame in GStreamer's layout. */
  size: number;
}

function planesOf(width: number, height: number): Planes {
  const l = layoutOf('I420', width, height);
  const [y, u, v] = l.planes as [typeof l.planes[0], typeof l.planes[0], typeof l.planes[0]];
  return { width, height, yOff: y.dstOffset, uOff: u.dstOffset, vOff: v.dstOffset, yStride: y.dstStride, cStride: u.dstStride, size: l.gstSize };
}

/** The arithmetic of the kernel, one pixel at a time: the reference, and the path for sizes the kernel does not take. */
export function reference(src: Uint8Array, format: RgbFormat, width: number, height: number, c: Colorimetry, out?: Uint8Array): Uint8Array {
  const p = planesOf(width, height);
  const o = ORDER[format];
  const k = coefficients(c);
  const dst = out ?? new Uint8Array(width * height * o.bpp);
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
  for (let row = 0; row < height; row++) {
    const yRow = p.yOff + row * p.yStride;
    const cRow = (row >> 1) * p.cStride;
    for (let x = 0; x < width; x++) {
      const y = ((Math.max(0, src[yRow + x]! - k.off) * k.ky + 64) >>> 1);
      const d = src[p.uOff + cRow + (x >> 1)]! - 128;
      const e = src[p.vOff + cRow + (x >> 1)]! - 128;
      const at = (row * width + x) * o.bpp;
      dst[at + o.r] = clamp((y + k.rv * e) >> 6);
      dst[at + o.g] = clamp((y + k.gu * d + k.gv * e) >> 6);
      dst[at + o.b] = clamp((y + k.bu * d) >> 6);
      if (o.bpp === 4) dst[at + 3] = 255;
    }
  }
  return dst;
}

/** i8x16.shuffle lane indices (0-15 the first operand, 16-31 the second). */
const lanes = (f: (i: number) => number) => Array.from({ length: 16 }, (_, i) => f(i));

/**
 * convert(y, u, v, dst, width, height, yStride, cStride): two rows and 16 pixels per step; the
 * last step of a row overlaps the one before when the width is not a multiple of 16 (it rewrites
 * the same values); an odd last row is converted as a pair with itself. Needs an even width of
 * at least 16.
 */
function buildModule(format: RgbFormat, c: Colorimetry): Uint8Array<ArrayBuffer> {
  const o = ORDER[format];
  const k = coefficients(c);
  const a = new Asm();
  const [Y, U, V, DST, WIDTH, HEIGHT, YSTRIDE, CSTRIDE] = [0, 1, 2, 3, 4, 5, 6, 7];
  // i32 locals
  const ROW = 8, X = 9, XX = 10, LAST = 11, Y0 = 12, Y1 = 13, D0 = 14, D1 = 15, CU = 16, CV = 17, OSTRIDE = 18, T = 19;
  const nI32 = T - ROW + 1;
  // v128 locals
  const VB = T + 1;
  const K = { off: VB, ky: VB + 1, round: VB + 2, c128: VB + 3, rv: VB + 4, gu: VB + 5, gv: VB + 6, bu: VB + 7, ff: VB + 8 };
  const RV = VB + 9, GUV = VB + 10, BU = VB + 11; // chroma terms of 8 pixel pairs
  const CH = VB + 12; // chroma terms widened to 16 pixels: rvLo rvHi guvLo guvHi buLo buHi
  const YL = CH + 6, YH = CH + 7, OUT = CH + 8; // OUT..OUT+2: the three channels of a row
  const TMP = OUT + 3; // TMP..TMP+3 for the interleave
  const nV128 = TMP + 4 - VB;

  const splat16 = (local: number, v: number) => a.v128(i16x8(v & 0xffff)).set(local);
  a.v128(new Array(16).fill(k.off)).set(K.off);
  a.v128(new Array(16).fill(k.ky)).set(K.ky);
  splat16(K.round, 64); splat16(K.c128, 128);
  splat16(K.rv, k.rv); splat16(K.gu, k.gu); splat16(K.gv, k.gv); splat16(K.bu, k.bu);
  a.v128(new Array(16).fill(255)).set(K.ff);

  a.get(WIDTH).i32(o.bpp).mul().set(OSTRIDE);
  a.get(WIDTH).i32(16).sub().set(LAST);
  a.i32(0).set(ROW);

  /** One row: the channels from the luma at `yAt` + XX and the widened chroma terms, stored at `dAt` + XX*bpp. */
  const row = (yAt: number, dAt: number) => {
    // y = (sat(Y - off) * ky + 64) >> 1, unsigned 16-bit (fits: 255 * 149 + 64 < 65536)
    a.get(yAt).get(XX).add().load().get(K.off).simd(SIMD.subSatU8).set(YL);
    a.get(YL).get(K.ky).simd(SIMD.extmulHighU).get(K.round).simd(SIMD.add).i32(1).simd(SIMD.shrU).set(YH);
    a.get(YL).get(K.ky).simd(SIMD.extmulLowU).get(K.round).simd(SIMD.add).i32(1).simd(SIMD.shrU).set(YL);
    const channels: Array<[number, number]> = [];
    channels[o.r] = [CH, CH + 1];
    channels[o.g] = [CH + 2, CH + 3];
    channels[o.b] = [CH + 4, CH + 5];
    for (let ch = 0; ch < 3; ch++) {
      const [lo, hi] = channels[ch]!;
      a.get(YL).get(lo).simd(SIMD.addSatS).i32(6).simd(SIMD.shrS);
      a.get(YH).get(hi).simd(SIMD.addSatS).i32(6).simd(SIMD.shrS);
      a.simd(SIMD.narrowU).set(OUT + ch);
    }
    const store = (part: number, emit: () => void) => {
      a.get(dAt).get(XX).i32(o.bpp).mul().add();
      if (part) a.i32(16 * part).add();
      emit();
      a.store();
    };
    if (o.bpp === 3) {
      // Output byte i of the 48 is channel i % 3 of pixel i / 3: per 16-byte part, first the
      // bytes of channels 0 and 1 from one shuffle, then channel 2's bytes in a second.
      for (let part = 0; part < 3; part++) {
        const first = lanes((i) => {
          const n = 16 * part + i;
          const ch = n % 3, px = (n - ch) / 3;
          return ch === 0 ? px : ch === 1 ? 16 + px : 0;
        });
        const second = lanes((i) => {
          const n = 16 * part + i;
          const ch = n % 3, px = (n - ch) / 3;
          return ch === 2 ? 16 + px : i;
        });
        store(part, () => {
          a.get(OUT).get(OUT + 1).simd(SIMD.shuffle, ...first);
          a.get(OUT + 2).simd(SIMD.shuffle, ...second);
        });
      }
    } else {
      // Bytes interleaved (c0 c1) and (c2 ff), then 16-bit pairs of those: four pixels per lane group.
      const lo8 = lanes((i) => (i >> 1) + (i & 1 ? 16 : 0));
      const hi8 = lanes((i) => 8 + (i >> 1) + (i & 1 ? 16 : 0));
      const lo16 = lanes((i) => ((i >> 2) * 2) + (i & 1) + (i & 2 ? 16 : 0));
      const hi16 = lanes((i) => 8 + ((i >> 2) * 2) + (i & 1) + (i & 2 ? 16 : 0));
      a.get(OUT).get(OUT + 1).simd(SIMD.shuffle, ...lo8).set(TMP);
      a.get(OUT).get(OUT + 1).simd(SIMD.shuffle, ...hi8).set(TMP + 1);
      a.get(OUT + 2).get(K.ff).simd(SIMD.shuffle, ...lo8).set(TMP + 2);
      a.get(OUT + 2).get(K.ff).simd(SIMD.shuffle, ...hi8).set(TMP + 3);
      store(0, () => a.get(TMP).get(TMP + 2).simd(SIMD.shuffle, ...lo16));
      store(1, () => a.get(TMP).get(TMP + 2).simd(SIMD.shuffle, ...hi16));
      store(2, () => a.get(TMP + 1).get(TMP + 3).simd(SIMD.shuffle, ...lo16));
      store(3, () => a.get(TMP + 1).get(TMP + 3).simd(SIMD.shuffle, ...hi16));
    }
  };

  // Each i16 chroma term twice, for the two pixels of a pair: lanes 0-3 of 8 for the first 8 pixels.
  const dupLo = lanes((i) => ((i >> 2) * 2) + (i & 1) + (i & 2 ? 16 : 0));
  const dupHi = lanes((i) => 8 + ((i >> 2) * 2) + (i & 1) + (i & 2 ? 16 : 0));

  // for (row = 0; row < height; row += 2)
  a.op(0x02, 0x40, 0x03, 0x40);
  {
    a.get(Y).get(ROW).get(YSTRIDE).mul().add().set(Y0);
    a.get(DST).get(ROW).get(OSTRIDE).mul().add().set(D0);
    // An odd last row pairs with itself.
    a.get(ROW).i32(1).add().get(HEIGHT).op(0x48).set(T); // row + 1 < height
    a.get(Y0).get(YSTRIDE).add().get(Y0).get(T).op(0x1b).set(Y1);
    a.get(D0).get(OSTRIDE).add().get(D0).get(T).op(0x1b).set(D1);
    a.get(ROW).i32(1).shrU().get(CSTRIDE).mul().set(T);
    a.get(U).get(T).add().set(CU);
    a.get(V).get(T).add().set(CV);
    a.i32(0).set(X);
    // for (x = 0; ; x += 16) with xx = min(x, width - 16)
    a.op(0x02, 0x40, 0x03, 0x40);
    {
      a.get(X).get(LAST).get(X).get(LAST).op(0x49).op(0x1b).set(XX);
      // D and E of 8 pixel pairs, then the terms of each channel.
      a.get(CU).get(XX).i32(1).shrU().add().simd(SIMD.load8x8U, 0, 0).get(K.c128).simd(SIMD.sub).set(GUV); // D
      a.get(CV).get(XX).i32(1).shrU().add().simd(SIMD.load8x8U, 0, 0).get(K.c128).simd(SIMD.sub).set(RV); // E
      a.get(GUV).get(K.bu).simd(SIMD.mul).set(BU);
      a.get(GUV).get(K.gu).simd(SIMD.mul).get(RV).get(K.gv).simd(SIMD.mul).simd(SIMD.add).set(GUV);
      a.get(RV).get(K.rv).simd(SIMD.mul).set(RV);
      for (const [term, out] of [[RV, CH], [GUV, CH + 2], [BU, CH + 4]] as const) {
        a.get(term).get(term).simd(SIMD.shuffle, ...dupLo).set(out);
        a.get(term).get(term).simd(SIMD.shuffle, ...dupHi).set(out + 1);
      }
      row(Y0, D0);
      row(Y1, D1);
      // if (xx == last) break; x += 16
      a.get(XX).get(LAST).op(0x46).op(0x0d, 1);
      a.get(X).i32(16).add().set(X);
      a.op(0x0c, 0);
    }
    a.op(0x0b, 0x0b);
    a.get(ROW).i32(2).add().set(ROW);
    a.get(ROW).get(HEIGHT).op(0x48).op(0x0d, 0);
  }
  a.op(0x0b, 0x0b, 0x0b); // loop, block, function

  return moduleOf('convert', 8, [[nI32, I32], [nV128, V128]], a.b);
}

const modules = new Map<string, WebAssembly.Module | null>();

function moduleFor(format: RgbFormat, c: Colorimetry): WebAssembly.Module | null {
  const key = `${format}/${c.matrix}/${c.range}`;
  let m = modules.get(key);
  if (m === undefined) {
    try {
      const bytes = buildModule(format, c);
      m = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      m = null;
    }
    modules.set(key, m);
  }
  return m;
}

const align64 = (n: number) => Math.ceil(n / 64) * 64;

/**
 * Converts I420 frames of one size and colorimetry to one packed RGB format. Its `input` is a
 * view of its own memory where a caller can assemble the next frame, so the frame is read in
 * place; frames from elsewhere are copied there first. Sizes the kernel does not take (an odd
 * width or narrower than 16) go through the scalar reference.
 */
export class I420ToRgb {
  readonly format: RgbFormat;
  readonly width: number;
  readonly height: number;
  readonly colorimetry: Colorimetry;
  /** Bytes of an input frame (GStreamer's I420 layout) and of an output frame (tightly packed). */
  readonly inputBytes: number;
  readonly outputBytes: number;
  /** Where the next input frame can be written (inside the converter's memory when the kernel runs). */
  readonly input: Buffer;
  /** True when the WebAssembly kernel converts; false: the scalar path. */
  readonly simd: boolean;
  private readonly run: ((...args: number[]) => void) | undefined;
  private readonly planes: Planes;
  private readonly outBase: number;
  private readonly output: Uint8Array | undefined;

  constructor(format: RgbFormat, width: number, height: number, colorimetry: Colorimetry) {
    this.format = format;
    this.width = width;
    this.height = height;
    this.colorimetry = colorimetry;
    this.planes = planesOf(width, height);
    this.inputBytes = this.planes.size;
    this.outputBytes = width * height * ORDER[format].bpp;
    const module = width >= 16 && width % 2 === 0 && height >= 1 ? moduleFor(format, colorimetry) : null;
    this.simd = !!module;
    this.outBase = align64(this.inputBytes);
    if (module) {
      const memory = new WebAssembly.Memory({ initial: Math.ceil((this.outBase + this.outputBytes + 64) / 65536) });
      this.run = new WebAssembly.Instance(module, { env: { mem: memory } }).exports.convert as (...args: number[]) => void;
      this.input = Buffer.from(memory.buffer, 0, this.inputBytes);
      this.output = new Uint8Array(memory.buffer, this.outBase, this.outputBytes);
    } else {
      this.input = Buffer.allocUnsafeSlow(this.inputBytes);
    }
  }

  /** Whether the kernel can convert to `format` in this runtime (WebAssembly SIMD). */
  static available(format: RgbFormat): boolean {
    return !!moduleFor(format, { matrix: 'bt709', range: 'limited' });
  }

  /** The packed frame of `src` (an I420 frame of this size; `input` itself reads in place), in a new Buffer the caller owns. */
  convert(src: Uint8Array = this.input): Buffer {
    if (src.length < this.inputBytes) throw new RangeError(`an I420 frame of ${this.width}x${this.height} has ${this.inputBytes} bytes, got ${src.length}`);
    const out = Buffer.allocUnsafeSlow(this.outputBytes);
    if (!this.run) {
      reference(src, this.format, this.width, this.height, this.colorimetry, out);
      return out;
    }
    if (src.buffer !== this.input.buffer || src.byteOffset !== this.input.byteOffset) this.input.set(src.subarray(0, this.inputBytes));
    const p = this.planes;
    this.run(p.yOff, p.uOff, p.vOff, this.outBase, p.width, p.height, p.yStride, p.cStride);
    out.set(this.output!);
    return out;
  }
}

export function isRgbFormat(f: string): f is RgbFormat {
  return (RGB_FORMATS as readonly string[]).includes(f);
}
