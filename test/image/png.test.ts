// savePng: a frame to a PNG through GStreamer's pngenc, decoded back by ffmpeg pixel for pixel.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { savePng } from '../../src/image/png.js';
import { TestPattern } from '../../src/pattern/test-pattern.js';
import { decodeRgb, probeVideo } from '../support/ffprobe.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skyline-png-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a BGR frame of odd width is written losslessly: ffmpeg reads back the same pixels', async () => {
  const frame = new TestPattern(333, 120).frame(7, Date.UTC(2026, 0, 1, 12, 0, 0));
  const out = join(dir, 'odd.png');
  await savePng(frame, out);
  const probe = await probeVideo(out);
  assert.deepEqual([probe.codec, probe.width, probe.height], ['png', 333, 120]);
  const rgb = (await decodeRgb(out)).frames[0]!;
  for (let i = 0; i < 333 * 120; i++) {
    const same = rgb[i * 3] === frame.data[i * 3 + 2] && rgb[i * 3 + 1] === frame.data[i * 3 + 1] && rgb[i * 3 + 2] === frame.data[i * 3];
    if (!same) assert.fail(`pixel ${i % 333},${Math.floor(i / 333)} differs`);
  }
});

test('RGBA frames work too, and a bad frame or path fails with a clear error', async () => {
  const rgba = { data: new Uint8Array(16 * 16 * 4).fill(200), width: 16, height: 16, format: 'RGBA' as const };
  const out = join(dir, 'rgba.png');
  await savePng(rgba, out);
  assert.deepEqual((await decodeRgb(out)).frames[0]!.subarray(0, 3), Buffer.from([200, 200, 200]));
  await assert.rejects(savePng({ data: Buffer.alloc(10), width: 16, height: 16 }, out), /frame data has 10 bytes, expected 768 for 16x16 BGR/);
  await assert.rejects(savePng(rgba, join(dir, 'no/such/dir/x.png')), /cannot write .*no\/such\/dir\/x\.png/);
});
