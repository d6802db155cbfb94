// kvssink mode against a stand-in kvssink (test/support/kvs/fake-kvssink.c): the launch string,
// the credential file it reads, and (issue 9, defect 9) one pipeline for every session.
import { fakeKvssinkDir } from '../support/kvs/fake-kvssink.js';
// Before GStreamer starts in this process: it reads GST_PLUGIN_PATH once.
process.env.GST_PLUGIN_PATH = [fakeKvssinkDir(), process.env.GST_PLUGIN_PATH].filter(Boolean).join(':');

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { KVSSkyLine } from '../../src/kvs/kvs-skyline.js';
import { level } from '../support/frames.js';
import { startEmulator, TEST_KEY } from '../support/kvs/harness.js';
import { captureLogger } from '../support/quiet.js';

const work = mkdtempSync(join(tmpdir(), 'skyline-kvssink-'));
process.env.FAKE_KVSSINK_LOG = join(work, 'sink.log');
after(() => rmSync(work, { recursive: true, force: true }));

function sinkLog(): Array<{ stream: string; credentialPath: string; bytes: number }> {
  if (!existsSync(process.env.FAKE_KVSSINK_LOG!)) return [];
  return readFileSync(process.env.FAKE_KVSSINK_LOG!, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
    const [stream, credentialPath, bytes] = l.split(' ');
    return { stream: stream!, credentialPath: credentialPath!, bytes: Number(bytes) };
  });
}

test('two kvssink sessions run one pipeline: same description, same credential path, every frame delivered', async () => {
  const emu = await startEmulator();
  const log = captureLogger('debug');
  const sky = new KVSSkyLine({
    streamName: 'cam-1', region: emu.region, credentials: TEST_KEY, endpoint: emu.endpoint,
    sink: 'kvssink', logger: log.logger, statsIntervalMs: 0, keyframeInterval: 10,
  });
  const errors: Error[] = [];
  sky.on('error', (e) => errors.push(e));
  const descriptions: string[] = [];
  const paths: string[] = [];
  try {
    for (let session = 0; session < 2; session++) {
      await sky.startStreaming({ fps: 25, width: 160, height: 120 });
      assert.equal(sky.sinkMode, 'kvssink');
      const before = sinkLog().length;
      for (let i = 0; i < 20; i++) assert.equal(await sky.putAsync(level(160, 120, i * 10), { timestamp: 1_700_000_000_000 + session * 10_000 + i * 40 }), true);
      await sky.stopStreaming();
      const rows = sinkLog().slice(before);
      assert.equal(rows.length, 20, `session ${session}: every access unit reached kvssink`);
      assert.ok(rows.every((r) => r.stream === 'cam-1' && r.bytes > 0));
      paths.push(rows[0]!.credentialPath);
      descriptions.push(sky.kvssinkPipelineDescription!);
      assert.equal(existsSync(rows[0]!.credentialPath), false, 'credential file removed when the session stops');
    }
    assert.deepEqual(errors, []);
    assert.equal(descriptions[0], descriptions[1], 'the same description: the cached pipeline is reused, none leaks');
    assert.equal(paths[0], paths[1]);
    assert.match(descriptions[0]!, /credential-path=/);
    assert.equal(log.text().includes(TEST_KEY.secretAccessKey), false);
  } finally {
    await sky.close();
    await emu.close();
  }
  assert.equal(existsSync(dirname(paths[0]!)), false, 'its private directory removed at close()');
});
