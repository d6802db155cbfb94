#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner (through tsx). Test files run one
// at a time: they drive real encoders, servers and players on a small machine.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv.slice(2);

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'support' ? [] : find(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const files = find(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
const env = {
  ...process.env,
  // Pipelines with GStreamer sinks each hold a libuv threadpool thread (bus watch).
  UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '32',
  SKYLINE_LOG_LEVEL: process.env.SKYLINE_LOG_LEVEL ?? 'warn',
};
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
