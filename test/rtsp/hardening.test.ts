// Attacks on the RTSP server's credentials and connections, against a real server on 127.0.0.1
// with a bare client: password guessing, replayed Digest headers, idle `$` connections.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RTSPServer, type RTSPServerOptions } from '../../src/rtsp/server.js';
import { digestAuthorization } from '../../src/rtsp/auth.js';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { encodeClip } from '../support/rtsp-source.js';
import { RawRtspClient } from '../support/rtsp-client.js';
import { flood, settle } from '../support/flood.js';
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

test('a connection without a session that only sends `$` frames is reaped like an idle one', async () => {
  await withServer({ requestTimeoutMs: 500, idleTimeoutMs: 1000 }, async (server) => {
    const s = net.connect(server.port, '127.0.0.1');
    let closed = false;
    s.on('close', () => { closed = true; });
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    // A 4-byte `$` frame (channel 0, empty) every 100 ms; before, each one counted as activity.
    let sent = 0;
    while (!closed && sent < 100) {
      s.write(Buffer.from([0x24, 0, 0, 0]));
      sent++;
      await new Promise((r) => setTimeout(r, 100));
    }
    s.destroy();
    assert.ok(closed, `still open after ${sent} frames (10 s), with a 0.5 s request timeout`);
  });
});

test('per-address limit: one host holding many connections leaves room for others (maxConnectionsPerAddress)', async () => {
  await withServer({ maxConnections: 8, maxConnectionsPerAddress: 4 }, async (server, url) => {
    const attack = await flood(server.port, 10);
    try {
      // Every attacking socket is either held by the server or was closed by it.
      assert.ok(await settle(() => attack.closed + server.stats().connections === 10), `closed ${attack.closed}, held ${server.stats().connections}`);
      assert.equal(server.stats().connections, 4);
      const c = await RawRtspClient.connect(server.port);
      try {
        assert.equal((await c.request('OPTIONS', url)).status, 200, 'another host is served');
      } finally {
        c.close();
      }
    } finally {
      attack.end();
    }
  });
});
