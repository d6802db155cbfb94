// Packed RGB (BGR, RGB, BGRA, RGBA) to I420 with WebAssembly SIMD, for the drain to hand the
// encoder I420 instead of making GStreamer's videoconvert do it: videoconvert has no RGB to YUV
// fast path in GStreamer 1.22 and spends 2-3 times as long on a 1080p frame as this does (see
// BENCHMARKS.md, figure 2). Limited-range BT.601 or BT.709, chroma as the mean of each 2x2 block.
// The module is assembled here from its instructions: no build step and no binary in the tree.
import type { Layout, PixelFormat } from '../frame.js';
import { layoutOf } from '../frame.js';
import { Asm, I32, SIMD, V128, i16x8, moduleOf, uleb } from './wasm-asm.js';

export type Matrix = 'bt601' | 'bt709';

/** Integer coefficients (x256) of Y, Cb and Cr for R, G, B; each chroma row sums to 0. */
const COEFFS: Record<Matrix, { y: [number, number, number]; u: [number, number, number]; v: [number, number, number] }> = {
  bt601: { y: [66, 129, 25], u: [-38, -74, 112], v: [112, -94, -18] },
  bt709: { y: [47, 157, 16], u: [-26, -86, 112], v: [112, -102, -10] },
};

const PACKED: Partial<Record<PixelFormat, { bpp: number; r: number; g: number; b: number }>> = {
  BGR: { bpp: 3, b: 0, g: 1, r: 2 },
  RGB: { bpp: 3, r: 0, g: 1, b: 2 },
  BGRA: { bpp: 4, b: 0, g: 1, r: 2 },
  RGBA: { bpp: 4, r: 0, g: 1, b: 2 },
};

/** The matrix GStreamer gives I420 of this height when nothing else is said: BT.709 above SD. */
export function defaultMatrix(height: number): Matrix {
  return height > 576 ? 'bt709' : 'bt601';
}

/**
 * Swizzle mask gathering 4 pixels at the start of a load into b0..b3 g0..g3 r0..r3, one 32-bit
 * lane per channel: the same mask for every load, so it stays in one register.
 */
function gather(p: { bpp: number; r: number; g: number; b: number }): number[] {
  const m: number[] = [];
  for (const k of [p.b, p.g, p.r]) for (let j = 0; j < 4; j++) m.push(p.bpp * j + k);
  return [...m, 0x80, 0x80, 0x80, 0x80];
}

/** i8x16.shuffle lanes interleaving the low or high 32-bit or 64-bit lanes of two vectors. */
const bytes = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const UNPACK = {
  lo32: [...bytes(0, 4), ...bytes(16, 4), ...bytes(4, 4), ...bytes(20, 4)],
  hi32: [...bytes(8, 4), ...bytes(24, 4), ...bytes(12, 4), ...bytes(28, 4)],
  lo64: [...bytes(0, 8), ...bytes(16, 8)],
  hi64: [...bytes(8, 8), ...bytes(24, 8)],
};

/**
 * convert(src, dstY, dstU, dstV, width, height): two rows and 16 pixels per step; the last
 * step of a row overlaps the one before when the width is not a multiple of 16 (it rewrites
 * the same values). Needs an even width of at least 16 and an even height.
 *
 * Each channel's 16 bytes are read as eight 16-bit lanes and split into even and odd pixels
 * with an AND and a shift: even plus odd is then the horizontal pair sum for chroma, and the
 * luma of both halves goes back together with an AND and an OR (no narrowing).
 */
function buildModule(format: PixelFormat, matrix: Matrix): Uint8Array<ArrayBuffer> {
  const p = PACKED[format]!;
  const c = COEFFS[matrix];
  const a = new Asm();
  // params 0..5: src, dy, du, dv, width, height
  const [SRC, DY, DU, DV, WIDTH, HEIGHT] = [0, 1, 2, 3, 4, 5];
  // i32 locals
  const STRIDE = 6, ROW = 7, X = 8, XX = 9, LAST = 10, S0 = 11, S1 = 12, D0 = 13, D1 = 14, CU = 15, CV = 16, T = 17;
  // v128 locals
  const V = 18; // 18.. : constants and temporaries
  const K = { yr: V, yg: V + 1, yb: V + 2, ur: V + 3, ug: V + 4, ub: V + 5, vr: V + 6, vg: V + 7, vb: V + 8, yOff: V + 9, two: V + 10, cOff: V + 11, low: V + 12, high: V + 13, gather: V + 14 };
  const CH = V + 15; // B G R of the row being read
  const E = CH + 3; // even pixels b, g, r (16-bit lanes)
  const O = CH + 6; // odd pixels b, g, r
  const SB = CH + 9, SG = CH + 10, SR = CH + 11; // 2x2 sums, then means
  const YE = CH + 12, U = CH + 13, LO = CH + 14, HI = CH + 15;
  const nV128 = HI - V + 1;
  const loads = V + nV128; // 4 load temporaries

  const setConst = (local: number, v: number) => a.v128(i16x8(v)).set(local);
  setConst(K.yr, c.y[0]); setConst(K.yg, c.y[1]); setConst(K.yb, c.y[2]);
  setConst(K.ur, c.u[0]); setConst(K.ug, c.u[1]); setConst(K.ub, c.u[2]);
  setConst(K.vr, c.v[0]); setConst(K.vg, c.v[1]); setConst(K.vb, c.v[2]);
  // Luma: +16 levels and +0.5 before >> 8. Chroma: +0.5, and +128 levels as 128 << 8, which
  // keeps the sum non-negative so a logical shift (no clamp: it stays within 16..240) ends it.
  setConst(K.yOff, (16 << 8) + 128); setConst(K.two, 2); setConst(K.cOff, (128 << 8) + 128);
  setConst(K.low, 0x00ff); setConst(K.high, 0xff00);
  a.v128(gather(p)).set(K.gather);

  a.get(WIDTH).i32(p.bpp).mul().set(STRIDE);
  a.get(WIDTH).i32(16).sub().set(LAST);
  a.i32(0).set(ROW);

  /**
   * Loads 16 pixels at address `addrLocal` into the channel locals CH (b, g, r): four loads of
   * 4 pixels each (for 3 bytes a pixel the last reads 4 bytes past the 16 pixels: the memory
   * has slack after every region), one swizzle each, then a 4x4 transpose of 32-bit lanes.
   */
  const deinterleave = (addrLocal: number) => {
    for (let i = 0; i < 4; i++) a.get(addrLocal).simd(SIMD.load, 0, ...uleb(4 * p.bpp * i)).get(K.gather).simd(SIMD.swizzle).set(loads + i);
    const [P0, P1, P2, P3] = [loads, loads + 1, loads + 2, loads + 3];
    a.get(P0).get(P1).simd(SIMD.shuffle, ...UNPACK.lo32).set(LO); // b0-7 g0-7
    a.get(P2).get(P3).simd(SIMD.shuffle, ...UNPACK.lo32).set(HI); // b8-15 g8-15
    a.get(LO).get(HI).simd(SIMD.shuffle, ...UNPACK.lo64).set(CH);
    a.get(LO).get(HI).simd(SIMD.shuffle, ...UNPACK.hi64).set(CH + 1);
    a.get(P0).get(P1).simd(SIMD.shuffle, ...UNPACK.hi32); // r0-7
    a.get(P2).get(P3).simd(SIMD.shuffle, ...UNPACK.hi32); // r8-15
    a.simd(SIMD.shuffle, ...UNPACK.lo64).set(CH + 2);
    // even pixels: low bytes of the 16-bit lanes; odd: high bytes
    for (let k = 0; k < 3; k++) {
      a.get(CH + k).get(K.low).simd(SIMD.and).set(E + k);
      a.get(CH + k).i32(8).simd(SIMD.shrU).set(O + k);
    }
  };

  /** Y * 256 of the pixels whose b, g, r are in locals at `at` (16-bit lanes), on the stack. */
  const lumaSum = (at: number) => {
    a.get(at + 2).get(K.yr).simd(SIMD.mul);
    a.get(at + 1).get(K.yg).simd(SIMD.mul).simd(SIMD.add);
    a.get(at).get(K.yb).simd(SIMD.mul).simd(SIMD.add);
    a.get(K.yOff).simd(SIMD.add);
  };

  /** Luma of the row in E and O to 16 bytes at address `dstLocal` + XX (at most 60324: no overflow). */
  const luma = (dstLocal: number) => {
    a.get(dstLocal).get(XX).add();
    lumaSum(E);
    a.i32(8).simd(SIMD.shrU).set(YE);
    lumaSum(O);
    a.get(K.high).simd(SIMD.and).get(YE).simd(SIMD.or);
    a.store();
  };

  /** Pair sums of the row in E and O: set (first row) or added to SB, SG, SR. */
  const pairSums = (first: boolean) => {
    for (let k = 0; k < 3; k++) {
      if (!first) a.get(SB + k);
      a.get(E + k).get(O + k).simd(SIMD.add);
      if (!first) a.simd(SIMD.add);
      a.set(SB + k);
    }
  };

  /** One chroma plane of 8 samples (16-bit lanes) from the means in SB, SG, SR, on the stack. */
  const chroma = (kr: number, kg: number, kb: number) => {
    a.get(SR).get(kr).simd(SIMD.mul);
    a.get(SG).get(kg).simd(SIMD.mul).simd(SIMD.add);
    a.get(SB).get(kb).simd(SIMD.mul).simd(SIMD.add);
    a.get(K.cOff).simd(SIMD.add).i32(8).simd(SIMD.shrU);
  };

  // for (row = 0; row < height; row += 2)
  a.op(0x02, 0x40, 0x03, 0x40);
  {
    a.get(SRC).get(ROW).get(STRIDE).mul().add().set(S0);
    a.get(S0).get(STRIDE).add().set(S1);
    a.get(DY).get(ROW).get(WIDTH).mul().add().set(D0);
    a.get(D0).get(WIDTH).add().set(D1);
    a.get(ROW).i32(1).shrU().get(WIDTH).i32(1).shrU().mul().set(T);
    a.get(DU).get(T).add().set(CU);
    a.get(DV).get(T).add().set(CV);
    a.i32(0).set(X);
    // for (x = 0; ; x += 16) with xx = min(x, width - 16)
    a.op(0x02, 0x40, 0x03, 0x40);
    {
      a.get(X).get(LAST).get(X).get(LAST).op(0x49).op(0x1b).set(XX); // select(x, last, x < last)
      a.get(S0).get(XX).i32(p.bpp).mul().add().set(T);
      deinterleave(T);
      luma(D0);
      pairSums(true);
      a.get(S1).get(XX).i32(p.bpp).mul().add().set(T);
      deinterleave(T);
      luma(D1);
      pairSums(false);
      // 2x2 means, rounded
      for (let k = 0; k < 3; k++) a.get(SB + k).get(K.two).simd(SIMD.add).i32(2).simd(SIMD.shrU).set(SB + k);
      // U and V narrowed together: U in the low 8 bytes, V in the high 8
      a.get(CU).get(XX).i32(1).shrU().add().set(T);
      chroma(K.ur, K.ug, K.ub);
      chroma(K.vr, K.vg, K.vb);
      a.simd(SIMD.narrowU).set(U);
      a.get(T).get(U).simd(SIMD.store64Lane, 0, 0, 0);
      a.get(CV).get(XX).i32(1).shrU().add().get(U).simd(SIMD.store64Lane, 0, 0, 1);
      // if (xx == last) break; x += 16
      a.get(XX).get(LAST).op(0x46).op(0x0d, 1);
      a.get(X).i32(16).add().set(X);
      a.op(0x0c, 0);
    }
    a.op(0x0b, 0x0b);
    a.get(ROW).i32(2).add().set(ROW);
    a.get(ROW).get(HEIGHT).op(0x49).op(0x0d, 0);
  }
  a.op(0x0b, 0x0b, 0x0b); // loop, block, function

  return moduleOf('convert', 6, [[T - STRIDE + 1, I32], [nV128 + 4, V128]], a.b);
}

const modules = new Map<string, WebAssembly.Module | null>();

function moduleFor(format: PixelFormat, matrix: Matrix): WebAssembly.Module | null {
  const key = `${format}/${matrix}`;
  let m = modules.get(key);
  if (m === undefined) {
    try {
      const bytes = buildModule(format, matrix);
      m = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      m = null; // no SIMD in this runtime: the pipeline's videoconvert does the work
    }
    modules.set(key, m);
  }
  return m;
}

/** Bytes from `n` up to the next multiple of 64 (region starts stay SIMD- and cache-aligned). */
const align64 = (n: number) => Math.ceil(n / 64) * 64;
/**
 * Bytes of packed input convertInto() copies in and converts at a time: well inside a core's L2
 * cache. 1080p BGR copied and converted: 1.00 ms whole, 0.89 ms in bands of 96-384 KiB.
 */
const BAND_BYTES = 192 * 1024;
/** WebAssembly memories are at most 4 GiB; frame slots stay well under it. */
const MAX_SLOT_MEMORY = 2 ** 31;

/**
 * Converts frames of one size and format; reuses its memory, so the result is valid until
 * the next convert(). It can also hand out frame slots inside its own memory (slot()): a
 * frame copied there by put() is converted where it lies, without the copy into this
 * memory that a frame from elsewhere costs.
 */
export class RgbToI420 {
  readonly layout: Layout;
  readonly matrix: Matrix;
  /** Frame slots inside this converter's memory (see slot()). */
  readonly slots: number;
  private readonly memory: WebAssembly.Memory;
  private readonly run: (src: number, y: number, u: number, v: number, w: number, h: number) => void;
  private readonly srcSize: number;
  private readonly planes: { y: number; u: number; v: number };
  private readonly out: Uint8Array;
  private readonly input: Uint8Array;
  private readonly slotBase: number;
  private readonly slotStride: number;
  /** The I420 picture at the start of each slot, for convertInto() (made once, on first use). */
  private readonly slotPictures: Uint8Array[] = [];

  private constructor(module: WebAssembly.Module, input: Layout, matrix: Matrix, slots: number) {
    this.matrix = matrix;
    this.layout = layoutOf('I420', input.width, input.height);
    this.srcSize = input.srcSize;
    const w = input.width, h = input.height;
    const ySize = w * h, cSize = (w / 2) * (h / 2);
    // [staging input][I420 output][slot 0][slot 1]...: fixed at construction, because growing
    // a memory detaches every view of it, and queued frames are such views.
    this.slotStride = align64(this.srcSize);
    const outBase = this.slotStride;
    this.slotBase = align64(outBase + ySize + 2 * cSize);
    this.slots = Math.max(0, Math.min(slots, Math.floor((MAX_SLOT_MEMORY - this.slotBase) / this.slotStride)));
    const total = this.slotBase + this.slots * this.slotStride + 64;
    this.memory = new WebAssembly.Memory({ initial: Math.ceil(total / 65536) });
    const instance = new WebAssembly.Instance(module, { env: { mem: this.memory } });
    this.run = instance.exports.convert as RgbToI420['run'];
    this.planes = { y: outBase, u: outBase + ySize, v: outBase + ySize + cSize };
    this.input = new Uint8Array(this.memory.buffer, 0, this.srcSize);
    this.out = new Uint8Array(this.memory.buffer, outBase, ySize + 2 * cSize);
  }

  /**
   * A converter for frames of `layout`, or undefined when this one cannot do it (then
   * videoconvert does). `slots`: how many frame slots to reserve in its memory (address
   * space only until a slot is written).
   */
  static for(layout: Layout, matrix: Matrix = defaultMatrix(layout.height), slots = 0): RgbToI420 | undefined {
    if (!PACKED[layout.format] || !layout.tight) return undefined;
    if (layout.width < 16 || layout.width % 2 !== 0 || layout.height % 2 !== 0) return undefined;
    // The planes are written tightly packed: only where that is GStreamer's I420 layout too.
    if (!layoutOf('I420', layout.width, layout.height).tight) return undefined;
    const module = moduleFor(layout.format, matrix);
    return module ? new RgbToI420(module, layout, matrix, slots) : undefined;
  }

  /** Frame slot `i` (0 <= i < slots): a Buffer of the input frame's size inside this converter's memory. */
  slot(i: number): Buffer {
    if (!(i >= 0 && i < this.slots)) throw new RangeError(`slot must be from 0 to ${this.slots - 1}, got ${i}`);
    return Buffer.from(this.memory.buffer, this.slotBase + i * this.slotStride, this.srcSize);
  }

  /** Size of this converter's memory (pages are resident only once written). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** True when `data` is one of this converter's slots (convert() then reads it in place). */
  owns(data: Uint8Array): boolean {
    return data.buffer === this.memory.buffer;
  }

  /** The I420 picture of `src` (tightly packed planes, which is GStreamer's layout for even sizes with width % 8 == 0). */
  convert(src: Uint8Array): Uint8Array {
    let at = 0;
    if (src.buffer === this.memory.buffer && src.byteOffset >= this.slotBase) at = src.byteOffset;
    else this.input.set(src.length === this.srcSize ? src : src.subarray(0, this.srcSize));
    this.run(at, this.planes.y, this.planes.u, this.planes.v, this.layout.width, this.layout.height);
    return this.out;
  }

  /**
   * Converts `src` (a packed frame of this size, from anywhere) into the start of `slot`, one
   * of this converter's slots, and returns the I420 picture there: the slot's frame is
   * overwritten. For a frame just copied in, the conversion then reads it from cache.
   */
  convertInto(src: Uint8Array, slot: Buffer): Uint8Array {
    const i = (slot.byteOffset - this.slotBase) / this.slotStride;
    if (!this.owns(slot) || !Number.isInteger(i) || i < 0 || i >= this.slots) throw new RangeError('convertInto() needs one of this converter\'s slots');
    const { width: w, height: h } = this.layout, ySize = w * h, cSize = ySize / 4;
    const y = slot.byteOffset, u = y + ySize, v = u + cSize;
    if (src.buffer === this.memory.buffer && src.byteOffset >= this.slotBase) {
      if (src.byteOffset === slot.byteOffset) throw new RangeError('convertInto() cannot convert a slot into itself');
      this.run(src.byteOffset, y, u, v, w, h);
    } else {
      // Band by band: each band is copied in and converted while it is still in the core's
      // own cache, instead of the whole frame going out to memory and coming back.
      const rowBytes = this.srcSize / h;
      const band = Math.max(2, Math.min(h, BAND_BYTES / rowBytes)) & ~1;
      for (let r = 0; r < h; r += band) {
        const rows = Math.min(band, h - r);
        this.input.set(src.subarray(r * rowBytes, (r + rows) * rowBytes));
        this.run(0, y + r * w, u + (r / 2) * (w / 2), v + (r / 2) * (w / 2), w, rows);
      }
    }
    return (this.slotPictures[i] ??= new Uint8Array(this.memory.buffer, y, ySize + 2 * cSize));
  }

  /** Caps for the converted frames, colorimetry included so the encoder signals the matrix used. */
  caps(framerate: string): string {
    const l = this.layout;
    return `video/x-raw,format=I420,width=${l.width},height=${l.height},framerate=${framerate},pixel-aspect-ratio=1/1,colorimetry=${this.matrix}`;
  }
}
