// The RTSP client over UDP against senders that are not the camera. A local attacker reads the
// client's UDP ports from /proc/net/udp (world-readable) and sends forged RTCP sender reports:
// accepted, they shift every capture time. Also: a man in the middle answering with a Basic
// challenge over plain rtsp:// would collect the camera's password.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { LiveSource, RTSPServer, RTSPSkyLine, type SourceFrame } from '../../src/index.js';
import { senderReportCompound } from '../../src/rtp/rtcp.js';
import { indexOf } from '../support/frames.js';
import { feedIndexed } from '../support/ingest-material.js';
import { captureLogger } from '../support/quiet.js';

const W = 320, H = 240, FPS = 30;
const T0 = Date.now() - 3_600_000;
let server: RTSPServer;
let sky: RTSPSkyLine;
let feed: ReturnType<typeof feedIndexed>;

before(async () => {
  server = new RTSPServer({ port: 0 });
  await server.listen();
  sky = new RTSPSkyLine({ server, keyframeInterval: 15, statsIntervalMs: 0, stopTimeoutMs: 3000, logger: captureLogger('warn').logger });
  sky.on('error', () => undefined);
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  feed = feedIndexed(sky, { fps: FPS, width: W, height: H, t0: T0 });
});

after(async () => {
  feed?.stop();
  await sky?.close();
  await server?.close();
});

/** UDP sockets of this process as /proc/net/udp lists them: local address (hex, as there) and port. */
function ownUdpSockets(): Array<{ address: string; port: number }> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length > 9 && inodes.has(f[9]!)).map((f) => {
    const [addr, port] = f[1]!.split(':');
    return { address: addr!, port: parseInt(port!, 16) };
  });
}

test('forged RTCP sender reports from another local socket are ignored: capture times stay the camera\'s; the UDP ports are bound to the interface that reaches it', async () => {
  const s = new LiveSource({ url: sky.url, rtspTransport: 'udp', queueFrames: 256, logger: captureLogger('warn').logger });
  s.on('error', () => undefined);
  const attacker = dgram.createSocket('udp4');
  await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', r));
  let forging: NodeJS.Timeout | undefined;
  try {
    await s.start();
    const targets = ownUdpSockets().filter((u) => !server.udpPorts!.includes(u.port) && u.port !== attacker.address().port);
    assert.ok(targets.length >= 2, `the client's RTP/RTCP pair is found: ${JSON.stringify(targets)}`);
    assert.ok(targets.every((t) => t.address === '0100007F'), `bound to 127.0.0.1, not every interface: ${JSON.stringify(targets)}`);
    // The server's SSRC too (as a sniffer would know it): only the sender's address and port tell.
    const sessions = (server as unknown as { sessions: Map<string, { stream: { ssrc: number } }> }).sessions;
    const ssrcs = [...sessions.values()].map((x) => x.stream.ssrc).concat([0x1234abcd]);
    const forge = () => {
      for (const ssrc of ssrcs) {
        const sr = senderReportCompound({ ssrc, ntpMs: Date.now() + 86_400_000, rtpTime: 0, packetCount: 1, octetCount: 1 }, 'evil');
        for (const t of targets) attacker.send(sr, t.port, '127.0.0.1');
      }
    };
    forge();
    forging = setInterval(forge, 20);
    const frames: SourceFrame[] = [];
    for await (const f of s) {
      frames.push(f);
      if (frames.length >= 40) break;
    }
    for (const f of frames) {
      const put = feed.times.get(indexOf(f))!;
      assert.ok(Math.abs(f.timestamp - put) < 0.5, `frame ${indexOf(f)}: capture time ${f.timestamp - T0} ms after T0, put at ${put - T0}`);
    }
  } finally {
    clearInterval(forging);
    attacker.close();
    await s.close();
  }
});

test('a Basic challenge over plain rtsp:// is refused by default (the password is never sent); rtspBasicWithoutTls allows it', async () => {
  const seen: string[] = [];
  const fake = net.createServer((c) => {
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const req = buf.slice(0, end);
        buf = buf.slice(end + 4);
        seen.push(req);
        const cseq = /CSeq:\s*(\d+)/i.exec(req)?.[1] ?? '0';
        c.write(`RTSP/1.0 401 Unauthorized\r\nCSeq: ${cseq}\r\nWWW-Authenticate: Basic realm="mitm"\r\n\r\n`);
      }
    });
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const url = `rtsp://cam:camera-password@127.0.0.1:${(fake.address() as net.AddressInfo).port}/live`;
  try {
    const refused = new LiveSource({ url, logger: captureLogger('warn').logger });
    refused.on('error', () => undefined);
    await assert.rejects(refused.start(), (e: Error & { code?: string }) => e.code === 'UNAUTHORIZED' && /clear text/.test(e.message) && !e.message.includes('camera-password'));
    await refused.close();
    assert.ok(seen.length >= 1 && seen.every((r) => !/^Authorization:/im.test(r)), 'no Authorization header sent');
    seen.length = 0;
    const allowed = new LiveSource({ url, rtspBasicWithoutTls: true, logger: captureLogger('warn').logger });
    allowed.on('error', () => undefined);
    await assert.rejects(allowed.start(), (e: Error & { code?: string }) => e.code === 'UNAUTHORIZED');
    await allowed.close();
    assert.ok(seen.some((r) => /^Authorization: Basic /im.test(r)), 'asked for, Basic is answered');
  } finally {
    fake.close();
  }
});
