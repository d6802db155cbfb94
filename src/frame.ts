// Frame input: what put() accepts, validated with errors that name expected and actual
// values, and copied into GStreamer's row layout (rows padded to 4 bytes) in one pass.

export const PIXEL_FORMATS = ['BGR', 'RGB', 'BGRA', 'RGBA', 'GRAY8', 'I420', 'NV12'] as const;
export type PixelFormat = (typeof PIXEL_FORMATS)[number];

/** A raw image. `data` is tightly packed (no row padding), as OpenCV and canvas produce it. */
export interface Frame {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** Default BGR (OpenCV's order). */
  format?: PixelFormat;
}

/** Shaped like an opencv4nodejs / @u4/opencv4nodejs Mat. */
export interface MatLike {
  rows: number;
  cols: number;
  channels: number;
  depth?: number;
  getData(): Buffer;
}

/** Shaped like canvas ImageData: RGBA in a Uint8ClampedArray. */
export interface ImageDataLike {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

export type FrameInput = Frame | MatLike | ImageDataLike;

/** A validated frame; put() reuses one instance to avoid allocating. */
export interface RawFrame {
  data: Uint8Array;
  width: number;
  height: number;
  format: PixelFormat;
}

const MAX_DIMENSION = 16384;
const MAT_CHANNELS: Record<number, PixelFormat> = { 1: 'GRAY8', 3: 'BGR', 4: 'BGRA' };

const up2 = (n: number) => (n + 1) & ~1;
const up4 = (n: number) => (n + 3) & ~3;
const half = (n: number) => (n + 1) >> 1;

interface Plane {
  srcOffset: number;
  dstOffset: number;
  rowBytes: number;
  dstStride: number;
  rows: number;
}

/** Where each row of a tightly packed frame goes in a GStreamer video buffer (gst_video_info defaults). */
export interface Layout {
  readonly format: PixelFormat;
  readonly width: number;
  readonly height: number;
  /** Bytes of tightly packed input. */
  readonly srcSize: number;
  /** Bytes of the GStreamer buffer. */
  readonly gstSize: number;
  /** True when both layouts are the same bytes: one memcpy. */
  readonly tight: boolean;
  readonly planes: readonly Plane[];
}

function packed(format: PixelFormat, w: number, h: number, bpp: number): Layout {
  const rowBytes = w * bpp;
  const stride = up4(rowBytes);
  return {
    format, width: w, height: h,
    srcSize: rowBytes * h,
    gstSize: stride * h,
    tight: rowBytes === stride,
    planes: [{ srcOffset: 0, dstOffset: 0, rowBytes, dstStride: stride, rows: h }],
  };
}

export function layoutOf(format: PixelFormat, w: number, h: number): Layout {
  switch (format) {
    case 'BGR':
    case 'RGB':
      return packed(format, w, h, 3);
    case 'BGRA':
    case 'RGBA':
      return packed(format, w, h, 4);
    case 'GRAY8':
      return packed(format, w, h, 1);
    case 'I420': {
      const cw = half(w), ch = half(h);
      const yStride = up4(w), cStride = up4(up2(w) / 2);
      const uOff = yStride * up2(h), vOff = uOff + cStride * (up2(h) / 2);
      const planes = [
        { srcOffset: 0, dstOffset: 0, rowBytes: w, dstStride: yStride, rows: h },
        { srcOffset: w * h, dstOffset: uOff, rowBytes: cw, dstStride: cStride, rows: ch },
        { srcOffset: w * h + cw * ch, dstOffset: vOff, rowBytes: cw, dstStride: cStride, rows: ch },
      ];
      const srcSize = w * h + 2 * cw * ch;
      const gstSize = vOff + cStride * (up2(h) / 2);
      return { format, width: w, height: h, srcSize, gstSize, tight: srcSize === gstSize && w % 8 === 0, planes };
    }
    case 'NV12': {
      const ch = half(h);
      const stride = up4(w);
      const uvOff = stride * up2(h);
      const planes = [
        { srcOffset: 0, dstOffset: 0, rowBytes: w, dstStride: stride, rows: h },
        { srcOffset: w * h, dstOffset: uvOff, rowBytes: 2 * half(w), dstStride: stride, rows: ch },
      ];
      const srcSize = w * h + 2 * half(w) * ch;
      const gstSize = uvOff + stride * (up2(h) / 2);
      return { format, width: w, height: h, srcSize, gstSize, tight: srcSize === gstSize && w % 4 === 0, planes };
    }
  }
}

/** Copies a tightly packed frame into `dst` in GStreamer's layout. */
export function copyToGst(src: Uint8Array, layout: Layout, dst: Uint8Array): void {
  if (layout.tight) {
    dst.set(src.length === layout.srcSize ? src : src.subarray(0, layout.srcSize));
    return;
  }
  for (const p of layout.planes) {
    for (let r = 0; r < p.rows; r++) {
      const s = p.srcOffset + r * p.rowBytes;
      dst.set(src.subarray(s, s + p.rowBytes), p.dstOffset + r * p.dstStride);
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object with keys [${Object.keys(v as object).slice(0, 6).join(', ')}]`;
  return `${typeof v} ${String(v).slice(0, 40)}`;
}

function checkDimension(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`frame ${name} must be an integer, got ${describe(v)}`);
  if (v < 1 || v > MAX_DIMENSION) throw new RangeError(`frame ${name} must be between 1 and ${MAX_DIMENSION}, got ${v}`);
  return v;
}

/**
 * Validates `input` and describes it in `out` (reused, so the hot path allocates nothing
 * for plain frames). Throws TypeError for something that is not a frame and RangeError
 * for sizes that do not add up.
 */
export function adaptFrame(input: unknown, out: RawFrame): RawFrame {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(`put() expects a frame { data, width, height, format? }, an OpenCV Mat or ImageData, got ${describe(input)}`);
  }
  const f = input as Record<string, unknown>;
  let data: unknown;
  let width: number;
  let height: number;
  let format: unknown;
  if (typeof f.getData === 'function' && typeof f.rows === 'number' && typeof f.cols === 'number') {
    // OpenCV Mat: rows x cols x channels, 8-bit only.
    if (f.depth !== undefined && f.depth !== 0) throw new TypeError(`OpenCV Mat must be 8-bit (CV_8U, depth 0), got depth ${String(f.depth)}`);
    const channels = f.channels;
    format = MAT_CHANNELS[channels as number];
    if (!format) throw new TypeError(`OpenCV Mat must have 1, 3 or 4 channels (GRAY8, BGR, BGRA), got ${String(channels)}`);
    width = checkDimension('cols', f.cols);
    height = checkDimension('rows', f.rows);
    data = (f.getData as () => unknown).call(input);
  } else {
    data = f.data;
    width = checkDimension('width', f.width);
    height = checkDimension('height', f.height);
    format = f.format ?? (data instanceof Uint8ClampedArray ? 'RGBA' : 'BGR');
  }
  if (!(data instanceof Uint8Array)) {
    if (data instanceof Uint8ClampedArray) data = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else throw new TypeError(`frame data must be a Buffer, Uint8Array or Uint8ClampedArray, got ${describe(data)}`);
  }
  if (typeof format !== 'string' || !(PIXEL_FORMATS as readonly string[]).includes(format)) {
    throw new TypeError(`frame format must be one of ${PIXEL_FORMATS.join(', ')}, got ${describe(format)}`);
  }
  out.data = data as Uint8Array;
  out.width = width;
  out.height = height;
  out.format = format as PixelFormat;
  return out;
}

/** Bytes a tightly packed frame of this format and size has. */
export function frameSize(format: PixelFormat, width: number, height: number): number {
  return layoutOf(format, width, height).srcSize;
}

export function checkFrameSize(frame: RawFrame, layout: Layout): void {
  if (frame.data.byteLength !== layout.srcSize) {
    throw new RangeError(
      `frame data has ${frame.data.byteLength} bytes, expected ${layout.srcSize} for ${frame.width}x${frame.height} ${frame.format}`,
    );
  }
}

/** GStreamer caps for raw frames of this layout. */
export function rawCaps(layout: Layout, framerate: string): string {
  return `video/x-raw,format=${layout.format},width=${layout.width},height=${layout.height},framerate=${framerate},pixel-aspect-ratio=1/1`;
}

/**
 * Reads frames as put() gets them, allocating nothing for plain frames: one RawFrame reused,
 * and the layout of the last size and format kept.
 */
export class FrameReader {
  private readonly scratch: RawFrame = { data: new Uint8Array(0), width: 0, height: 0, format: 'BGR' };
  private cached: Layout | undefined;
  /** The layout of the frame read last. */
  layout: Layout | undefined;

  /** Validates `input` (TypeError, RangeError) and describes it; `layout` is then its layout. */
  read(input: unknown): RawFrame {
    const f = adaptFrame(input, this.scratch);
    let c = this.cached;
    if (!c || c.width !== f.width || c.height !== f.height || c.format !== f.format) c = this.cached = layoutOf(f.format, f.width, f.height);
    checkFrameSize(f, c);
    this.layout = c;
    return f;
  }

  /** Validates `input` only. */
  check(input: unknown): void {
    adaptFrame(input, this.scratch);
  }
}
