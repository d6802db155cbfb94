import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redactor, scrubbing } from '../../src/log.js';
import { captureLogger } from '../support/quiet.js';

test('every log call goes through the redactor: messages, nested fields, errors', () => {
  const { logger, text } = captureLogger('trace');
  const r = new Redactor();
  r.add('s3cr3t-key');
  const log = scrubbing(logger.child({}), r);
  log.info('publishing to rtmp://relay/live/s3cr3t-key');
  log.warn({ target: { url: 'rtmp://relay/live/s3cr3t-key', list: ['s3cr3t-key'] } }, 'retry');
  log.error({ err: new Error('refused s3cr3t-key') }, 'failed');
  log.debug({ n: 1, ok: true }, 'plain');
  const out = text();
  assert.equal(out.includes('s3cr3t-key'), false, out);
  // 5: the error's message and its stack (kept, so it can be traced) are both scrubbed.
  assert.equal(out.split('****').length - 1, 5, out);
  assert.match(out, /"stack":"Error: refused \*\*\*\*\\n\s+at /);
  assert.match(out, /"n":1,"ok":true/);
});

test('Redactor masks the URL-encoded form and the longest secret first', () => {
  const r = new Redactor();
  r.add('p@ss word');
  r.add('p@ss word and more', '<masked>');
  assert.equal(r.scrub('x p%40ss%20word y'), 'x **** y');
  assert.equal(r.scrub('p@ss word and more'), '<masked>');
  assert.equal(r.scrub('abc'), 'abc');
  // A short secret is still a secret (a password "abc").
  r.add('abc');
  assert.equal(r.scrub('login abc failed'), 'login **** failed');
});

// Defect 5 (issue 9): scrubbing wrapped the logger's methods, so log.child() escaped it.
test('secrets are scrubbed where lines are written: child and grandchild loggers, errors, nested objects', () => {
  const { logger, text } = captureLogger('trace');
  const r = new Redactor();
  const log = scrubbing(logger.child({ component: 'x' }), r);
  r.add('s3cr3t-key'); // registered after the logger was made: still caught
  r.add('pa"ss\\word'); // JSON escapes it on the way out
  const child = log.child({ component: 'rtsp-server' });
  const grandchild = child.child({ conn: 1 }, { level: 'trace' });
  child.info('child: rtsp://u:s3cr3t-key@host/live');
  grandchild.debug({ deep: { a: { b: { c: { d: { e: ['s3cr3t-key'] } } } } } }, 'nested six levels');
  grandchild.error(new Error('refused s3cr3t-key'), 'error object');
  grandchild.warn({ err: new Error('pa"ss\\word was wrong') }, 'err field');
  grandchild.info({ headers: { Authorization: 'Basic s3cr3t-key' } }, 'headers');
  child.child({ url: 'rtmp://relay/live/s3cr3t-key' }).info('bindings');
  const out = text();
  assert.equal(out.includes('s3cr3t-key'), false, out);
  assert.equal(out.includes('ss\\\\word'), false, out);
  assert.equal(out.includes('ss\\word'), false, out);
  assert.equal(text().split('\n').filter(Boolean).length, 6, out);
  // The error keeps its stack (scrubbed), not just its message.
  assert.match(out, /"stack":"Error: refused \*\*\*\* *\\n *at /);
  // The user's own logger is left alone.
  logger.info('user line s3cr3t-key');
  assert.match(text(), /user line s3cr3t-key/);
});

test('a SkyLine scrubs its components\' child loggers too', async () => {
  const { MultiSkyLine } = await import('../../src/index.js');
  const { RecordingDestination } = await import('../support/recording-destination.js');
  const { logger, text } = captureLogger('trace');
  const d = new RecordingDestination();
  const sky = new MultiSkyLine({ logger, destinations: [d] });
  await sky.startStreaming({ fps: 10, width: 64, height: 48 });
  // A destination logs through the link its SkyLine gave it, and registers its secrets there.
  d.link!.addSecret('tok-3a7f9');
  d.link!.log.child({ component: 'c' }).child({ sub: 1 }).warn({ e: new Error('tok-3a7f9') }, 'component says tok-3a7f9');
  await sky.close();
  assert.match(text(), /component says \*\*\*\*/);
  assert.equal(text().includes('tok-3a7f9'), false, text());
});

test('a logger that is not pino gets its methods and children wrapped instead', () => {
  const lines: string[] = [];
  const make = (prefix: string): unknown => ({
    child: (b: object) => make(prefix + JSON.stringify(b)),
    ...Object.fromEntries(['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((l) => [l, (...a: unknown[]) => lines.push(prefix + JSON.stringify(a))])),
  });
  const r = new Redactor();
  r.add('k3y-k3y-k3y');
  const log = scrubbing(make('') as never, r);
  log.child({ a: 1 }).child({ b: 2 }).info({ e: new Error('k3y-k3y-k3y'), s: ['k3y-k3y-k3y'] }, 'm k3y-k3y-k3y');
  assert.equal(lines.length, 1);
  assert.equal(lines.join('').includes('k3y-k3y-k3y'), false, lines.join(''));
});
