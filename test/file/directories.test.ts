// Issue 9, defect 7: FileSkyLine into a directory that does not exist accepted every frame and
// lost the whole recording. Missing directories are created; a path that cannot be written fails
// startStreaming() naming the absolute path, and no frame is accepted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { FileSkyLine } from '../../src/index.js';
import { probeVideo } from '../support/ffprobe.js';
import { level } from '../support/frames.js';
import { captureLogger } from '../support/quiet.js';

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'skyline-dirs-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

function recorder(path: string, extra: Record<string, unknown> = {}): { sky: FileSkyLine; errors: Error[] } {
  const sky = new FileSkyLine({ path, logger: captureLogger('warn').logger, statsIntervalMs: 0, warmupFrames: 10, ...extra });
  const errors: Error[] = [];
  sky.on('error', (e) => errors.push(e));
  return { sky, errors };
}

for (const warmup of [false, true]) {
  test(`missing parent directories are created (${warmup ? 'fps measured in warmup' : 'fps given'}); every frame is recorded`, async () => {
    const path = join(dir, `fresh-${warmup}`, 'out', 'run.mp4');
    const { sky, errors } = recorder(path);
    await sky.startStreaming(warmup ? {} : { fps: 30, width: 160, height: 120 });
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 30; i++) assert.equal(await sky.putAsync(level(160, 120, i * 8), { timestamp: t0 + (i * 1000) / 30 }), true);
    await sky.stopStreaming();
    await sky.close();
    assert.deepEqual(errors.map((e) => e.message), []);
    assert.equal(sky.path, path);
    const p = await probeVideo(path);
    assert.equal(p.frames, 30);
    assert.deepEqual([p.width, p.height], [160, 120]);
  });
}

// Root ignores permission bits, so the unwritable cases are ones no user can write: a parent that is a
// file, and a path that is a directory.
const unwritable: Array<[string, () => string]> = [
  ['a parent that is a file', () => {
    writeFileSync(join(dir, 'plain-file'), 'x');
    return join(dir, 'plain-file', 'sub', 'run.mkv');
  }],
  ['a path that is a directory', () => {
    mkdirSync(join(dir, 'is-a-dir.mp4'), { recursive: true });
    return join(dir, 'is-a-dir.mp4');
  }],
];

for (const [what, make] of unwritable) {
  for (const warmup of [false, true]) {
    test(`${what}: startStreaming() fails naming the absolute path, put() accepts nothing (${warmup ? 'warmup' : 'fps given'})`, async () => {
      const path = make();
      // Given relative, so the message must show it made absolute.
      const { sky } = recorder(relative(process.cwd(), path));
      await assert.rejects(sky.startStreaming(warmup ? {} : { fps: 30, width: 160, height: 120 }), (err: Error) => {
        assert.ok(err.message.includes(resolve(path)), err.message);
        return true;
      });
      assert.equal(sky.state, 'error');
      for (let i = 0; i < 5; i++) assert.equal(sky.put(level(160, 120, 0)), false, 'a frame that cannot be recorded is not accepted');
      assert.equal(sky.stats().framesAccepted, 0);
      await sky.stopStreaming();
      await sky.close();
    });
  }
}
