// Builds test/support/kvs/fake-kvssink.c (a kvssink stand-in) into a plugin directory for GST_PLUGIN_PATH.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const source = join(dirname(fileURLToPath(import.meta.url)), 'fake-kvssink.c');

/**
 * The directory holding the built plugin (cached by source hash). Throws, naming what is missing,
 * when it cannot be built: the bootstrap installs cc, pkg-config and the GStreamer headers.
 */
export function fakeKvssinkDir(): string {
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `skyline-fake-kvssink-${hash}`);
  const lib = join(dir, 'libgstfakekvssink.so');
  if (existsSync(lib)) return dir;
  mkdirSync(dir, { recursive: true });
  const flags = spawnSync('pkg-config', ['--cflags', '--libs', 'gstreamer-base-1.0'], { encoding: 'utf8' });
  if (flags.status !== 0) throw new Error(`pkg-config gstreamer-base-1.0 failed (install libgstreamer1.0-dev): ${flags.stderr ?? flags.error}`);
  const cc = spawnSync('cc', ['-shared', '-fPIC', '-o', `${lib}.tmp`, source, ...flags.stdout.trim().split(/\s+/)], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`building the fake kvssink failed: ${cc.stderr ?? cc.error}`);
  renameSync(`${lib}.tmp`, lib);
  return dir;
}
