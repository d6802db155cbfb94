import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { RtspAuthenticator, parseAuthParams, digestAuthorization } from '../../src/rtsp/auth.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

function nonceOf(challenge: string): string {
  return parseAuthParams(challenge.replace(/^Digest /, ''))!['nonce']!;
}

test('challenges offer Digest (MD5), and Basic only over TLS (rtsps://) or when asked', () => {
  const a = new RtspAuthenticator({ username: 'u', password: 'p', realm: 'cams' });
  const [digest, ...rest] = a.challenges();
  assert.match(digest!, /^Digest realm="cams", nonce="[0-9a-f]{76}", algorithm="MD5"$/);
  assert.deepEqual(rest, [], 'no Basic over plain rtsp://');
  assert.deepEqual(a.challenges(false, { uri: 'rtsps://cam.example/live' }).slice(1), ['Basic realm="cams"']);
  const basic = 'Basic ' + Buffer.from('u:p').toString('base64');
  assert.deepEqual(a.check('DESCRIBE', basic, { uri: 'rtsp://cam.example/live' }), { ok: false, reason: 'unsupported-scheme' });
  assert.equal(a.check('DESCRIBE', basic, { uri: 'rtsps://cam.example/live' }).ok, true);
  assert.equal(new RtspAuthenticator({ username: 'u', password: 'p', realm: 'cams', schemes: ['digest', 'basic'] }).challenges()[1], 'Basic realm="cams"');
  assert.match(a.challenges(true)[0]!, /stale=TRUE/);
  assert.deepEqual(new RtspAuthenticator({ username: 'u', password: 'p', schemes: ['basic'] }).challenges(), ['Basic realm="gst-skyline"']);
});

test('Basic (RFC 7617)', () => {
  const a = new RtspAuthenticator({ username: 'user', password: 'pa:ss', schemes: ['digest', 'basic'] });
  const b = (s: string) => 'Basic ' + Buffer.from(s).toString('base64');
  assert.deepEqual(a.check('DESCRIBE', b('user:pa:ss')), { ok: true, username: 'user' });
  assert.equal(a.check('DESCRIBE', b('user:wrong')).ok, false);
  assert.equal(a.check('DESCRIBE', b('other:pa:ss')).ok, false);
  assert.deepEqual(a.check('DESCRIBE', 'Basic !!!'), { ok: false, reason: 'malformed' });
  assert.deepEqual(a.check('DESCRIBE', undefined), { ok: false, reason: 'missing' });
  assert.deepEqual(a.check('DESCRIBE', 'Bearer x'), { ok: false, reason: 'unsupported-scheme' });
  const digestOnly = new RtspAuthenticator({ username: 'user', password: 'pa:ss', schemes: ['digest'] });
  assert.deepEqual(digestOnly.check('DESCRIBE', b('user:pa:ss')), { ok: false, reason: 'unsupported-scheme' });
});

test('Digest without qop (RFC 2069 form, as GStreamer sends it)', () => {
  const a = new RtspAuthenticator({ username: 'Mufasa', password: 'Circle Of Life', realm: 'testrealm' });
  const nonce = nonceOf(a.challenges()[0]!);
  const uri = 'rtsp://127.0.0.1:8554/live';
  // the response computed by hand from RFC 2617 §3.2.2.1
  const response = md5(`${md5('Mufasa:testrealm:Circle Of Life')}:${nonce}:${md5(`DESCRIBE:${uri}`)}`);
  const header = `Digest username="Mufasa", realm="testrealm", nonce="${nonce}", uri="${uri}", response="${response}"`;
  assert.deepEqual(a.check('DESCRIBE', header), { ok: true, username: 'Mufasa' });
  assert.equal(a.check('SETUP', header).ok, false, 'method is part of the digest');
  assert.equal(a.check('DESCRIBE', header.replace(response, response.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')))).ok, false);
  assert.equal(a.check('DESCRIBE', digestAuthorization({ username: 'Mufasa', password: 'x', realm: 'testrealm', nonce, method: 'DESCRIBE', uri })).ok, false);
  assert.equal(a.check('DESCRIBE', digestAuthorization({ username: 'Mufasa', password: 'Circle Of Life', realm: 'other', nonce, method: 'DESCRIBE', uri })).ok, false);
});

test('Digest with qop=auth (as ffmpeg can send it)', () => {
  const a = new RtspAuthenticator({ username: 'u', password: 'p' });
  const nonce = nonceOf(a.challenges()[0]!);
  const h = digestAuthorization({ username: 'u', password: 'p', realm: a.realm, nonce, method: 'PLAY', uri: 'rtsp://h/live/', qop: { nc: '00000001', cnonce: 'abc' } });
  assert.deepEqual(a.check('PLAY', h), { ok: true, username: 'u' });
  assert.equal(a.check('PLAY', h.replace('qop=auth, nc=00000001, ', '')).ok, false);
});

test('nonces are signed and expire as stale', () => {
  let now = 1_700_000_000_000;
  const a = new RtspAuthenticator({ username: 'u', password: 'p', nonceLifetimeMs: 60_000 }, () => now);
  const nonce = nonceOf(a.challenges()[0]!);
  const mk = (n: string) => digestAuthorization({ username: 'u', password: 'p', realm: a.realm, nonce: n, method: 'OPTIONS', uri: '*' });
  assert.equal(a.check('OPTIONS', mk(nonce)).ok, true);
  const forged = nonce.slice(0, 59) + (nonce[59] === '0' ? '1' : '0');
  assert.deepEqual(a.check('OPTIONS', mk(forged)), { ok: false, reason: 'bad-credentials' });
  const other = new RtspAuthenticator({ username: 'u', password: 'p' });
  assert.equal(a.check('OPTIONS', mk(nonceOf(other.challenges()[0]!))).ok, false, 'nonce from another server');
  now += 61_000;
  assert.deepEqual(a.check('OPTIONS', mk(nonce)), { ok: false, reason: 'stale-nonce' });
});

test('replay: a digest for another URI is refused; a nonce issued for another scope (connection) is stale; nonces live 5 minutes by default', () => {
  let now = 1_700_000_000_000;
  const a = new RtspAuthenticator({ username: 'u', password: 'p' }, () => now);
  const nonce = nonceOf(a.challenges(false, { scope: 'conn-1' })[0]!);
  const h = (uri: string) => digestAuthorization({ username: 'u', password: 'p', realm: a.realm, nonce, method: 'DESCRIBE', uri });
  assert.equal(a.check('DESCRIBE', h('rtsp://h/live'), { uri: 'rtsp://h/live', scope: 'conn-1' }).ok, true);
  assert.equal(a.check('DESCRIBE', h('/live'), { uri: 'rtsp://h/live', scope: 'conn-1' }).ok, true, 'the same path, relative');
  assert.deepEqual(a.check('DESCRIBE', h('rtsp://h/other'), { uri: 'rtsp://h/live', scope: 'conn-1' }), { ok: false, reason: 'bad-credentials' });
  assert.deepEqual(a.check('DESCRIBE', h('rtsp://h/live'), { uri: 'rtsp://h/live', scope: 'conn-2' }), { ok: false, reason: 'stale-nonce' });
  now += 5 * 60_000 + 1;
  assert.deepEqual(a.check('DESCRIBE', h('rtsp://h/live'), { uri: 'rtsp://h/live', scope: 'conn-1' }), { ok: false, reason: 'stale-nonce' });
});

test('malformed Digest headers are rejected, never thrown', () => {
  const a = new RtspAuthenticator({ username: 'u', password: 'p' });
  for (const h of ['Digest', 'Digest username="u', 'Digest =x', 'Digest username="u", nonce="n", uri="*", response="zz"', 'Digest username="u", nonce="n", uri="*", response="00000000000000000000000000000000", algorithm=SHA-256']) {
    const r = a.check('OPTIONS', h);
    assert.equal(r.ok, false, h);
  }
});

test('auth-param parsing handles quoting and escapes', () => {
  assert.deepEqual(parseAuthParams('a="x, y", b=z,c="q\\"q"'), { a: 'x, y', b: 'z', c: 'q"q' });
  assert.equal(parseAuthParams('a="unterminated'), undefined);
});

test('options are validated and the password is not kept in the object', () => {
  assert.throws(() => new RtspAuthenticator({ username: '', password: 'p' }));
  assert.throws(() => new RtspAuthenticator({ username: 'a:b', password: 'p' }));
  assert.throws(() => new RtspAuthenticator({ username: 'a', password: 'p', realm: 'x"y' }));
  const a = new RtspAuthenticator({ username: 'a', password: 'hunter2secret' });
  assert.ok(!JSON.stringify(a).includes('hunter2secret'));
  assert.ok(!inspect(a, { depth: 5 }).includes('hunter2secret'));
});
