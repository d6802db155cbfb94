// Picture geometry through FileSkyLine, decoded by ffmpeg: a frame of another shape is scaled
// with its aspect kept and black bars added (the README's letterboxing), and frames of odd width
// are neither garbled nor sheared. Patterned frames (four coloured quadrants), so a stretched
// picture, a misplaced bar or rows read with the wrong stride move the edges that are checked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSkyLine } from '../../src/index.js';
import type { Frame } from '../../src/frame.js';
import { decodeRgb, probeVideo } from '../support/ffprobe.js';
import type { Rgb } from '../support/frames.js';
import { captureLogger } from '../support/quiet.js';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'skyline-geometry-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

const RED: Rgb = [255, 0, 0], GREEN: Rgb = [0, 255, 0], BLUE: Rgb = [0, 0, 255], WHITE: Rgb = [255, 255, 255], BLACK: Rgb = [0, 0, 0];
/** Top-left, top-right, bottom-left, bottom-right. */
const QUADRANTS: [Rgb, Rgb, Rgb, Rgb] = [RED, GREEN, BLUE, WHITE];

/** A BGR frame of four quadrants; the split is at floor(width / 2), floor(height / 2). */
function quadrants(width: number, height: number): Frame {
  const data = Buffer.alloc(width * height * 3);
  const mx = Math.floor(width / 2), my = Math.floor(height / 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = QUADRANTS[(y < my ? 0 : 2) + (x < mx ? 0 : 1)]!;
      const i = (y * width + x) * 3;
      data[i] = b; data[i + 1] = g; data[i + 2] = r;
    }
  }
  return { data, width, height, format: 'BGR' };
}

type Picture = { rgb: Buffer; width: number; height: number };

function px(p: Picture, x: number, y: number): Rgb {
  const i = (y * p.width + x) * 3;
  return [p.rgb[i]!, p.rgb[i + 1]!, p.rgb[i + 2]!];
}

/** Mean colour of a (2r+1)² patch. */
function patch(p: Picture, x: number, y: number, r = 3): Rgb {
  const sum = [0, 0, 0];
  let n = 0;
  for (let yy = y - r; yy <= y + r; yy++) for (let xx = x - r; xx <= x + r; xx++) {
    const c = px(p, xx, yy);
    for (let k = 0; k < 3; k++) sum[k]! += c[k]!;
    n++;
  }
  return sum.map((v) => v / n) as Rgb;
}

const dist = (a: Rgb, b: Rgb) => Math.max(...a.map((v, k) => Math.abs(v - b[k]!)));

function assertColour(p: Picture, x: number, y: number, want: Rgb, what: string): void {
  const got = patch(p, x, y);
  assert.ok(dist(got, want) < 40, `${what} at (${x}, ${y}): ${got.map(Math.round)}, expected ${want}`);
}

/**
 * Where, walking from `from` to `to` (exclusive) along a row (dx=1) or column (dy=1), the picture
 * stops looking like colour `a` and starts looking like `b`: the first position closer to `b`.
 */
function edge(p: Picture, fixed: number, from: number, to: number, along: 'x' | 'y', a: Rgb, b: Rgb): number {
  for (let v = from; v < to; v++) {
    const c = along === 'x' ? px(p, v, fixed) : px(p, fixed, v);
    if (dist(c, b) < dist(c, a)) return v;
  }
  return -1;
}

function near(actual: number, expected: number, what: string, tolerance = 2): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} ± ${tolerance}`);
}

async function record(name: string, session: { width: number; height: number }, frames: Frame[][]): Promise<{ pictures: Picture[][]; width: number; height: number; path: string }> {
  const sky = new FileSkyLine({ path: join(dir, name), logger: captureLogger('warn').logger, keyframeInterval: 5, statsIntervalMs: 0 });
  sky.on('error', () => undefined);
  try {
    await sky.startStreaming({ fps: 10, ...session });
    let i = 0;
    for (const segment of frames) for (const f of segment) assert.equal(await sky.putAsync(f, { timestamp: 1_700_000_000_000 + i++ * 100 }), true);
    await sky.stopStreaming();
    const { frames: decoded, width, height } = await decodeRgb(sky.path!);
    assert.equal(decoded.length, i, 'every frame put was decoded');
    const pictures: Picture[][] = [];
    let k = 0;
    for (const segment of frames) pictures.push(segment.map(() => ({ rgb: decoded[k++]!, width, height })));
    return { pictures, width, height, path: sky.path! };
  } finally {
    await sky.close();
  }
}

test('other shapes are letterboxed and pillarboxed into the session size: black bars, the pattern neither stretched nor moved', async () => {
  // 320x240 session: a 16:9 frame (320x180) fills the width with 30-row bars above and below;
  // a square one (240x240) fills the height with 40-column bars left and right.
  const { pictures, width, height } = await record('boxed.mp4', { width: 320, height: 240 }, [
    Array.from({ length: 5 }, () => quadrants(320, 180)),
    Array.from({ length: 5 }, () => quadrants(240, 240)),
  ]);
  assert.deepEqual([width, height], [320, 240]);
  const wide = pictures[0]!.at(-1)!;
  for (const y of [4, 15, 25, 214, 225, 235]) for (const x of [20, 160, 300]) assertColour(wide, x, y, BLACK, '16:9 letterbox bar');
  assertColour(wide, 80, 75, RED, '16:9 top-left');
  assertColour(wide, 240, 75, GREEN, '16:9 top-right');
  assertColour(wide, 80, 165, BLUE, '16:9 bottom-left');
  assertColour(wide, 240, 165, WHITE, '16:9 bottom-right');
  near(edge(wide, 80, 0, 120, 'y', BLACK, RED), 30, '16:9: top bar ends at row');
  near(edge(wide, 80, 60, 240, 'y', RED, BLUE), 120, '16:9: the quadrants meet at row');
  near(edge(wide, 80, 150, 240, 'y', BLUE, BLACK), 210, '16:9: bottom bar starts at row');
  near(edge(wide, 75, 0, 320, 'x', RED, GREEN), 160, '16:9: the quadrants meet at column');

  const square = pictures[1]!.at(-1)!;
  for (const x of [4, 20, 35, 284, 300, 315]) for (const y of [20, 120, 220]) assertColour(square, x, y, BLACK, 'square pillarbox bar');
  assertColour(square, 100, 60, RED, 'square top-left');
  assertColour(square, 220, 60, GREEN, 'square top-right');
  assertColour(square, 100, 180, BLUE, 'square bottom-left');
  assertColour(square, 220, 180, WHITE, 'square bottom-right');
  near(edge(square, 60, 0, 160, 'x', BLACK, RED), 40, 'square: left bar ends at column');
  near(edge(square, 60, 100, 320, 'x', RED, GREEN), 160, 'square: the quadrants meet at column');
  near(edge(square, 60, 220, 320, 'x', GREEN, BLACK), 280, 'square: right bar starts at column');
  near(edge(square, 100, 0, 240, 'y', RED, BLUE), 120, 'square: the quadrants meet at row');
});

test('odd widths: a 161x121 patterned frame, in a session of its own size and scaled into 320x240, is not garbled or sheared', async () => {
  // Rows of 161 BGR pixels are 483 bytes: GStreamer wants 484. A frame copied without re-striding
  // slides one byte further each row (colours rotate, edges lean): every row's edge is checked.
  const own = await record('odd-own.mp4', { width: 161, height: 121 }, [Array.from({ length: 3 }, () => quadrants(161, 121))]);
  assert.deepEqual([own.width, own.height], [162, 122], 'odd sizes rounded up to even');
  const a = own.pictures[0]!.at(-1)!;
  assertColour(a, 40, 30, RED, 'own size top-left');
  assertColour(a, 120, 30, GREEN, 'own size top-right');
  assertColour(a, 40, 90, BLUE, 'own size bottom-left');
  assertColour(a, 120, 90, WHITE, 'own size bottom-right');
  for (const y of [4, 20, 40, 56]) near(edge(a, y, 20, 150, 'x', RED, GREEN), 80, `own size, row ${y}: top edge at column`);
  for (const y of [66, 80, 100, 116]) near(edge(a, y, 20, 150, 'x', BLUE, WHITE), 80, `own size, row ${y}: bottom edge at column`);
  for (const x of [10, 40, 70]) near(edge(a, x, 10, 110, 'y', RED, BLUE), 60, `own size, column ${x}: left edge at row`);

  const scaled = await record('odd-scaled.mp4', { width: 320, height: 240 }, [Array.from({ length: 3 }, () => quadrants(161, 121))]);
  const b = scaled.pictures[0]!.at(-1)!;
  assertColour(b, 80, 60, RED, 'scaled top-left');
  assertColour(b, 240, 60, GREEN, 'scaled top-right');
  assertColour(b, 80, 180, BLUE, 'scaled bottom-left');
  assertColour(b, 240, 180, WHITE, 'scaled bottom-right');
  for (const y of [8, 40, 80, 112]) near(edge(b, y, 40, 300, 'x', RED, GREEN), 159, `scaled, row ${y}: top edge at column`, 3);
  for (const y of [128, 160, 200, 232]) near(edge(b, y, 40, 300, 'x', BLUE, WHITE), 159, `scaled, row ${y}: bottom edge at column`, 3);
  for (const x of [20, 80, 140]) near(edge(b, x, 20, 220, 'y', RED, BLUE), 120, `scaled, column ${x}: left edge at row`, 3);
  assert.equal((await probeVideo(scaled.path)).frames, 3);
});
