// A .env in the working directory must not reach code execution, and the ingest worker (which
// parses untrusted media) gets a short environment: no NODE_OPTIONS, LD_* or AWS_* secrets.
// The attack: a cloned repository's .env with NODE_OPTIONS=--require ./pwn.cjs ran that file
// when a LiveSource started its worker.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LiveSource } from '../../src/index.js';
import { workerEnvironment } from '../../src/ingest/gst-reader.js';
import { ROOT } from '../support/child.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'skyline-env-'));
  // Leaves a mark for every process it runs in.
  writeFileSync(join(dir, 'pwn.cjs'), `require('fs').writeFileSync(require('path').join(${JSON.stringify(dir)}, 'pwned-' + process.pid), '')\n`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const pwned = () => readdirSync(dir).filter((f) => f.startsWith('pwned-'));

/** Starts a LiveSource on a test pattern until its first frame, then closes it. */
async function oneFrame(): Promise<void> {
  const s = new LiveSource({ url: 'testsrc://ball?width=160&height=120&fps=10' });
  s.on('error', () => undefined);
  try {
    await s.start();
    for await (const _ of s) break;
  } finally {
    await s.close();
  }
}

test('a .env with NODE_OPTIONS in the working directory runs nothing: a SkyLine and a LiveSource worker start without it', () => {
  writeFileSync(join(dir, '.env'), `NODE_OPTIONS=--require ${join(dir, 'pwn.cjs')}\nSKYLINE_ENV_TEST=from-dotenv\n`);
  const script = `
    import { RTSPSkyLine, LiveSource } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/index.ts')).href)};
    import { applyEnvironment } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/config.ts')).href)};
    const sky = new RTSPSkyLine({ port: 0 });
    await sky.close();
    const defaults = { nodeOptions: process.env.NODE_OPTIONS ?? null, other: process.env.SKYLINE_ENV_TEST ?? null };
    const s = new LiveSource({ url: 'testsrc://ball?width=160&height=120&fps=10' });
    s.on('error', () => undefined);
    await s.start();
    for await (const _ of s) break;
    await s.close();
    // Asked for by name, the .env is read, but never its NODE_OPTIONS.
    applyEnvironment({ dotenvPath: '.env' });
    console.log(JSON.stringify({ defaults, asked: { nodeOptions: process.env.NODE_OPTIONS ?? null, other: process.env.SKYLINE_ENV_TEST ?? null } }));
  `;
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), {
    defaults: { nodeOptions: null, other: null },
    asked: { nodeOptions: null, other: 'from-dotenv' },
  });
  assert.deepEqual(pwned(), [], 'pwn.cjs ran');
});

test('the ingest worker inherits no NODE_OPTIONS, LD_* or AWS_* from the application', async () => {
  const saved = { ...process.env };
  process.env.NODE_OPTIONS = `--require ${join(dir, 'pwn.cjs')}`;
  process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  try {
    await oneFrame();
  } finally {
    process.env = saved;
  }
  assert.deepEqual(pwned(), [], 'pwn.cjs ran in the worker');
  const env = workerEnvironment({ PATH: '/usr/bin', GST_DEBUG: '2', NODE_OPTIONS: '--require x', LD_PRELOAD: '/tmp/x.so', AWS_SECRET_ACCESS_KEY: 'k', AWS_SESSION_TOKEN: 't', KVS_TOKEN: 'k', https_proxy: 'http://proxy:3128' });
  assert.deepEqual(env, { PATH: '/usr/bin', GST_DEBUG: '2', https_proxy: 'http://proxy:3128', UV_THREADPOOL_SIZE: '4' });
});
