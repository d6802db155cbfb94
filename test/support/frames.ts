// Test frames: solid colours (checked after decoding) and noise (realistic for encoders).
import type { Frame, PixelFormat } from '../../src/frame.js';

export type Rgb = [number, number, number];

/** A solid-colour frame in the given packed format. */
export function solid(width: number, height: number, rgb: Rgb, format: PixelFormat = 'BGR'): Frame {
  const [r, g, b] = rgb;
  const px: Record<string, number[]> = {
    BGR: [b, g, r], RGB: [r, g, b], BGRA: [b, g, r, 255], RGBA: [r, g, b, 255],
    GRAY8: [Math.round(0.299 * r + 0.587 * g + 0.114 * b)],
  };
  const pattern = px[format];
  if (!pattern) throw new Error(`solid() does not make ${format}`);
  const data = Buffer.alloc(width * height * pattern.length);
  for (let i = 0; i < data.length; i += pattern.length) for (let k = 0; k < pattern.length; k++) data[i + k] = pattern[k]!;
  return { data, width, height, format };
}

/** A BGR frame whose brightness encodes `index` (0..255 levels) — for ordering checks. */
export function level(width: number, height: number, value: number): Frame {
  return { data: Buffer.alloc(width * height * 3, value), width, height, format: 'BGR' };
}

/** Deterministic noise, so encoders work as hard as on camera content. */
export function noise(width: number, height: number, seed = 1): Frame {
  const data = Buffer.allocUnsafe(width * height * 3);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i += 4) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    data.writeUInt32LE(x >>> 0, i - (i + 4 > data.length ? i + 4 - data.length : 0));
  }
  return { data, width, height, format: 'BGR' };
}

export function closeTo(actual: number[], expected: number[], tolerance: number): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance);
}

/** Bits of the frame index band: frames 0..1023 are told apart. */
const INDEX_BITS = 10;

/**
 * A BGR frame that carries `index` in a band across its top 16 rows: one block per bit, white
 * for 1 and black for 0, each block a whole number of 16×16 macroblocks so the encoder keeps
 * it flat. The rest of the frame is grey level `fill`. `readIndex` reads it back after decoding.
 */
export function indexed(width: number, height: number, index: number, fill = 128): Frame {
  if (width % (16 * INDEX_BITS) !== 0 || height < 32) throw new RangeError(`indexed() needs a width that is a multiple of ${16 * INDEX_BITS} and a height of at least 32`);
  const data = Buffer.alloc(width * height * 3, fill);
  const block = width / INDEX_BITS;
  for (let bit = 0; bit < INDEX_BITS; bit++) {
    const v = (index >> (INDEX_BITS - 1 - bit)) & 1 ? 255 : 0;
    for (let y = 0; y < 16; y++) data.fill(v, (y * width + bit * block) * 3, (y * width + (bit + 1) * block) * 3);
  }
  return { data, width, height, format: 'BGR' };
}

/** The index `indexed()` drew, read from decoded packed RGB24 (the centre of each block, thresholded). */
export function readIndex(rgb: Buffer, width: number): number {
  const block = width / INDEX_BITS;
  let index = 0;
  for (let bit = 0; bit < INDEX_BITS; bit++) {
    const x = Math.floor(bit * block + block / 2);
    let sum = 0;
    for (let y = 4; y < 12; y++) sum += rgb[(y * width + x) * 3 + 1]!; // green: the cleanest channel in 4:2:0
    index = (index << 1) | (sum / 8 > 128 ? 1 : 0);
  }
  return index;
}
