// What `npm pack` makes is a working package: installed from the tarball into a fresh project
// (the registry or npm's cache supplies the dependencies; the native binding is built as a
// user's install builds it), it imports, typechecks under strict tsc, and its command runs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeVideo } from '../support/ffprobe.js';
import { ROOT } from '../support/child.js';

let work: string;
let app: string;
let tarball: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'skyline-pack-'));
  app = join(work, 'app');
});
after(() => {
  rmSync(work, { recursive: true, force: true });
});

function npm(args: string[], cwd: string, timeoutMs: number): string {
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund'], { cwd, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, npm_config_update_notifier: 'false' } });
  assert.equal(r.status, 0, `npm ${args.join(' ')} failed (${r.signal ?? r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test('npm pack builds dist/ (prepack) and ships dist, README and .env.example, nothing else', () => {
  const out = npm(['pack', '--json', '--pack-destination', work], ROOT, 180_000);
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(work, info!.filename);
  const paths = info!.files.map((f) => f.path);
  for (const p of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/bin.js', 'dist/gst/binding.js', 'README.md', '.env.example', 'package.json']) {
    assert.ok(paths.includes(p), `${p} in the tarball`);
  }
  const stray = paths.filter((p) => !p.startsWith('dist/') && !['README.md', '.env.example', 'package.json'].includes(p));
  assert.deepEqual(stray, []);
  assert.deepEqual(paths.filter((p) => p.endsWith('.map') || /(^|\/)(test|bench|examples|support)\/|\.test\./.test(p)), []);
});

test('the tarball installs into a fresh project: import, strict typecheck, the gst-skyline command records a file', { timeout: 600_000 }, () => {
  assert.ok(tarball, 'packed by the previous test');
  execFileSync('mkdir', ['-p', app]);
  // What the README tells users: allow the binding's install script (npm 11+).
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', allowScripts: { 'gstreamer-superficial': true } }));
  npm(['install', tarball, '--prefer-offline'], app, 420_000);
  assert.ok(readdirSync(join(app, 'node_modules/gstreamer-superficial/build/Release')).includes('gstreamer-superficial.node'), 'the native binding was built');

  writeFileSync(join(app, 'main.js'), `
    import { FileSkyLine, RTSPSkyLine, KVSSkyLine, RtmpSkyLine, PatternSource, SkyLine } from 'gst-skyline';
    console.log(JSON.stringify([FileSkyLine, RTSPSkyLine, KVSSkyLine, RtmpSkyLine, PatternSource].map((c) => c.prototype instanceof SkyLine || c === PatternSource)));
  `);
  const imported = execFileSync(process.execPath, ['main.js'], { cwd: app, encoding: 'utf8' });
  assert.equal(imported.trim(), '[true,true,true,true,true]');

  // Strict, with the library's own declarations checked too (skipLibCheck off).
  writeFileSync(join(app, 'check.ts'), `
    import { FileSkyLine, RTSPSkyLine, PatternSource, USE_LAST_VALUE, type SkyLineStats, type Frame, type RTSPSkyLineStats } from 'gst-skyline';
    const sky = new FileSkyLine({ path: 'x.mp4', bitrate: 1000 });
    const stats: SkyLineStats = sky.stats();
    export const accepted: number = stats.framesAccepted;
    const frame: Frame = { data: Buffer.alloc(12), width: 2, height: 2, format: 'BGR' };
    export const ok: boolean = sky.put(frame, { timestamp: Date.now() });
    export async function loop(rtsp: RTSPSkyLine): Promise<number> {
      await rtsp.startStreaming({ fps: USE_LAST_VALUE, width: 640, height: 360 });
      for await (const f of new PatternSource({ width: 640, height: 360, frames: 3 })) rtsp.put(f, { timestamp: f.timestamp });
      const s: RTSPSkyLineStats = rtsp.stats();
      return s.clients;
    }
  `);
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false,
      // @types/node from this checkout: a TypeScript user installs it anyway.
      typeRoots: [join(ROOT, 'node_modules/@types')], types: ['node'],
    },
    files: ['check.ts'],
  }));
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);

  const bin = join(app, 'node_modules/.bin/gst-skyline');
  const rec = spawnSync(bin, ['record', 'out.mp4', '--size', '64x64', '--fps', '10', '--duration', '1'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
  assert.equal(rec.status, 0, rec.stdout + rec.stderr);
  const stopped = JSON.parse(rec.stdout.trim().split('\n').at(-1)!);
  assert.equal(stopped.event, 'stopped');
  return probeVideo(join(app, 'out.mp4')).then((p) => assert.deepEqual([p.width, p.height, p.frames], [64, 64, stopped.framesEncoded]));
});

test('without the built binding the error names the remedy (allowScripts, onlyBuiltDependencies, npm rebuild)', () => {
  const build = join(app, 'node_modules/gstreamer-superficial/build');
  renameSync(build, `${build}.away`);
  try {
    const r = spawnSync(join(app, 'node_modules/.bin/gst-skyline'), ['record', 'out2.mp4', '--size', '64x64', '--duration', '1'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1);
    const failed = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(failed.event, 'failed');
    assert.match(failed.error, /"allowScripts": \{ "gstreamer-superficial": true \}/);
    assert.match(failed.error, /onlyBuiltDependencies/);
    assert.match(failed.error, /npm rebuild gstreamer-superficial/);
  } finally {
    renameSync(`${build}.away`, build);
  }
});
