// How a SkyLine logs inside someone else's application: errors go to 'error' listeners, and are
// logged (with their stack) only when nobody listens; without a logger, warnings and errors go
// to stderr and nothing to stdout. Issue 9, defect 13.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultiSkyLine, type SkyLineOptions } from '../../src/index.js';
import { captureLogger } from '../support/quiet.js';
import { RecordingDestination } from '../support/recording-destination.js';

/** A SkyLine whose destination refuses to open. */
class Refused extends MultiSkyLine {
  constructor(options: SkyLineOptions) {
    const refusing = new RecordingDestination('refusing');
    refusing.openError = new Error('destination refused');
    super({ ...options, destinations: [refusing] });
  }
}

function errorLines(text: string): Array<{ msg: string; err?: { message?: string; stack?: string; type?: string } }> {
  return text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((o) => o.level >= 50);
}

test('with an error listener, errors are not logged at error level', async () => {
  const cap = captureLogger('trace');
  const sky = new Refused({ logger: cap.logger });
  const seen: Error[] = [];
  sky.on('error', (e) => seen.push(e));
  await assert.rejects(sky.startStreaming({ fps: 10, width: 64, height: 48 }), /destination refused/);
  assert.equal(seen.length, 1);
  assert.deepEqual(errorLines(cap.text()), []);
  await sky.close();
});

test('without an error listener, an error is logged once, with its stack', async () => {
  const cap = captureLogger('trace');
  const sky = new Refused({ logger: cap.logger });
  await assert.rejects(sky.startStreaming({ fps: 10, width: 64, height: 48 }), /destination refused/);
  const lines = errorLines(cap.text());
  assert.equal(lines.length, 1, cap.text());
  assert.match(lines[0]!.err?.message ?? '', /destination refused/);
  assert.match(lines[0]!.err?.stack ?? '', /destination refused\n\s+at /);
  await sky.close();
});

test('without a logger: nothing on stdout, warnings and errors on stderr', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skyline-logging-'));
  try {
    const env = { ...process.env };
    delete env.SKYLINE_LOG_LEVEL;
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../support/default-logger-child.ts'), join(dir, 'x.mp4')], {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string });
    assert.ok(lines.length > 0);
    assert.ok(lines.every((l) => l.level >= 40), r.stderr);
    assert.ok(lines.some((l) => /not streaming/.test(l.msg)), r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
