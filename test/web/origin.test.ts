// Cross-site WebSocket hijacking and DNS rebinding, against a real WebServer on 127.0.0.1:
// any website the user visits can open ws://127.0.0.1:PORT/... from the user's browser, and
// its cookies for 127.0.0.1 (set by another port) go with it. Only Origin and Host tell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { WebServer } from '../../src/index.js';
import { chromiumMissing, launchBrowser } from '../support/browser.js';
import { captureLogger } from '../support/quiet.js';

function upgrade(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => { resolve(101); ws.terminate(); });
    ws.on('unexpected-response', (_q, r) => { resolve(r.statusCode ?? 0); ws.terminate(); });
    ws.on('error', () => resolve(-1));
  });
}

/** A GET with a Host header of our choosing (fetch does not let one set Host). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

test('a WebSocket with a foreign Origin is refused; the own origin, allowedOrigins and tools without Origin are not', async () => {
  const log = captureLogger('warn');
  const server = new WebServer({ port: 0, allowedOrigins: ['https://app.example'], logger: log.logger });
  server.mount('/live');
  try {
    await server.listen();
    const ws = server.url('/live/ws').replace('http:', 'ws:');
    const own = new URL(server.url('/')).origin;
    assert.equal(await upgrade(ws, { origin: 'https://evil.example' }), 403, 'another website');
    assert.equal(await upgrade(ws, { origin: `http://127.0.0.1:${server.port + 1}` }), 403, 'another port of the same host');
    assert.equal(await upgrade(ws, { origin: 'null' }), 403, 'a sandboxed frame or a file: page');
    assert.equal(await upgrade(ws, { origin: own }), 101, 'the page of this server');
    assert.equal(await upgrade(ws, { origin: 'https://app.example' }), 101, 'allowedOrigins');
    assert.equal(await upgrade(ws, {}), 101, 'a tool that sends no Origin');
    assert.match(log.text(), /foreign origin/);
    // The session endpoint (the token for a cookie) refuses other sites too.
    const session = await fetch(server.url('/live/session'), { method: 'POST', headers: { origin: 'https://evil.example' } });
    assert.equal(session.status, 403);
  } finally {
    await server.close();
  }
});

test('DNS rebinding: a Host that names another domain is refused; addresses, localhost and allowedHosts are served', async () => {
  const server = new WebServer({ port: 0, allowedHosts: ['cam.example'] });
  server.mount('/live');
  try {
    await server.listen();
    const page = server.url('/live');
    assert.equal(await getWithHost(page, `attacker.example:${server.port}`), 421);
    assert.equal(await getWithHost(server.url('/'), 'attacker.example'), 421, 'the index too');
    assert.equal(await getWithHost(page, `127.0.0.1:${server.port}`), 200);
    assert.equal(await getWithHost(page, `localhost:${server.port}`), 200);
    assert.equal(await getWithHost(page, 'cam.example'), 200, 'allowedHosts');
    const ws = server.url('/live/ws').replace('http:', 'ws:');
    assert.equal(await upgrade(ws, { host: `attacker.example:${server.port}`, origin: `http://attacker.example:${server.port}` }), 421);
    const res = await fetch(page);
    assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
  } finally {
    await server.close();
  }
});

test('Chromium: a page on another origin cannot open the stream, even with the viewer\'s cookie from another port', { skip: chromiumMissing() }, async () => {
  const token = 'origin-test-token-1';
  const server = new WebServer({ port: 0 });
  server.mount('/open');
  server.mount('/locked', { auth: { token } });
  // The attacker's page: another port of the same host (a dev server, another local app).
  const evil = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<!doctype html><script>
      window.results = {};
      for (const p of ['/open', '/locked']) {
        const ws = new WebSocket('ws://127.0.0.1:${'PORT'}' + p + '/ws');
        ws.onopen = () => { window.results[p] = 'open'; ws.close(); };
        ws.onerror = () => { window.results[p] = window.results[p] || 'refused'; };
      }
    </script>`.replace('PORT', String(server.port)));
  });
  const browser = await launchBrowser();
  try {
    await server.listen();
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
    const page = await browser.newPage();
    // The viewer watched the locked stream before: the browser holds its session cookie.
    await page.goto(`${server.url('/locked')}#token=${token}`);
    for (let i = 0; i < 100 && !(await page.context().cookies()).some((c) => c.name.startsWith('skyline_')); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok((await page.context().cookies()).some((c) => c.name.startsWith('skyline_')), 'the viewer has the cookie');
    await page.goto(evilUrl);
    let results: Record<string, string> = {};
    for (let i = 0; i < 100 && Object.keys(results).length < 2; i++) {
      results = (await page.evaluate('window.results')) as Record<string, string>;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(results, { '/open': 'refused', '/locked': 'refused' });
    assert.equal(server.stats().viewers, 0);
    await page.close();
  } finally {
    await browser.close();
    evil.close();
    await server.close();
  }
});
