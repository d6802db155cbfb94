// Auth over real HTTP and WebSocket upgrades, without a browser or an encoder: an
// RTSPSkyLine's credentials guard its web preview too, and the page's session endpoint
// trades valid credentials for a cookie that the WebSocket upgrade accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { RTSPSkyLine, WebServer } from '../../src/index.js';
import { captureLogger } from '../support/quiet.js';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

function upgrade(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => { resolve(101); ws.terminate(); });
    ws.on('unexpected-response', (_q, r) => { resolve(r.statusCode ?? 0); ws.terminate(); });
    ws.on('error', () => resolve(-1));
  });
}

test("an RTSPSkyLine's credentials guard its web preview: page, session and WebSocket", async () => {
  const log = captureLogger('debug');
  const password = 'rtsp-and-web-pass';
  const sky = new RTSPSkyLine({ port: 0, auth: { username: 'cam', password }, web: { port: 0 }, logger: log.logger });
  try {
    await sky.listen();
    const page = sky.webUrl!;
    assert.match(page, /^http:\/\/127\.0\.0\.1:\d+\/live$/);
    assert.equal((await fetch(page)).status, 401);
    assert.equal((await fetch(page, { headers: { authorization: basic('cam', 'nope') } })).status, 401);
    const ok = await fetch(page, { headers: { authorization: basic('cam', password) } });
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
    const session = await fetch(`${page}/session`, { method: 'POST', headers: { authorization: basic('cam', password) } });
    assert.equal(session.status, 204);
    const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
    const ws = `${page.replace('http:', 'ws:')}/ws`;
    assert.equal(await upgrade(ws, {}), 401);
    assert.equal(await upgrade(ws, { cookie: 'skyline_0000000000=1.abc' }), 401);
    assert.equal(await upgrade(ws, { cookie }), 101, 'the session cookie opens the WebSocket');
    assert.equal(await upgrade(ws, { authorization: basic('cam', password) }), 101, 'tools may send Authorization');
    assert.equal((await fetch(`${page}/session`, { method: 'POST' })).status, 401);
    assert.ok(!log.text().includes(password));
  } finally {
    await sky.close();
  }
});

test('maxViewers: upgrades beyond it get 503; a freed place is taken again', async () => {
  const server = new WebServer({ port: 0, maxViewers: 2 });
  server.mount('/live');
  try {
    await server.listen();
    const url = server.url('/live/ws').replace('http:', 'ws:');
    const open = await Promise.all([0, 1].map(() => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.on('open', () => resolve(ws));
      ws.on('error', reject);
    })));
    assert.equal(await upgrade(url, {}), 503);
    const closed = new Promise((r) => open[0]!.on('close', r));
    open[0]!.close();
    await closed;
    // The server sees the close a moment later; the page would retry the same way.
    let status = 0;
    for (let i = 0; i < 50 && status !== 101; i++) {
      status = await upgrade(url, {});
      if (status !== 101) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 101);
    open[1]!.terminate();
  } finally {
    await server.close();
  }
});

test('token guessing: after 10 wrong tokens from one address the next answer is 429, even with the right token, on /session, the page and the WebSocket; each failure is a warn line without the token', async () => {
  const log = captureLogger('warn');
  const token = 'right-token-0123';
  const server = new WebServer({ port: 0, auth: { token }, logger: log.logger });
  server.mount('/live');
  try {
    await server.listen();
    const session = server.url('/live/session');
    const post = (t: string) => fetch(session, { method: 'POST', headers: { authorization: `Bearer ${t}` } });
    assert.equal((await post(token)).status, 204, 'the right token works');
    for (let i = 0; i < 10; i++) assert.equal((await post(`wrong-token-${i}`)).status, 401, `guess ${i}`);
    const locked = await post(token);
    assert.equal(locked.status, 429, 'locked out: the right token is not even checked');
    assert.ok(Number(locked.headers.get('retry-after')) >= 1);
    assert.equal((await fetch(server.url('/live'), { headers: { authorization: `Bearer ${token}` } })).status, 429, 'the page');
    assert.equal(await upgrade(server.url('/live/ws').replace('http:', 'ws:'), { authorization: `Bearer ${token}` }), 429, 'the WebSocket');
    const lines = log.text().split('\n').filter((l) => l.includes('web login failed'));
    assert.equal(lines.length, 10);
    assert.ok(lines.every((l) => l.includes('"level":40') && l.includes('"client":"127.0.0.1"')));
    assert.ok(!log.text().includes('wrong-token') && !log.text().includes(token));
  } finally {
    await server.close();
  }
});

test('Basic guessing on the web preview: 429 after 10 wrong passwords; a viewer holding a session cookie keeps watching', async () => {
  const password = 'web-basic-pass';
  const server = new WebServer({ port: 0, auth: { username: 'cam', password } });
  server.mount('/live');
  try {
    await server.listen();
    const page = server.url('/live');
    const ok = await fetch(`${page}/session`, { method: 'POST', headers: { authorization: basic('cam', password) } });
    const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
    for (let i = 0; i < 10; i++) assert.equal((await fetch(page, { headers: { authorization: basic('cam', `nope${i}`) } })).status, 401);
    assert.equal((await fetch(page, { headers: { authorization: basic('cam', password) } })).status, 429);
    assert.equal(await upgrade(`${page.replace('http:', 'ws:')}/ws`, { cookie }), 101, 'the cookie cannot be guessed: it still opens the stream');
  } finally {
    await server.close();
  }
});

test('the index lists only streams without credentials; secureCookies marks the session cookie Secure', async () => {
  const token = 'index-test-token';
  const server = new WebServer({ port: 0 });
  server.mount('/open');
  server.mount('/hidden-cam', { name: 'Back office', auth: { token } });
  const tls = new WebServer({ port: 0, secureCookies: true, auth: { token } });
  tls.mount('/live');
  try {
    await server.listen();
    await tls.listen();
    const index = await (await fetch(server.url('/'))).text();
    assert.match(index, /href="\/open"/);
    assert.ok(!index.includes('hidden-cam') && !index.includes('Back office'), index);
    const plain = await fetch(server.url('/hidden-cam/session'), { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.doesNotMatch(plain.headers.get('set-cookie')!, /Secure/);
    const secure = await fetch(tls.url('/live/session'), { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.match(secure.headers.get('set-cookie')!, /; HttpOnly; SameSite=Strict; Secure$/);
  } finally {
    await server.close();
    await tls.close();
  }
});
