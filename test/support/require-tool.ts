// One rule for tests that need an outside tool (nginx-rtmp, openssl, ffmpeg, IPv6 loopback, ...):
// on a developer machine a missing tool skips the test and says what to install; under CI=true
// (where the bootstrap installed everything) it is a failure, so a broken setup never passes as
// a skipped suite. Only test/kvs/live.test.ts (real AWS) may skip under CI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

export function underCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * For `{ skip }` of a test or describe: false when `present`, else the reason to skip. Under CI a
 * missing tool throws here, failing the test file with the reason and how to get the tool.
 */
export function requireTool(what: string, present: boolean | (() => boolean), install: string): string | false {
  const ok = typeof present === 'function' ? present() : present;
  if (ok) return false;
  const reason = `${what} is missing (${install})`;
  if (underCi()) throw new Error(`${reason}: required under CI=true`);
  return reason;
}

/** Inside a running test: skips it, or under CI fails it, when `present` is false. Returns `present`. */
export function needTool(t: { skip(message?: string): void }, what: string, present: boolean, install: string): boolean {
  if (present) return true;
  const reason = `${what} is missing (${install})`;
  if (underCi()) assert.fail(`${reason}: required under CI=true`);
  t.skip(reason);
  return false;
}

/** True when `cmd args` runs and exits 0 (a quick presence check for a command-line tool). */
export function commandWorks(cmd: string, args: string[] = ['-version']): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}
