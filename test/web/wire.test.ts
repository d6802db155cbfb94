// The preview's protocol pieces without a browser: the video message header, the parser of
// what pages send (it reads network bytes: property-tested), and the auth rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { WebAuth } from '../../src/web/auth.js';
import { escapeHtml, renderIndex, renderPage } from '../../src/web/page.js';
import {
  HEADER_BYTES, KIND_ACCESS_UNIT, KIND_MEDIA_SEGMENT, MAX_CLIENT_MESSAGE_BYTES, parseClientMessage, readVideoHeader, videoMessage,
} from '../../src/web/wire.js';

test('video message: a 20-byte header (kind, keyframe flag, capture time, pts) before the payload', () => {
  const m = videoMessage(KIND_ACCESS_UNIT, true, 1_732_176_000_123.5, 33_333.25, Buffer.from([9, 8, 7]));
  assert.equal(m.length, HEADER_BYTES + 3);
  assert.deepEqual([...m.subarray(0, 4)], [1, 1, 0, 0]);
  assert.equal(m.readDoubleBE(4), 1_732_176_000_123.5);
  assert.equal(m.readDoubleBE(12), 33_333.25);
  assert.deepEqual([...m.subarray(HEADER_BYTES)], [9, 8, 7]);
  assert.deepEqual(readVideoHeader(m), { kind: 1, keyframe: true, captureMs: 1_732_176_000_123.5, ptsUs: 33_333.25 });
  assert.equal(readVideoHeader(m.subarray(0, 19)), undefined, 'short');
  assert.equal(readVideoHeader(Buffer.alloc(20)), undefined, 'kind 0');
});

test('video message header round-trips for any values (property)', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.double({ noNaN: true }), fc.double({ noNaN: true }), fc.uint8Array({ maxLength: 64 }),
    (kind, key, capture, pts, payload) => {
      const h = readVideoHeader(videoMessage(kind, key, capture, pts, payload));
      return h !== undefined && h.kind === kind && h.keyframe === key && Object.is(h.captureMs, capture) && Object.is(h.ptsUs, pts);
    },
  ));
  assert.equal(KIND_MEDIA_SEGMENT, 3);
});

test('client messages: a ping or a keyframe request is accepted; anything else is refused with what was expected and what came', () => {
  assert.deepEqual(parseClientMessage('{"type":"ping","t":12.5}', false), { ok: true, message: { type: 'ping', t: 12.5 } });
  assert.deepEqual(parseClientMessage('{"type":"keyframe"}', false), { ok: true, message: { type: 'keyframe' } });
  const cases: Array<[string | Buffer, boolean, RegExp]> = [
    [Buffer.from([1, 2, 3]), true, /expected a JSON text message, got 3 bytes of binary/],
    ['not json', false, /expected JSON/],
    ['[1,2]', false, /expected a JSON object, got an array/],
    ['"x"', false, /expected a JSON object, got string/],
    ['{"type":"hello"}', false, /expected type "ping" or "keyframe", got "hello"/],
    ['{"type":"ping","t":"x"}', false, /finite number t/],
    ['{"type":"ping","t":1e999}', false, /finite number t/],
    [`{"type":"ping","t":1,"pad":"${'x'.repeat(MAX_CLIENT_MESSAGE_BYTES)}"}`, false, /at most 256 bytes/],
  ];
  for (const [data, bin, re] of cases) {
    const r = parseClientMessage(data, bin);
    assert.equal(r.ok, false, String(data).slice(0, 30));
    assert.match((r as { error: string }).error, re);
  }
});

test('the client message parser never throws, whatever arrives (property)', () => {
  fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array({ maxLength: 400 })), fc.boolean(), (data, bin) => {
    const r = parseClientMessage(data as string | Uint8Array, bin);
    return r.ok ? (r.message.type === 'keyframe' || Number.isFinite(r.message.t)) : r.error.length > 0;
  }));
});

function req(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

test('Basic auth: right credentials or the signed cookie pass; wrong, missing or forged ones do not', () => {
  const a = new WebAuth({ username: 'viewer', password: 'pass-word-1' }, '/live');
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  assert.equal(a.check(req({ authorization: basic('viewer', 'pass-word-1') })), 'ok');
  assert.equal(a.check(req({ authorization: basic('viewer', 'wrong') })), 'denied');
  assert.equal(a.check(req({ authorization: 'Bearer pass-word-1' })), 'denied');
  assert.equal(a.check(req({})), 'missing');
  assert.match(a.challenge(), /^Basic realm="gst-skyline"/);
  const cookie = a.sessionCookie();
  assert.match(cookie, /; Path=\/live; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
  assert.ok(!cookie.includes('pass-word-1'));
  const pair = cookie.split(';')[0]!;
  assert.equal(a.check(req({ cookie: `other=1; ${pair}` })), 'ok');
  const forged = pair.replace(/\.([0-9a-f])/, (_m, c: string) => `.${c === '0' ? '1' : '0'}`);
  assert.equal(a.check(req({ cookie: forged })), 'missing');
  // Another stream's (or another server's) cookie is not valid here.
  const b = new WebAuth({ username: 'viewer', password: 'pass-word-1' }, '/live');
  assert.equal(b.check(req({ cookie: pair })), 'missing');
  // Expired cookies are refused.
  let now = Date.now();
  const c = new WebAuth({ username: 'viewer', password: 'pass-word-1' }, '/x', () => now);
  const old = c.sessionCookie().split(';')[0]!;
  now += 13 * 3600_000;
  assert.equal(c.check(req({ cookie: old })), 'missing');
});

test('token auth: Authorization Bearer with the token; short or malformed tokens are refused at construction', () => {
  const a = new WebAuth({ token: 'tok-1234567890' }, '/cam');
  assert.equal(a.checkAuthorization('Bearer tok-1234567890'), 'ok');
  assert.equal(a.checkAuthorization('bearer tok-1234567890'), 'ok');
  assert.equal(a.checkAuthorization('Bearer tok-1234567891'), 'denied');
  assert.equal(a.checkAuthorization(`Basic ${Buffer.from('x:tok-1234567890').toString('base64')}`), 'denied');
  assert.match(a.challenge(), /^Bearer realm=/);
  assert.throws(() => new WebAuth({ token: 'short' }, '/x'), /at least 8/);
  assert.throws(() => new WebAuth({ token: 'has space 123' }, '/x'), /spaces/);
});

test('page and index: names are escaped, the script carries no stream data and no secrets', () => {
  const html = renderPage({ path: '/live', name: '<b>cam</b>', auth: 'bearer' });
  assert.ok(html.includes('&lt;b&gt;cam&lt;/b&gt;'));
  assert.ok(!html.includes('<b>cam</b>'));
  assert.match(html, /"auth":"bearer"/);
  const idx = renderIndex([{ path: '/a', name: 'A & B', viewers: 2, locked: true }, { path: '/b', name: 'b', viewers: 0, locked: false }]);
  assert.match(idx, /href="\/a">A &amp; B<\/a>/);
  assert.match(idx, /href="\/b">/);
  assert.equal(escapeHtml(`"'<>&`), '&quot;&#39;&lt;&gt;&amp;');
});
