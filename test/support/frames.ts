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

// ---- The frame index band (bench/lib/frames.ts): frame numbers that survive encoding --------
import { readIndex, stampIndex } from '../../bench/lib/frames.js';

/** A BGR frame: mid-grey with the frame index band on top, for checks after a round trip. */
export function indexed(width: number, height: number, index: number): Frame {
  const data = Buffer.alloc(width * height * 3, 128);
  stampIndex(data, width, index);
  return { data, width, height, format: 'BGR' };
}

/** The index in a decoded frame's band (BGR, RGB, RGBA, BGRA, GRAY8 or I420), -1 when unreadable. */
export function indexOf(frame: { data: Uint8Array; width: number; height: number; format?: string }): number {
  const { data, width, height } = frame;
  const format = frame.format ?? 'BGR';
  if (format === 'GRAY8' || format === 'I420') return readIndex(data.subarray(0, width * height), width);
  const bpp = format === 'RGBA' || format === 'BGRA' ? 4 : 3;
  const rows = Math.min(height, Math.ceil(width / 16) + 1);
  const gray = new Uint8Array(width * rows);
  for (let i = 0; i < gray.length; i++) gray[i] = data[i * bpp + 1]!; // green: close to luma for grey content
  return readIndex(gray, width);
}
