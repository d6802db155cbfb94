// The output bit rate follows the `bitrate` option: 4 s of noise (every frame different, so the
// encoder spends what it is given) at two targets, the rate read back by ffprobe from the
// packets' sizes over their timestamps. A generous band: rate control is not exact per second.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSkyLine } from '../../src/index.js';
import { packets } from '../support/ffprobe.js';
import { noise } from '../support/frames.js';
import type { Frame } from '../../src/frame.js';
import { captureLogger } from '../support/quiet.js';

const W = 320, H = 240, FPS = 15, SECONDS = 4;
let dir: string;
let grain: Frame[];
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'skyline-bitrate-'));
  grain = Array.from({ length: 16 }, (_, k) => noise(W, H, k + 1));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function measuredKbps(kbps: number): Promise<number> {
  const sky = new FileSkyLine({ path: join(dir, `${kbps}.mp4`), bitrate: kbps, keyframeInterval: FPS, logger: captureLogger('warn').logger, statsIntervalMs: 0 });
  sky.on('error', () => undefined);
  try {
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    for (let i = 0; i < FPS * SECONDS; i++) assert.equal(await sky.putAsync(grain[i % grain.length]!, { timestamp: 1_700_000_000_000 + (i * 1000) / FPS }), true);
    await sky.stopStreaming();
    const pk = await packets(sky.path!);
    assert.equal(pk.length, FPS * SECONDS);
    // Bytes over the span they cover: each packet lasts 1/FPS.
    const bytes = pk.reduce((a, p) => a + p.size, 0);
    return (bytes * 8) / 1000 / (pk.length / FPS);
  } finally {
    await sky.close();
  }
}

test('the bit rate read back follows `bitrate`: 300 and 1200 kbit/s, each within -40 %..+40 %, the higher about 4 times the lower', async () => {
  const low = await measuredKbps(300);
  const high = await measuredKbps(1200);
  assert.ok(low > 300 * 0.6 && low < 300 * 1.4, `asked 300 kbit/s, got ${low.toFixed(0)}`);
  assert.ok(high > 1200 * 0.6 && high < 1200 * 1.4, `asked 1200 kbit/s, got ${high.toFixed(0)}`);
  const ratio = high / low;
  assert.ok(ratio > 2.5 && ratio < 6, `1200 vs 300 kbit/s: ${ratio.toFixed(2)} times`);
});
