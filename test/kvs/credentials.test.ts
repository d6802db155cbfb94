import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import { CredentialSource, KvssinkCredentialFile, kvssinkCredentialLine } from '../../src/kvs/credentials.js';
import { kvssinkLaunch } from '../../src/kvs/kvssink.js';

const STATIC = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

test('kvssink credential lines: static and temporary formats', () => {
  assert.equal(kvssinkCredentialLine(STATIC), `CREDENTIALS\tAKIAIOSFODNN7EXAMPLE\twJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n`);
  const temp = { ...STATIC, sessionToken: 'TOKEN/abc+=', expiration: new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678)) };
  assert.equal(
    kvssinkCredentialLine(temp),
    `CREDENTIALS\tAKIAIOSFODNN7EXAMPLE\t2030-01-02T03:04:05Z\twJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\tTOKEN/abc+=\n`,
  );
});

test('kvssink credential file: private, rewritten with fresh credentials before expiry, removed at stop', async () => {
  let n = 0;
  const source = new CredentialSource(
    async () => {
      n++;
      return { accessKeyId: `ASIA${n}`, secretAccessKey: `secret-${n}-abcdef`, sessionToken: `token-${n}`, expiration: new Date(Date.now() + 1500) };
    },
    { refreshMarginMs: 200 },
  );
  const file = new KvssinkCredentialFile(source, (e) => assert.fail(e), 100);
  const path = await file.start();
  try {
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(dirname(path))).mode & 0o777, 0o700, 'in a private directory');
    assert.match(await readFile(path, 'utf8'), /^CREDENTIALS\tASIA1\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\tsecret-1-abcdef\ttoken-1\n$/);
    const deadline = Date.now() + 5000;
    while (!(await readFile(path, 'utf8')).includes('ASIA2') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(await readFile(path, 'utf8'), /\tASIA2\t/);
  } finally {
    await file.stop();
  }
  assert.equal(existsSync(path), false);
});

test('credential source: cached until close to expiry; refresh() tells whether something new came', async () => {
  let calls = 0;
  const src = new CredentialSource(async () => {
    calls++;
    return { ...STATIC, expiration: new Date(Date.now() + 60_000) };
  }, { refreshMarginMs: 1000 });
  await src.get();
  await src.get();
  assert.equal(calls, 1);
  assert.equal(await src.refresh(), false, 'same keys again');
  const fixed = new CredentialSource(STATIC);
  assert.equal((await fixed.get()).accessKeyId, STATIC.accessKeyId);
  const seen: string[] = [];
  const redacting = new CredentialSource({ ...STATIC, sessionToken: 'session-token-value' }, { onSecret: (s) => seen.push(s) });
  await redacting.get();
  assert.deepEqual(seen, [STATIC.accessKeyId, STATIC.secretAccessKey, 'session-token-value']);
  for (const text of [JSON.stringify(redacting), inspect(redacting, { depth: 5 })]) {
    assert.ok(!text.includes(STATIC.secretAccessKey) && !text.includes('session-token-value'), text);
  }
});

test('kvssink launch string: names the credential file, carries no secret, refuses unsafe names', () => {
  const launch = kvssinkLaunch({ streamName: 'cam-1', region: 'eu-west-1', credentialPath: '/tmp/skyline-kvs-x/credentials', retentionHours: 24, fragmentMs: 2000, bufferSeconds: 120 });
  assert.equal(
    launch,
    'kvssink name=kvssink stream-name=cam-1 aws-region=eu-west-1 credential-path=/tmp/skyline-kvs-x/credentials storage-size=128 restart-on-error=true retention-period=24 fragment-duration=2000 buffer-duration=120',
  );
  assert.ok(!/access-key|secret-key|session-token/.test(launch));
  assert.throws(() => kvssinkLaunch({ streamName: 'a b', region: 'eu-west-1', credentialPath: '/tmp/c' }));
  assert.throws(() => kvssinkLaunch({ streamName: 'ok', region: 'eu-west-1 ! fakesink', credentialPath: '/tmp/c' }));
});

test('a credential file left by a process that died is swept at the next start; one that exits with an error removes its own', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdirSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { pathToFileURL } = await import('node:url');
  // A pid that is gone: a child that already exited.
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  const stale = join(tmpdir(), `skyline-kvs-${dead}-sweeptest`);
  mkdirSync(stale, { recursive: true, mode: 0o700 });
  writeFileSync(join(stale, 'credentials'), 'CREDENTIALS\tAKIASTALE\tstale-secret\n', { mode: 0o600 });
  const mine = join(tmpdir(), `skyline-kvs-${process.pid}-sweeptest`);
  mkdirSync(mine, { recursive: true, mode: 0o700 });
  const file = new KvssinkCredentialFile(new CredentialSource(STATIC), (e) => assert.fail(e));
  try {
    await file.start();
    assert.equal(existsSync(stale), false, 'the dead process\'s keys are gone');
    assert.equal(existsSync(mine), true, 'a live process\'s directory is kept');
  } finally {
    await file.dispose();
    rmSync(mine, { recursive: true, force: true });
    rmSync(stale, { recursive: true, force: true });
  }
  // A process that writes its file, then ends on an error (process.exit, an uncaught exception).
  const script = `
    import { CredentialSource, KvssinkCredentialFile } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../src/kvs/credentials.ts')).href)};
    const f = new KvssinkCredentialFile(new CredentialSource(${JSON.stringify(STATIC)}), () => undefined);
    console.log(await f.start());
    process.exit(3);
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 3, r.stderr);
  const left = r.stdout.trim();
  assert.match(left, /skyline-kvs-\d+-/);
  assert.equal(existsSync(dirname(left)), false, 'removed at exit');
});
