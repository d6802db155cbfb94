#!/usr/bin/env node
// Idempotent set-up run before `npm start` (--runtime-only), `npm test` and `npm run bench`
// (--bench): installs missing Debian packages, (re)installs node_modules when the lock file
// changed, and rebuilds dist/ when a source file is newer. Plain Node, no dependencies,
// so it runs on a fresh clone before anything else is installed. It only adds: it never
// stops, disables or kills a service or process it did not start.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const started = Date.now();

// What the library needs to run (and to build its native binding), what the tests talk
// to, and what the benchmarks compare against.
const RUNTIME = [
  'gstreamer1.0-tools', 'gstreamer1.0-plugins-base', 'gstreamer1.0-plugins-good',
  'gstreamer1.0-plugins-bad', 'gstreamer1.0-plugins-ugly', 'gstreamer1.0-libav',
  'libgstreamer1.0-dev', 'libgstreamer-plugins-base1.0-dev', 'g++', 'make', 'pkg-config',
];
const TEST = ['ffmpeg', 'nginx', 'libnginx-mod-rtmp', 'openssl', 'chromium', 'fonts-dejavu-core', 'python3-gi', 'gir1.2-gst-rtsp-server-1.0', 'faketime', 'srt-tools', 'nftables'];
const BENCH = ['ffmpeg', 'python3-gi', 'gir1.2-gst-rtsp-server-1.0'];
const wanted = [...new Set([
  ...RUNTIME,
  ...(args.has('--runtime-only') ? [] : TEST),
  ...(args.has('--bench') ? BENCH : []),
])];
// Written while apt installs our packages so their services (nginx on port 80) are not
// started: the tests run their own nginx on free ports. Only ours is ever removed.
const POLICY_RC = '/usr/sbin/policy-rc.d';
const POLICY_MARK = '# gst-skyline bootstrap: no service starts during its apt-get install';

function log(msg) { process.stderr.write(`[bootstrap] ${msg}\n`); }

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${argv.join(' ')} failed with exit code ${r.status ?? r.signal}`);
  }
}

function missingDebianPackages(names) {
  if (!existsSync('/usr/bin/dpkg-query')) return [];
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...names], { encoding: 'utf8' });
  const installed = new Set(
    r.stdout.split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0]),
  );
  return names.filter((n) => !installed.has(n));
}

function installDebianPackages() {
  const missing = missingDebianPackages(wanted);
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  const sudo = isRoot ? [] : ['sudo', '-n'];
  if (!isRoot && spawnSync('sudo', ['-n', 'true']).status !== 0) {
    throw new Error(`missing Debian packages: ${missing.join(' ')}; run as root or: sudo apt-get install -y ${missing.join(' ')}`);
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const [cmd, ...pre] = [...sudo, 'apt-get'];
  run(cmd, [...pre, 'update', '-qq'], { env });
  const policy = holdServiceStarts(sudo);
  try {
    run(cmd, [...pre, 'install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
  } finally {
    if (policy) releaseServiceStarts(sudo);
  }
}

/** Adds our policy-rc.d unless the system has one (then its policy applies); true when added. */
function holdServiceStarts(sudo) {
  releaseServiceStarts(sudo); // one left behind by an interrupted run
  if (existsSync(POLICY_RC)) return false;
  const script = `#!/bin/sh\n${POLICY_MARK}\nexit 101\n`;
  return asRoot(sudo, ['sh', '-c', `printf '%s' "$1" > ${POLICY_RC} && chmod 755 ${POLICY_RC}`, 'sh', script]).status === 0;
}

function releaseServiceStarts(sudo) {
  if (!existsSync(POLICY_RC) || !readFileSync(POLICY_RC, 'utf8').includes(POLICY_MARK)) return;
  asRoot(sudo, ['rm', '-f', POLICY_RC]);
}

function asRoot(sudo, argv) {
  const [cmd, ...rest] = [...sudo, ...argv];
  return spawnSync(cmd, rest, { stdio: 'inherit' });
}

function lockHash() {
  return createHash('sha256').update(readFileSync(join(root, 'package-lock.json'))).digest('hex');
}

function installNodeModules() {
  const stamp = join(root, 'node_modules', '.gst-skyline-lock');
  const addon = join(root, 'node_modules/gstreamer-superficial/build/Release/gstreamer-superficial.node');
  const hash = lockHash();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash && existsSync(addon)) return;
  log('installing node_modules (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
  if (!existsSync(addon)) run('npm', ['rebuild', 'gstreamer-superficial']);
  writeFileSync(stamp, hash);
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function build() {
  const out = join(root, 'dist', 'index.js');
  const srcTime = Math.max(newestMtime(join(root, 'src')), statSync(join(root, 'tsconfig.json')).mtimeMs);
  if (existsSync(out) && statSync(out).mtimeMs >= srcTime) return;
  log('building dist/');
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
  // tsc leaves untouched outputs alone: stamp the entry point so the next check is cheap.
  if (existsSync(out)) execFileSync('touch', [out]);
}

try {
  installDebianPackages();
  installNodeModules();
  build();
  log(`ready in ${Date.now() - started} ms`);
} catch (err) {
  log(`failed: ${err.message}`);
  process.exit(1);
}
