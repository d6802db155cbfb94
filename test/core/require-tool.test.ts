// The harness rule: a missing tool skips on a developer machine and fails under CI=true.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needTool, requireTool } from '../support/require-tool.js';

function withCi<T>(value: string | undefined, f: () => T): T {
  const before = process.env.CI;
  if (value === undefined) delete process.env.CI;
  else process.env.CI = value;
  try {
    return f();
  } finally {
    if (before === undefined) delete process.env.CI;
    else process.env.CI = before;
  }
}

test('requireTool: present runs, missing skips with the reason, missing under CI=true throws', () => {
  assert.equal(withCi('true', () => requireTool('nginx', true, 'apt-get install nginx')), false);
  assert.equal(withCi(undefined, () => requireTool('nginx', () => false, 'apt-get install nginx')), 'nginx is missing (apt-get install nginx)');
  assert.equal(withCi('false', () => requireTool('nginx', false, 'x')), 'nginx is missing (x)');
  assert.throws(() => withCi('true', () => requireTool('nginx', false, 'apt-get install nginx')), /nginx is missing \(apt-get install nginx\): required under CI=true/);
  assert.throws(() => withCi('1', () => requireTool('nginx', false, 'x')), /required under CI/);
});

test('needTool: skips the running test, or fails it under CI=true', () => {
  const skipped: string[] = [];
  const t = { skip: (m?: string) => skipped.push(m ?? '') };
  assert.equal(withCi(undefined, () => needTool(t, '::1', false, 'ipv6')), false);
  assert.deepEqual(skipped, ['::1 is missing (ipv6)']);
  assert.equal(withCi('true', () => needTool(t, '::1', true, 'ipv6')), true);
  assert.throws(() => withCi('true', () => needTool(t, '::1', false, 'ipv6')), /required under CI=true/);
});
