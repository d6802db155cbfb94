// Benchmark frames: camera-like BGR content (smooth moving shapes plus per-pixel noise),
// generated once and held in memory. A plain test pattern compresses far better than a
// camera picture, which would flatter every encoder; noise keeps x264 honest.

/** xorshift32: deterministic, fast, no allocation. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** One noisy frame: a diagonal gradient and two moving boxes, plus noise of about ±10 levels. */
export function noisyFrame(width: number, height: number, index: number, seed = 7): Buffer {
  const data = Buffer.allocUnsafe(width * height * 3);
  const next = rng(seed * 7919 + index * 104729 + 1);
  const bx = (index * 7) % Math.max(1, width - width / 4);
  const by = (index * 3) % Math.max(1, height - height / 4);
  const bw = width >> 2, bh = height >> 2;
  const cx = width - 1 - ((index * 5) % Math.max(1, width - width / 6)) - width / 6;
  const cw = Math.max(8, (width / 6) | 0);
  let i = 0;
  for (let y = 0; y < height; y++) {
    const inBoxRow = y >= by && y < by + bh;
    const inCircleRow = y >= height / 2 && y < height / 2 + cw;
    for (let x = 0; x < width; x++) {
      let b = ((x + y + index * 2) * 160) / (width + height) + 40;
      let g = (y * 140) / height + 50;
      let r = (x * 140) / width + 60;
      if (inBoxRow && x >= bx && x < bx + bw) { b = 200; g = 60; r = 40; }
      else if (inCircleRow && x >= cx && x < cx + cw) { b = 30; g = 180; r = 220; }
      const n = next();
      data[i++] = clamp(b + (n & 15) - 8 + ((n >>> 4) & 3));
      data[i++] = clamp(g + ((n >>> 8) & 15) - 8 + ((n >>> 12) & 3));
      data[i++] = clamp(r + ((n >>> 16) & 15) - 8 + ((n >>> 20) & 3));
    }
  }
  return data;
}

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v | 0);

/** `count` distinct noisy frames; benchmarks cycle through them. */
export function noisyFrames(width: number, height: number, count: number, seed = 7): Buffer[] {
  const out: Buffer[] = [];
  for (let k = 0; k < count; k++) out.push(noisyFrame(width, height, k, seed));
  return out;
}

// ---- Frame index in the pixels (latency figure) -------------------------------------------
// The top band carries 16 blocks, black or white: 14 bits of frame index and 2 parity bits,
// large enough to survive H.264 at any sane bitrate and to read back from 8-bit grey.

export const INDEX_BITS = 16;

function code(index: number): number {
  const v = index & 0x3fff;
  const lo = popcount(v & 0x7f) & 1;
  const hi = popcount(v >> 7) & 1;
  return v | (lo << 14) | (hi << 15);
}

function popcount(v: number): number {
  let c = 0;
  for (; v; v &= v - 1) c++;
  return c;
}

/** Block geometry for a frame width: blocks span the full width, square. */
function blockSize(width: number): number {
  return Math.floor(width / INDEX_BITS);
}

/** Writes the index band into a BGR frame (in place). */
export function stampIndex(frame: Buffer, width: number, index: number): void {
  const bs = blockSize(width);
  const c = code(index);
  for (let bit = 0; bit < INDEX_BITS; bit++) {
    const v = (c >> bit) & 1 ? 235 : 16;
    for (let y = 0; y < bs; y++) {
      const row = (y * width + bit * bs) * 3;
      frame.fill(v, row, row + bs * 3);
    }
  }
}

/** Reads the index back from an 8-bit grey frame; -1 when the parity does not match. */
export function readIndex(gray: Uint8Array, width: number): number {
  const bs = blockSize(width);
  const q = bs >> 2;
  let c = 0;
  for (let bit = 0; bit < INDEX_BITS; bit++) {
    // Mean of the block's central half: away from edges the encoder smears.
    let sum = 0, n = 0;
    for (let y = q; y < bs - q; y += 2) {
      const row = y * width + bit * bs;
      for (let x = q; x < bs - q; x += 2) { sum += gray[row + x]!; n++; }
    }
    if (sum / n > 125) c |= 1 << bit;
  }
  const v = c & 0x3fff;
  return code(v) === c ? v : -1;
}
