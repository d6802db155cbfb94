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
});
