// Attacks on the RTSP server's credentials and connections, against a real server on 127.0.0.1
// with a bare client: password guessing, replayed Digest headers, idle `$` connections.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RTSPServer, type RTSPServerOptions } from '../../src/rtsp/server.js';
import { digestAuthorization } from '../../src/rtsp/auth.js';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { encodeClip } from '../support/rtsp-source.js';
import { RawRtspClient } from '../support/rtsp-client.js';
import { captureLogger } from '../support/quiet.js';

let clip: AccessUnit[];
before(async () => {
  clip = await encodeClip({ width: 160, height: 120, fps: 30, frames: 2, keyInt: 30 });
});

const password = 'correct horse battery';
const auth = { username: 'viewer', password, realm: 'cams' };
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

async function withServer(opts: RTSPServerOptions, fn: (server: RTSPServer, url: string) => Promise<void>): Promise<void> {
  const server = new RTSPServer({ port: 0, describeWaitMs: 200, ...opts });
  await server.listen();
  const mount = server.mount('/live');
  mount.pushAccessUnit(clip[0]!);
  try {
    await fn(server, server.url('/live'));
  } finally {
    await server.close();
  }
}

test('password guessing: after 10 wrong passwords from one address the next answer is 503 with Retry-After, even with the right one; failures are logged at warn without the password', async () => {
  const log = captureLogger('warn');
  await withServer({ auth: { ...auth, schemes: ['digest', 'basic'] }, logger: log.logger }, async (server, url) => {
    const c = await RawRtspClient.connect(server.port);
    try {
      assert.equal((await c.request('DESCRIBE', url, { Authorization: basic('viewer', password) })).status, 200, 'the right password works');
      for (let i = 0; i < 10; i++) assert.equal((await c.request('DESCRIBE', url, { Authorization: basic('viewer', `guess-${i}`) })).status, 401, `guess ${i}`);
      const locked = await c.request('DESCRIBE', url, { Authorization: basic('viewer', password) });
      assert.equal(locked.status, 503, 'locked out: the right password is not even checked');
      assert.ok(Number(locked.headers['retry-after']) >= 1);
    } finally {
      c.close();
    }
    // A new connection from the same address is locked out too.
    const c2 = await RawRtspClient.connect(server.port);
    try {
      assert.equal((await c2.request('DESCRIBE', url, { Authorization: basic('viewer', 'guess-x') })).status, 503);
    } finally {
      c2.close();
    }
  });
  const text = log.text();
  assert.match(text, /"level":40.*authentication failed/);
  assert.match(text, /address locked out/);
  assert.match(text, /"client":"127\.0\.0\.1"/);
  assert.ok(!text.includes(password) && !text.includes('guess-'), 'no password, right or wrong, in the log');
});

test('a replayed Digest header is refused: on a new connection (stale=TRUE, the client retries quietly) and for another URI', async () => {
  await withServer({ auth, authLimit: { maxFailures: 100 } }, async (server, url) => {
    const c = await RawRtspClient.connect(server.port);
    let header: string;
    try {
      const challenge = (await c.request('DESCRIBE', url)).headers['www-authenticate']!;
      assert.doesNotMatch(challenge, /Basic/, 'no Basic over plain rtsp:// by default');
      const nonce = /nonce="([0-9a-f]+)"/.exec(challenge)![1]!;
      header = digestAuthorization({ ...auth, nonce, method: 'DESCRIBE', uri: url });
      assert.equal((await c.request('DESCRIBE', url, { Authorization: header })).status, 200);
      // The same digest for another request URI proves nothing about that one.
      const forOther = digestAuthorization({ ...auth, nonce, method: 'DESCRIBE', uri: `${url}-other` });
      assert.equal((await c.request('DESCRIBE', url, { Authorization: forOther })).status, 401);
    } finally {
      c.close();
    }
    for (let i = 0; i < 3; i++) {
      const replay = await RawRtspClient.connect(server.port);
      try {
        const r = await replay.request('DESCRIBE', url, { Authorization: header });
        assert.equal(r.status, 401, `replay ${i}`);
        assert.match(r.headers['www-authenticate']!, /stale=TRUE/);
      } finally {
        replay.close();
      }
    }
  });
});
