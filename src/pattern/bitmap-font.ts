// A 5x7 bitmap font drawn straight into packed RGB-family frames: enough for clocks,
// counters and rates, with no font files or canvas dependency.
import type { Frame } from '../frame.js';

// One string per row, '1' = lit.
const GLYPHS: Record<string, readonly string[]> = {
  '0': ['01110', '10001', '10011', '10101', '11001', '10001', '01110'],
  '1': ['00100', '01100', '00100', '00100', '00100', '00100', '01110'],
  '2': ['01110', '10001', '00001', '00010', '00100', '01000', '11111'],
  '3': ['11110', '00001', '00001', '01110', '00001', '00001', '11110'],
  '4': ['00010', '00110', '01010', '10010', '11111', '00010', '00010'],
  '5': ['11111', '10000', '11110', '00001', '00001', '10001', '01110'],
  '6': ['00110', '01000', '10000', '11110', '10001', '10001', '01110'],
  '7': ['11111', '00001', '00010', '00100', '01000', '01000', '01000'],
  '8': ['01110', '10001', '10001', '01110', '10001', '10001', '01110'],
  '9': ['01110', '10001', '10001', '01111', '00001', '00010', '01100'],
  ':': ['00000', '01100', '01100', '00000', '01100', '01100', '00000'],
  '.': ['00000', '00000', '00000', '00000', '00000', '01100', '01100'],
  '#': ['01010', '01010', '11111', '01010', '11111', '01010', '01010'],
  '/': ['00001', '00010', '00010', '00100', '01000', '01000', '10000'],
  '-': ['00000', '00000', '00000', '11111', '00000', '00000', '00000'],
  F: ['11111', '10000', '10000', '11110', '10000', '10000', '10000'],
  P: ['11110', '10001', '10001', '11110', '10000', '10000', '10000'],
  S: ['01111', '10000', '10000', '01110', '00001', '00001', '11110'],
  ' ': ['00000', '00000', '00000', '00000', '00000', '00000', '00000'],
};

export const GLYPH_WIDTH = 6;
export const GLYPH_HEIGHT = 8;

/** Bytes per pixel and the offsets of R, G, B for the formats we can draw into. */
function channels(format: Frame['format']): { bpp: number; r: number; g: number; b: number } | undefined {
  switch (format ?? 'BGR') {
    case 'BGR': return { bpp: 3, r: 2, g: 1, b: 0 };
    case 'RGB': return { bpp: 3, r: 0, g: 1, b: 2 };
    case 'BGRA': return { bpp: 4, r: 2, g: 1, b: 0 };
    case 'RGBA': return { bpp: 4, r: 0, g: 1, b: 2 };
    default: return undefined;
  }
}

/** True when drawText() can draw into frames of this format. */
export function canDrawInto(format: Frame['format']): boolean {
  return channels(format) !== undefined;
}

/** Width in pixels of `text` at `scale`. */
export function textWidth(text: string, scale: number): number {
  return text.length * GLYPH_WIDTH * scale;
}

/** Fills a rectangle (clipped to the frame) with an RGB colour. */
export function fillRect(frame: Frame, x0: number, y0: number, w: number, h: number, rgb: readonly [number, number, number]): void {
  const c = channels(frame.format);
  if (!c) return;
  const xs = Math.max(0, x0), xe = Math.min(frame.width, x0 + w);
  const ys = Math.max(0, y0), ye = Math.min(frame.height, y0 + h);
  for (let y = ys; y < ye; y++) {
    for (let x = xs; x < xe; x++) {
      const i = (y * frame.width + x) * c.bpp;
      frame.data[i + c.r] = rgb[0];
      frame.data[i + c.g] = rgb[1];
      frame.data[i + c.b] = rgb[2];
    }
  }
}

/** Draws `text` with its top-left corner at (x0, y0); unknown characters draw as spaces. */
export function drawText(frame: Frame, text: string, x0: number, y0: number, scale: number, rgb: readonly [number, number, number]): void {
  const c = channels(frame.format);
  if (!c) return;
  let x = x0;
  for (const ch of text) {
    const g = GLYPHS[ch] ?? GLYPHS[ch.toUpperCase()] ?? GLYPHS[' ']!;
    for (let gy = 0; gy < 7; gy++) {
      for (let gx = 0; gx < 5; gx++) {
        if (g[gy]![gx] === '1') fillRect(frame, x + gx * scale, y0 + gy * scale, scale, scale, rgb);
      }
    }
    x += GLYPH_WIDTH * scale;
  }
}
