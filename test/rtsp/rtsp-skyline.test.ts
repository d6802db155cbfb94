// RTSPSkyLine end to end: frames put() in real time, encoded by GStreamer, served by our RTSP server,
// watched by real players (ffmpeg/ffprobe, GStreamer rtspsrc) that must decode frames of the right size.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { inspect } from 'node:util';
import { RTSPSkyLine, RTSPServer } from '../../src/index.js';
import { feedLive } from '../support/rtsp-source.js';
import { ffmpegPlay, ffprobeFrames, gstPlay, DECODE_ERRORS, type PlayResult } from '../support/rtsp-players.js';
import { RawRtspClient } from '../support/rtsp-client.js';
import { waitFor } from '../support/wait.js';
import { captureLogger } from '../support/quiet.js';
import { settledMemory } from '../support/memory.js';
import { PROBE_ROUNDS } from '../support/threadpool-probe.js';
import { parseRtcp, RTCP_BYE } from '../../src/rtp/rtcp.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const W = 320;
const H = 240;
const FPS = 30;
// Stops come right after the last put(); a short stop timeout keeps a slow EOS from stalling the suite.
const common = { stopTimeoutMs: 3000, statsIntervalMs: 0 } as const;

let sky: RTSPSkyLine;
let feed: { stop(): void; readonly puts: number };
let startedAt = 0;
const log = captureLogger('info');

before(async () => {
  // Keyframes only every 1000 frames: a client that decodes at all got one because it asked.
  // The abuse test's 200 connections come from 127.0.0.1 like its players: no per-address limit.
  sky = new RTSPSkyLine({ port: 0, logger: log.logger, keyframeInterval: 1000, serverOptions: { requestTimeoutMs: 2000, maxConnectionsPerAddress: 1000 }, ...common });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  startedAt = Date.now();
  feed = feedLive(sky, { fps: FPS, width: W, height: H });
});

after(async () => {
  feed?.stop();
  await sky?.close();
});

const play = { frames: 30, width: W, height: H } as const;

function assertDecoded(r: PlayResult, frames: number, what: string): void {
  assert.equal(r.timedOut, false, `${what} timed out: ${r.stderr.slice(-500)}`);
  assert.equal(r.frames, frames, `${what}: ${r.stderr.slice(-500)}`);
  assert.equal(r.bytes, frames * W * H, `${what}: every frame ${W}x${H}`);
  assert.doesNotMatch(r.stderr, DECODE_ERRORS, what);
}

test('url: the chosen port, the path, no credentials', () => {
  assert.match(sky.url, /^rtsp:\/\/127\.0\.0\.1:\d+\/live$/);
  assert.notEqual(sky.server.port, 0);
  assert.equal(sky.path, '/live');
  assert.throws(() => new RTSPSkyLine({ server: sky.server, port: 1 }), TypeError);
  assert.throws(() => new RTSPSkyLine({ server: sky.server, path: '/live' }), /already mounted/);
});

test('ffprobe over UDP and TCP: H.264 frames of the right size, the first a keyframe', async () => {
  for (const transport of ['udp', 'tcp'] as const) {
    const p = await ffprobeFrames(sky.url, transport, 10);
    assert.equal(p.frames.length, 10, `${transport}: ${p.stderr}`);
    assert.ok(p.frames.every((f) => f.width === W && f.height === H), transport);
    assert.equal(p.frames[0]!.keyFrame, true, `${transport}: starts on a keyframe`);
    assert.doesNotMatch(p.stderr, DECODE_ERRORS);
  }
});

test('ffmpeg over UDP and TCP (-rtsp_transport) decodes frames', async () => {
  assertDecoded(await ffmpegPlay(sky.url, { ...play, transport: 'udp' }), 30, 'ffmpeg udp');
  assertDecoded(await ffmpegPlay(sky.url, { ...play, transport: 'tcp' }), 30, 'ffmpeg tcp');
});

test('GStreamer rtspsrc over UDP and with protocols=tcp decodes frames', async () => {
  assertDecoded(await gstPlay(sky.url, { ...play, transport: 'udp' }), 30, 'rtspsrc udp');
  assertDecoded(await gstPlay(sky.url, { ...play, transport: 'tcp' }), 30, 'rtspsrc tcp');
});

test('a client joining 5 s late decodes from its first frame', async () => {
  const wait = startedAt + 5000 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  assert.ok(feed.puts >= 5 * FPS - 5, 'the stream has been running for 5 s');
  const p = await ffprobeFrames(sky.url, 'udp', 15);
  assert.equal(p.frames.length, 15, p.stderr);
  assert.equal(p.frames[0]!.keyFrame, true);
  assert.equal(p.frames[0]!.pictType, 'I');
  assert.ok(p.frames.every((f) => f.width === W && f.height === H));
  assert.doesNotMatch(p.stderr, DECODE_ERRORS);
  assertDecoded(await gstPlay(sky.url, { ...play, frames: 15, transport: 'tcp' }), 15, 'late rtspsrc');
});

test('20 clients at once, all four player/transport kinds, each decodes every frame', async (t) => {
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  let peakRss = 0;
  let peakClients = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    peakClients = Math.max(peakClients, sky.stats().clients);
  }, 100);
  const kinds = [
    (i: number) => ffmpegPlay(sky.url, { ...play, frames: 60, transport: i % 2 ? 'udp' : 'tcp', timeoutMs: 60_000 }),
    (i: number) => gstPlay(sky.url, { ...play, frames: 60, transport: i % 2 ? 'udp' : 'tcp', timeoutMs: 60_000 }),
  ];
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => kinds[Math.floor(i / 2) % 2]!(i)));
  clearInterval(sampler);
  const cpu = process.cpuUsage(cpu0);
  const secs = (Date.now() - t0) / 1000;
  results.forEach((r, i) => assertDecoded(r, 60, `client ${i}`));
  assert.ok(peakClients >= 15, `clients overlapped (peak ${peakClients})`);
  t.diagnostic(`20 clients: peak ${peakClients} at once, server process CPU ${(((cpu.user + cpu.system) / 1e6 / secs) * 100).toFixed(0)}% of one core over ${secs.toFixed(1)} s (encoder included), peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
  await waitFor(() => sky.server.stats().sessions === 0, 10_000, 'sessions released');
});

test('abuse: garbage, oversized, 200 unfinished requests, abrupt disconnects during PLAY; then a client still plays and memory is back', async (t) => {
  const server = sky.server;
  const port = server.port;
  await waitFor(() => server.stats().connections === 0, 10_000, 'a quiet server');
  const mem0 = await settledMemory(gc);

  // 200 connections that never finish their request, held open while the rest goes on.
  const hung: net.Socket[] = [];
  let hungClosed = 0;
  for (let i = 0; i < 200; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    s.on('close', () => hungClosed++);
    s.write(`DESCRIBE ${sky.url} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: never-finishes`);
    hung.push(s);
  }
  await waitFor(() => server.stats().connections >= 200, 10_000, '200 connections open');

  // Garbage, truncated and oversized requests.
  for (const data of [
    Buffer.from('\x00\xff\x13garbage\r\n\r\n', 'latin1'),
    `DESCRIBE ${sky.url} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n`,
    `OPTIONS rtsp://x/${'a'.repeat(100_000)} RTSP/1.0\r\n\r\n`,
    `SETUP ${sky.url}/track1 RTSP/1.0\r\nCSeq: 2\r\n${'H: v\r\n'.repeat(2000)}\r\n`,
  ]) {
    const c = await RawRtspClient.connect(port);
    const r = await c.sendRaw(data);
    assert.ok(r.status >= 400, `rejected with ${r.status}`);
    await waitFor(() => c.closed, 5000, 'closed after a bad request');
  }

  // Abrupt disconnects while playing: raw TCP and UDP sessions destroyed mid-stream, and players killed.
  for (let i = 0; i < 10; i++) {
    const c = await RawRtspClient.connect(port);
    const transport = i % 2 ? 'RTP/AVP/TCP;unicast;interleaved=0-1' : `RTP/AVP;unicast;client_port=${40000 + i * 2}-${40001 + i * 2}`;
    const s = await c.request('SETUP', `${sky.url}/track1`, { Transport: transport });
    assert.equal(s.status, 200);
    await c.request('PLAY', sky.url, { Session: s.headers['session']!.split(';')[0]! });
    if (i % 2) await waitFor(() => c.frames.length > 3, 10_000, 'interleaved RTP');
    c.socket.resetAndDestroy();
  }
  const killed = Array.from({ length: 4 }, (_, i) => {
    const args = ['-hide_banner', '-loglevel', 'quiet', '-rtsp_transport', i % 2 ? 'udp' : 'tcp', '-i', sky.url, '-f', 'null', '-'];
    const child = spawn('ffmpeg', args, { stdio: 'ignore' });
    return new Promise<void>((resolve) => {
      child.on('close', () => resolve());
      setTimeout(() => child.kill('SIGKILL'), 2500);
    });
  });
  await Promise.all(killed);

  // A normal client plays while the 200 hung connections are still there.
  assertDecoded(await ffmpegPlay(sky.url, { ...play, transport: 'tcp' }), 30, 'ffmpeg after the abuse');
  // The server gives up on the unfinished requests by itself (requestTimeoutMs 2 s).
  await waitFor(() => hungClosed === 200, 15_000, 'hung connections closed by the server');
  for (const s of hung) s.destroy();
  await waitFor(() => server.stats().connections === 0 && server.stats().sessions === 0, 10_000, 'everything released');
  assertDecoded(await gstPlay(sky.url, { ...play, transport: 'udp' }), 30, 'rtspsrc after the abuse');

  await new Promise((r) => setTimeout(r, 500));
  const mem1 = await settledMemory(gc);
  const grew = mem1.heapUsed + mem1.arrayBuffers - (mem0.heapUsed + mem0.arrayBuffers);
  t.diagnostic(`heap+buffers before ${((mem0.heapUsed + mem0.arrayBuffers) / 2 ** 20).toFixed(1)} MiB, after ${((mem1.heapUsed + mem1.arrayBuffers) / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(grew < 8 * 2 ** 20, `memory grew by ${(grew / 2 ** 20).toFixed(1)} MiB`);
});

test('auth on a shared server: wrong password 401, right one plays (ffmpeg Digest, rtspsrc); the password is never logged', async () => {
  const password = 'p4ss-w0rd-for-tests';
  const logs = captureLogger('debug');
  const server = new RTSPServer({ port: 0, logger: logs.logger });
  const open = new RTSPSkyLine({ server, path: '/open', logger: logs.logger, ...common });
  const secret = new RTSPSkyLine({ server, path: '/secret', auth: { username: 'alice', password }, logger: logs.logger, ...common });
  const feeds: Array<{ stop(): void }> = [];
  for (const o of [server, secret]) {
    assert.ok(![JSON.stringify(o), inspect(o, { depth: 8 })].some((t) => t.includes(password)), 'the password shows when inspected');
  }
  try {
    await open.startStreaming({ fps: FPS, width: 160, height: 120 });
    await secret.startStreaming({ fps: FPS, width: W, height: H });
    feeds.push(feedLive(open, { fps: FPS, width: 160, height: 120 }), feedLive(secret, { fps: FPS, width: W, height: H }));
    assert.equal(new URL(open.url).port, new URL(secret.url).port, 'one server');

    const wrong = await ffmpegPlay(secret.url.replace('rtsp://', 'rtsp://alice:guess@'), { ...play, transport: 'tcp' });
    assert.equal(wrong.frames, 0);
    assert.match(wrong.stderr, /401 Unauthorized/);
    const none = await ffmpegPlay(secret.url, { ...play, transport: 'tcp' });
    assert.match(none.stderr, /401 Unauthorized/);
    assertDecoded(await ffmpegPlay(secret.url.replace('rtsp://', `rtsp://alice:${password}@`), { ...play, transport: 'udp' }), 30, 'ffmpeg with the password');
    assertDecoded(await gstPlay(secret.url, { ...play, transport: 'tcp', user: 'alice', password }), 30, 'rtspsrc with the password');
    const gstWrong = await gstPlay(secret.url, { ...play, transport: 'tcp', user: 'alice', password: 'guess', timeoutMs: 15_000 });
    assert.equal(gstWrong.frames, 0);
    // The open path on the same server needs nothing, at its own size.
    const small = await ffmpegPlay(open.url, { frames: 10, width: 160, height: 120, transport: 'tcp' });
    assert.equal(small.bytes, 10 * 160 * 120, small.stderr);

    // Closing one SkyLine leaves the shared server serving the other.
    feeds[0]!.stop();
    await open.close();
    assertDecoded(await ffmpegPlay(secret.url.replace('rtsp://', `rtsp://alice:${password}@`), { ...play, frames: 10, transport: 'tcp' }), 10, 'after the other closed');
    assert.equal((await ffprobeFrames(open.url, 'tcp', 1, 10_000)).frames.length, 0, 'closed path is gone');
  } finally {
    for (const f of feeds) f.stop();
    await open.close();
    await secret.close();
    await server.close();
  }
  assert.ok(!logs.text().includes(password), 'password not in the logs');
  assert.match(logs.text(), /authentication failed/);
});

test('stopStreaming ends the stream for viewers (RTCP BYE, closed); a restart at another size is served at that size', async () => {
  const s2 = new RTSPSkyLine({ port: 0, path: '/cam', logger: captureLogger('warn').logger, ...common });
  let f = { stop() {} };
  try {
    await s2.startStreaming({ fps: FPS, width: W, height: H });
    f = feedLive(s2, { fps: FPS, width: W, height: H });
    const c = await RawRtspClient.connect(s2.server.port);
    const s = await c.request('SETUP', `${s2.url}/track1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
    await c.request('PLAY', s2.url, { Session: s.headers['session']!.split(';')[0]! });
    await waitFor(() => c.frames.length > 10, 10_000, 'video');
    f.stop();
    await s2.stopStreaming();
    await waitFor(() => c.closed, 5000, 'viewer disconnected');
    const bye = c.frames.filter((x) => x.channel === 1).at(-1)!;
    assert.equal(parseRtcp(bye.payload)!.at(-1)!.type, RTCP_BYE);

    await s2.startStreaming({ fps: FPS, width: 640, height: 360 });
    f = feedLive(s2, { fps: FPS, width: 640, height: 360 });
    const r = await ffmpegPlay(s2.url, { frames: 10, width: 640, height: 360, transport: 'tcp' });
    assert.equal(r.bytes, 10 * 640 * 360, r.stderr);
  } finally {
    f.stop();
    await s2.close();
  }
  // Its own server is closed with it.
  await assert.rejects(RawRtspClient.connect(s2.server.port));
});

test('four RTSPSkyLines streaming at once leave the libuv threadpool free for fs and dns (default pool of 4)', async () => {
  const env = { ...process.env };
  delete env['UV_THREADPOOL_SIZE'];
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./threadpool-child.ts', import.meta.url).pathname], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearTimeout(timer);
  assert.equal(code, 0, err.slice(-2000));
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as { streaming: number; clients: number; fs: number; dns: number; timeouts: number; threadpool: string | null };
  assert.equal(result.threadpool, null, 'UV_THREADPOOL_SIZE not set in the child');
  assert.equal(result.streaming, 4);
  assert.equal(result.clients, 4, 'each SkyLine had a viewer');
  assert.equal(result.timeouts, 0, 'no fs or dns call left waiting (30 s bound per call)');
  // Completion, not speed: a starved pool never finishes them (rates belong in bench/).
  assert.deepEqual([result.fs, result.dns], [PROBE_ROUNDS, PROBE_ROUNDS], 'every fs and dns call of the probe completed');
});
