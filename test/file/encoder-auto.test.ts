// encoder: 'auto' passes over a hardware encoder that is installed but cannot start. A stand-in
// nvh264enc (test/support/encoder/fake-nvh264enc.c: it exists, takes nvh264enc's properties and
// fails to open, as nvh264enc does without an NVIDIA GPU) is first in the 'auto' list here.
import { fakeNvh264encDir } from '../support/encoder/fake-nvh264enc.js';
// Before GStreamer starts in this process, and for the gst-inspect/gst-launch probes it runs.
process.env.GST_PLUGIN_PATH = [fakeNvh264encDir(), process.env.GST_PLUGIN_PATH].filter(Boolean).join(':');

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSkyLine } from '../../src/index.js';
import { probeVideo } from '../support/ffprobe.js';
import { level } from '../support/frames.js';
import { captureLogger } from '../support/quiet.js';

const dir = mkdtempSync(join(tmpdir(), 'skyline-encoder-auto-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("'auto' skips an installed hardware encoder that fails to start and records with x264enc", async () => {
  const inspect = spawnSync('gst-inspect-1.0', ['nvh264enc'], { encoding: 'utf8' });
  assert.equal(inspect.status, 0, 'the stand-in nvh264enc is installed');
  assert.match(inspect.stdout, /Fake nvh264enc/, 'and it is the stand-in, not a real one');

  const sky = new FileSkyLine({ path: join(dir, 'auto.mp4'), encoder: 'auto', logger: captureLogger('warn').logger, statsIntervalMs: 0 });
  sky.on('error', () => undefined);
  try {
    await sky.startStreaming({ fps: 10, width: 160, height: 120 });
    assert.equal(sky.state, 'streaming');
    assert.match(sky.pipelineDescription!, /x264enc name=encoder/);
    assert.doesNotMatch(sky.pipelineDescription!, /nvh264enc/);
    for (let i = 0; i < 10; i++) assert.equal(await sky.putAsync(level(160, 120, i * 20), { timestamp: 1_700_000_000_000 + i * 100 }), true);
    await sky.stopStreaming();
    const p = await probeVideo(sky.path!);
    assert.deepEqual([p.codec, p.frames], ['h264', 10]);
  } finally {
    await sky.close();
  }
});
