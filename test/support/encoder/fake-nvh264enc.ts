// Builds test/support/encoder/fake-nvh264enc.c (an nvh264enc that exists and cannot start) into a
// plugin directory for GST_PLUGIN_PATH.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const source = join(dirname(fileURLToPath(import.meta.url)), 'fake-nvh264enc.c');

/** The directory holding the built plugin (cached by source hash); throws, naming what is missing. */
export function fakeNvh264encDir(): string {
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `skyline-fake-nvh264enc-${hash}`);
  const lib = join(dir, 'libgstfakenvh264enc.so');
  if (existsSync(lib)) return dir;
  mkdirSync(dir, { recursive: true });
  const flags = spawnSync('pkg-config', ['--cflags', '--libs', 'gstreamer-1.0'], { encoding: 'utf8' });
  if (flags.status !== 0) throw new Error(`pkg-config gstreamer-1.0 failed (install libgstreamer1.0-dev): ${flags.stderr ?? flags.error}`);
  const cc = spawnSync('cc', ['-shared', '-fPIC', '-o', `${lib}.tmp`, source, ...flags.stdout.trim().split(/\s+/)], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`building the fake nvh264enc failed: ${cc.stderr ?? cc.error}`);
  renameSync(`${lib}.tmp`, lib);
  return dir;
}
