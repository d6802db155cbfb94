// Bad input gets a clear error code and message, never a crash or a hang: a file that is not
// video, a codec we do not decode, servers speaking garbage or nothing at all, a stream cut in the
// middle of a frame (which reconnects by itself), a dead server (one retry loop, bounded delays).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LiveSource, RTSPSkyLine, type LiveSourceOptions } from '../../src/index.js';
import { indexOf } from '../support/frames.js';
import { feedIndexed } from '../support/ingest-material.js';
import { freePort, listenOnLoopback } from '../support/ports.js';
import { captureLogger } from '../support/quiet.js';
import { waitFor } from '../support/wait.js';

let dir: string;
const opened: LiveSource[] = [];
const servers: net.Server[] = [];
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'skyline-ingest-bad-'));
});
after(async () => {
  for (const s of opened) await s.close();
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

type Coded = Error & { code?: string };

function source(url: string, extra: Partial<LiveSourceOptions> = {}) {
  const log = captureLogger('debug');
  const s = new LiveSource({ url, logger: log.logger, connectTimeoutMs: 3000, reconnect: { initialDelayMs: 100, maxDelayMs: 400 }, ...extra });
  opened.push(s);
  const errors: Coded[] = [];
  s.on('error', (e) => errors.push(e));
  return { s, log, errors };
}

/** A TCP server on loopback that answers every connection with `onConnect`. */
async function tcpServer(onConnect: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer((sock) => {
    sock.on('error', () => undefined);
    onConnect(sock);
  });
  servers.push(server);
  return listenOnLoopback(server);
}

test('a text file is NOT_A_STREAM; a missing file NOT_FOUND; both say so', async () => {
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'these are not the frames you are looking for\n'.repeat(500));
  await assert.rejects(source(text).s.start(), (e: Coded) => e.code === 'NOT_A_STREAM' && /not a media stream/.test(e.message));
  await assert.rejects(source(join(dir, 'nope.mp4')).s.start(), (e: Coded) => e.code === 'NOT_FOUND' && /nope\.mp4/.test(e.message));
});

test('a codec we do not decode (VP8 in WebM) is UNSUPPORTED_CODEC, naming it', async () => {
  const webm = join(dir, 'vp8.webm');
  execFileSync('gst-launch-1.0', ['-q', ...`videotestsrc num-buffers=10 ! video/x-raw,width=160,height=120 ! vp8enc ! webmmux ! filesink location=${webm}`.split(' ')]);
  const { s } = source(webm);
  await assert.rejects(s.start(), (e: Coded) => e.code === 'UNSUPPORTED_CODEC' && /video\/x-vp8/.test(e.message) && /decodes video\/x-h264 and image\/jpeg/.test(e.message));
  assert.equal(s.state, 'error');
});

// GStreamer's RTMP client (rtmp2src) accepts a garbage handshake ("continuing anyway") and waits for
// an answer to its connect command: the README's one code for that is UNREACHABLE, no media within
// connectTimeoutMs.
test('a server speaking garbage: RTSP gives PROTOCOL_ERROR, RTMP UNREACHABLE after connectTimeoutMs', async () => {
  const garbage = (sock: net.Socket) => sock.end(Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n' + '\u0000\u00ff garbage '.repeat(200)));
  const port = await tcpServer(garbage);
  await assert.rejects(source(`rtsp://127.0.0.1:${port}/cam`).s.start(), (e: Coded) => e.code === 'PROTOCOL_ERROR' && /RTSP/.test(e.message));
  const rtmpPort = await tcpServer((sock) => sock.write(Buffer.alloc(4000, 0x5a)));
  await assert.rejects(source(`rtmp://127.0.0.1:${rtmpPort}/live/some-key-123`).s.start(), (e: Coded) => e.code === 'UNREACHABLE' && /no media arrived within 3 s/.test(e.message) && !e.message.includes('some-key-123'));
});

test('RTSP answers read straight from the server: H.265 offered → UNSUPPORTED_CODEC naming it, 404 → NOT_FOUND, audio only → NOT_A_STREAM', async () => {
  const sdp = (media: string) => `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\n${media}`;
  const port = await tcpServer((sock) => {
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const req = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const cseq = /CSeq: *(\d+)/i.exec(req)?.[1] ?? '0';
        const path = req.split(' ')[1] ?? '';
        const body = path.endsWith('/h265')
          ? sdp('m=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\na=control:track1\r\n')
          : path.endsWith('/audio')
            ? sdp('m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n')
            : undefined;
        sock.write(body === undefined ? `RTSP/1.0 404 Not Found\r\nCSeq: ${cseq}\r\n\r\n` : `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      }
    });
  });
  await assert.rejects(source(`rtsp://127.0.0.1:${port}/h265`).s.start(), (e: Coded) => e.code === 'UNSUPPORTED_CODEC' && /H265\/90000/.test(e.message));
  await assert.rejects(source(`rtsp://127.0.0.1:${port}/missing`).s.start(), (e: Coded) => e.code === 'NOT_FOUND' && /404/.test(e.message));
  await assert.rejects(source(`rtsp://127.0.0.1:${port}/audio`).s.start(), (e: Coded) => e.code === 'NOT_A_STREAM' && /no video/.test(e.message));
});

test('a server that accepts and says nothing: UNREACHABLE after connectTimeoutMs', async () => {
  const port = await tcpServer(() => undefined);
  const { s } = source(`rtsp://127.0.0.1:${port}/cam`, { connectTimeoutMs: 1000 });
  await assert.rejects(s.start(), (e: Coded) => ['UNREACHABLE', 'PROTOCOL_ERROR'].includes(e.code!) && /within 1 s/.test(e.message));
});

test('a stream cut in the middle of a frame: STREAM_LOST, then it reconnects by itself; a dead server is retried by one loop', async () => {
  const sky = new RTSPSkyLine({ port: 0, keyframeInterval: 15, statsIntervalMs: 0, stopTimeoutMs: 3000, logger: captureLogger('warn').logger });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps: 30, width: 320, height: 240 });
  const feed = feedIndexed(sky, { fps: 30, width: 320, height: 240, t0: Date.now() });
  // A proxy that cuts its first connection after 20 kB (inside some RTP packet), later ones pass.
  let connections = 0;
  const proxyPort = await tcpServer((client) => {
    const n = ++connections;
    const upstream = net.connect(sky.server.port, '127.0.0.1');
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.on('data', (d) => upstream.write(d));
    let sent = 0;
    upstream.on('data', (d: Buffer) => {
      if (n === 1 && sent + d.length > 20_000) {
        client.write(d.subarray(0, 20_000 - sent));
        client.destroy();
        upstream.destroy();
        return;
      }
      sent += d.length;
      client.write(d);
    });
  });
  try {
    const { s, errors } = source(sky.url.replace(`:${sky.server.port}/`, `:${proxyPort}/`), { queueFrames: 64 });
    const reconnects: number[] = [];
    s.on('reconnect', (r) => reconnects.push(r.attempt));
    await s.start();
    await waitFor(() => reconnects.length >= 1 && s.state === 'streaming' && connections >= 2, 30_000, 'cut, then streaming again');
    assert.ok(errors.some((e) => e.code === 'STREAM_LOST'), errors.map((e) => `${e.code}: ${e.message}`).join('; '));
    const f = (await s.latest())!;
    assert.ok(indexOf(f) >= 0, 'frames decode again after the cut');
    // Now the server goes away for good: attempts 1, 2, 3... from one loop, delays capped.
    reconnects.length = 0;
    const delays: number[] = [];
    s.on('reconnect', (r) => delays.push(r.delayMs));
    feed.stop();
    await sky.close();
    await waitFor(() => reconnects.length >= 4, 30_000, 'four attempts');
    assert.deepEqual(reconnects.slice(0, 4), [1, 2, 3, 4]);
    assert.ok(delays.every((d) => d <= 400), `${delays}`);
    assert.equal(s.state, 'reconnecting');
    await s.stop();
    assert.equal(s.state, 'stopped');
  } finally {
    feed.stop();
    await sky.close();
  }
});

test('closed ports: UNREACHABLE for RTSP and RTMP, and the RTMP key stays out of the message', async () => {
  const port = await freePort();
  await assert.rejects(source(`rtsp://127.0.0.1:${port}/x`).s.start(), (e: Coded) => e.code === 'UNREACHABLE');
  const { s, log } = source(`rtmp://127.0.0.1:${port}/live/hidden-key-42`);
  await assert.rejects(s.start(), (e: Coded) => e.code === 'UNREACHABLE' && !e.message.includes('hidden-key-42'));
  assert.ok(!log.text().includes('hidden-key-42'));
});

test('options are checked with clear messages', () => {
  assert.throws(() => new LiveSource({ url: 'testsrc://', format: 'YUY2' as never }), /format must be one of BGR, RGB, RGBA, BGRA, GRAY8, I420; got YUY2/);
  assert.throws(() => new LiveSource({ url: 'testsrc://', width: 100 }), /give both width and height/);
  assert.throws(() => new LiveSource({ url: 'ftp://x/y' }), (e: Coded) => e.code === 'BAD_URL');
});
