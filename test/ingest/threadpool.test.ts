// Eight LiveSources decoding and eight RTSPSkyLines streaming in one process hold no libuv
// threadpool thread: fs and dns calls still complete with the default pool of 4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PROBE_ROUNDS } from '../support/threadpool-probe.js';

test('eight sources and eight SkyLines leave fs and dns working with the default pool of 4', async () => {
  const env = { ...process.env };
  delete env['UV_THREADPOOL_SIZE'];
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./threadpool-child.ts', import.meta.url).pathname], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearTimeout(timer);
  assert.equal(code, 0, err.slice(-2000));
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as { threadpool: string | null; skylines: number; sources: number; frames: number[]; fs: number; dns: number; timeouts: number };
  assert.equal(r.threadpool, null, 'UV_THREADPOOL_SIZE not set in the child');
  assert.equal(r.skylines, 8);
  assert.equal(r.sources, 8, 'every source streaming and decoding');
  assert.ok(r.frames.every((n) => n > 5), `frames per source: ${r.frames}`);
  assert.equal(r.timeouts, 0, 'no fs or dns call left waiting (30 s bound per call)');
  assert.deepEqual([r.fs, r.dns], [PROBE_ROUNDS, PROBE_ROUNDS], 'every fs and dns call of the probe completed');
});
