// The published shape: a project that depends on gst-skyline (here through a symlink in
// node_modules, as npm link and workspaces do) imports the built ESM entry and its types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

test("import { FileSkyLine } from 'gst-skyline' works from a dependent project through a symlink", () => {
  const app = mkdtempSync(join(tmpdir(), 'skyline-app-'));
  try {
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(root, join(app, 'node_modules', 'gst-skyline'), 'dir');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(app, 'main.js'), `
      import { FileSkyLine, SkyLine, USE_LAST_VALUE, FPS_METER_WARMUP_FRAMES } from 'gst-skyline';
      const sky = new FileSkyLine({ path: '/tmp/x.mp4', statsIntervalMs: 0 });
      console.log(JSON.stringify({
        file: typeof FileSkyLine, base: sky instanceof SkyLine, state: sky.state, USE_LAST_VALUE, FPS_METER_WARMUP_FRAMES,
      }));
    `);
    const out = execFileSync(process.execPath, ['main.js'], { cwd: app, encoding: 'utf8', env: { ...process.env, SKYLINE_LOG_LEVEL: 'error' } });
    assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), {
      file: 'function', base: true, state: 'stopped', USE_LAST_VALUE: -999, FPS_METER_WARMUP_FRAMES: 100,
    });
    // The declarations resolve through the exports map too.
    writeFileSync(join(app, 'check.ts'), `
      import { FileSkyLine, type SkyLineStats } from 'gst-skyline';
      const s: SkyLineStats = new FileSkyLine({ path: 'x.mp4' }).stats();
      export const n: number = s.framesAccepted;
    `);
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['check.ts'],
    }));
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
});
