// RTSPServer at the protocol level (RFC 2326, RFC 3550, RFC 6184): a bare client checks every reply
// and packet. The stream is a pre-encoded clip played in real time, so no encoder runs here.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { RTSPServer, type RTSPServerOptions } from '../../src/rtsp/server.js';
import type { RtspMount, MountOptions } from '../../src/rtsp/mount.js';
import { parseSdp, parseFmtp } from '../../src/rtsp/sdp.js';
import { digestAuthorization } from '../../src/rtsp/auth.js';
import { parseRtcp, ntpToEpochMs, RTCP_SR, RTCP_BYE } from '../../src/rtp/rtcp.js';
import { parseRtp, type RtpPacket } from '../../src/rtp/packet.js';
import { H264Depacketizer, type DepacketizedUnit } from '../../src/rtp/depacketizer.js';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { encodeClip, ClipPlayer } from '../support/rtsp-source.js';
import { RawRtspClient } from '../support/rtsp-client.js';
import { waitFor } from '../support/wait.js';
import { ffmpegPlay } from '../support/rtsp-players.js';
import { captureLogger } from '../support/quiet.js';
import { needTool } from '../support/require-tool.js';

let clip: AccessUnit[];
before(async () => {
  clip = await encodeClip({ width: 320, height: 240, fps: 30, frames: 60, keyInt: 30 });
});

interface Rig {
  server: RTSPServer;
  mount: RtspMount;
  player: ClipPlayer;
  url: string;
  port: number;
}

async function withServer(opts: RTSPServerOptions & { mount?: MountOptions; aus?: AccessUnit[]; start?: boolean }, fn: (rig: Rig) => Promise<void>): Promise<void> {
  const server = new RTSPServer({ port: 0, logger: captureLogger('warn').logger, ...opts });
  await server.listen();
  let player: ClipPlayer | undefined;
  const mount = server.mount('/live', { ...opts.mount, onKeyframeRequest: () => player?.requestKeyframe() });
  player = new ClipPlayer(opts.aus ?? clip, 30, (au) => mount.pushAccessUnit(au));
  if (opts.start !== false) player.start();
  try {
    await fn({ server, mount, player, url: server.url('/live'), port: server.port });
  } finally {
    player.stop();
    await server.close();
  }
}

const nalTypeOf = (p: RtpPacket) => {
  const t = p.payload[0]! & 0x1f;
  return t === 28 ? p.payload[1]! & 0x1f : t;
};

test('OPTIONS lists the methods; DESCRIBE answers SDP with Content-Base and the stream parameter sets', async () => {
  await withServer({}, async ({ url, port }) => {
    const c = await RawRtspClient.connect(port);
    try {
      const o = await c.request('OPTIONS', url);
      assert.equal(o.status, 200);
      assert.equal(o.headers['cseq'], '1');
      for (const m of ['OPTIONS', 'DESCRIBE', 'SETUP', 'PLAY', 'TEARDOWN', 'GET_PARAMETER']) assert.ok(o.headers['public']!.includes(m), m);
      assert.equal((await c.request('OPTIONS', '*')).status, 200);

      const d = await c.request('DESCRIBE', url, { Accept: 'application/sdp' });
      assert.equal(d.status, 200);
      assert.equal(d.headers['content-type'], 'application/sdp');
      assert.equal(d.headers['content-base'], `${url}/`, 'Content-Base ends with a slash');
      const sdp = parseSdp(d.body.toString());
      const m = sdp.media[0]!;
      const attrs = Object.fromEntries(m.attributes);
      assert.equal(attrs['rtpmap'], '96 H264/90000');
      assert.equal(attrs['control'], 'track1');
      const fmtp = parseFmtp(attrs['fmtp']!).params;
      const sps = clip[0]!.nalus.find((n) => (n[0]! & 0x1f) === 7)!;
      const pps = clip[0]!.nalus.find((n) => (n[0]! & 0x1f) === 8)!;
      assert.equal(fmtp['sprop-parameter-sets'], `${sps.toString('base64')},${pps.toString('base64')}`);
      assert.equal(fmtp['profile-level-id'], sps.subarray(1, 4).toString('hex').toUpperCase());
      assert.equal(fmtp['packetization-mode'], '1');

      // a relative request URI and a trailing slash resolve to the same stream
      assert.equal((await c.request('DESCRIBE', '/live/')).status, 200);
    } finally {
      c.close();
    }
  });
});

test('status codes: 404 unknown path, 501 unknown method, 405 RECORD, 400 without CSeq, 551 for Require, 505 for RTSP/2.0', async () => {
  await withServer({}, async ({ url, port }) => {
    const c = await RawRtspClient.connect(port);
    try {
      assert.equal((await c.request('DESCRIBE', url.replace('/live', '/nothing'))).status, 404);
      assert.equal((await c.request('DESCRIBE', url + '/track2')).status, 404);
      assert.equal((await c.request('FROBNICATE', url)).status, 501);
      const r = await c.request('RECORD', url);
      assert.equal(r.status, 405);
      assert.ok(r.headers['allow']);
      assert.equal((await c.request('ANNOUNCE', url)).status, 405);
      assert.equal((await c.sendRaw(`OPTIONS ${url} RTSP/1.0\r\n\r\n`)).status, 400);
      assert.equal((await c.request('DESCRIBE', 'http://example.com/live')).status, 400);
      const ext = await c.request('DESCRIBE', url, { Require: 'com.example.fancy' });
      assert.equal(ext.status, 551);
      assert.equal(ext.headers['unsupported'], 'com.example.fancy');
      const v = await c.sendRaw(`OPTIONS ${url} RTSP/2.0\r\nCSeq: 99\r\n\r\n`);
      assert.equal(v.status, 505);
      assert.equal(v.headers['cseq'], '99');
      await waitFor(() => c.closed, 5000, 'close after a framing error');
    } finally {
      c.close();
    }
  });
});

test('SETUP: 459 on the aggregate URL, 461 without a usable transport, 455 twice in a session, 454 unknown session', async () => {
  await withServer({}, async ({ url, port }) => {
    const c = await RawRtspClient.connect(port);
    try {
      const track = `${url}/track1`;
      assert.equal((await c.request('SETUP', url, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' })).status, 459);
      assert.equal((await c.request('SETUP', track, { Transport: 'RTP/AVP;multicast' })).status, 461);
      assert.equal((await c.request('SETUP', track, { Transport: 'RTP/SAVP;unicast;client_port=5000-5001' })).status, 461);
      assert.equal((await c.request('SETUP', track, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=RECORD' })).status, 461);
      assert.equal((await c.request('SETUP', track, {})).status, 461);
      assert.equal((await c.request('SETUP', track, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1', Session: 'NOPE' })).status, 454);
      // The first alternative is unusable, the second is taken.
      const s = await c.request('SETUP', track, { Transport: 'RTP/AVP;multicast, RTP/AVP/TCP;unicast;interleaved=4-5' });
      assert.equal(s.status, 200);
      assert.match(s.headers['transport']!, /^RTP\/AVP\/TCP;unicast;interleaved=4-5;ssrc=[0-9A-F]{8}/);
      assert.match(s.headers['session']!, /^[0-9A-F]{16};timeout=60$/);
      const id = s.headers['session']!.split(';')[0]!;
      assert.equal((await c.request('SETUP', track, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1', Session: id })).status, 455);
      // Another session on the same connection gets free channels when it asks for used ones.
      const s2 = await c.request('SETUP', track, { Transport: 'RTP/AVP/TCP;unicast;interleaved=4-5' });
      assert.equal(s2.status, 200);
      assert.match(s2.headers['transport']!, /interleaved=0-1/);
      // Sessions belong to their connection.
      const other = await RawRtspClient.connect(port);
      assert.equal((await other.request('PLAY', url, { Session: id })).status, 454);
      other.close();
    } finally {
      c.close();
    }
  });
});

test('PLAY: 454 without a session, 457 for a bad Range; the reply carries Range, RTP-Info and Session', async () => {
  await withServer({}, async ({ url, port }) => {
    const c = await RawRtspClient.connect(port);
    try {
      assert.equal((await c.request('PLAY', url)).status, 454);
      const s = await c.request('SETUP', `${url}/track1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
      const id = s.headers['session']!.split(';')[0]!;
      assert.equal((await c.request('PLAY', url, { Session: id, Range: 'bytes=0-' })).status, 457);
      const p = await c.request('PLAY', url, { Session: id, Range: 'npt=0.000-' });
      assert.equal(p.status, 200);
      assert.equal(p.headers['range'], 'npt=0.000-');
      assert.match(p.headers['rtp-info']!, new RegExp(`^url=${url}/track1;seq=\\d+;rtptime=\\d+$`));
      assert.equal(p.headers['session']!.split(';')[0], id);
      assert.equal((await c.request('PAUSE', url, { Session: id })).status, 200);
      assert.equal((await c.request('GET_PARAMETER', url, { Session: id })).status, 200);
      assert.equal((await c.request('SET_PARAMETER', url, { Session: id }, 'a: b\r\n')).status, 451);
      assert.equal((await c.request('TEARDOWN', url, { Session: id })).status, 200);
      assert.equal((await c.request('PLAY', url, { Session: id })).status, 454);
    } finally {
      c.close();
    }
  });
});

test('RTP over the RTSP connection: a joiner starts with SPS, PPS and an IDR; RFC 3550 fields; RTCP sender reports', async () => {
  await withServer({}, async ({ url, port, mount, player }) => {
    // Let the stream run past its first keyframe so the client truly joins mid-stream.
    await waitFor(() => player.sent > 10, 5000, 'stream running');
    const c = await RawRtspClient.connect(port);
    try {
      const s = await c.request('SETUP', `${url}/track1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
      const ssrc = parseInt(/ssrc=([0-9A-F]{8})/.exec(s.headers['transport']!)![1]!, 16);
      const id = s.headers['session']!.split(';')[0]!;
      const requestsBefore = player.keyframeRequests;
      const p = await c.request('PLAY', url, { Session: id });
      const info = /seq=(\d+);rtptime=(\d+)/.exec(p.headers['rtp-info']!)!;
      await waitFor(() => c.frames.filter((f) => f.channel === 1).length >= 1 && c.frames.length > 200, 10_000, 'RTP and an RTCP SR');
      assert.ok(player.keyframeRequests > requestsBefore, 'PLAY asked the producer for a keyframe');
      assert.ok(mount.stats().keyframeRequests >= 1);

      const rtp = c.frames.filter((f) => f.channel === 0).map((f) => parseRtp(f.payload)!);
      assert.ok(rtp.every((r) => r !== undefined));
      assert.equal(rtp[0]!.sequence, Number(info[1]), 'first packet carries the RTP-Info seq');
      assert.deepEqual(rtp.map(nalTypeOf).filter((t) => t !== 6).slice(0, 3), [7, 8, 5], 'SPS, PPS, then the IDR (SEI aside)');
      for (let i = 1; i < rtp.length; i++) {
        assert.equal(rtp[i]!.sequence, (rtp[i - 1]!.sequence + 1) & 0xffff, 'no sequence gaps');
        assert.equal(rtp[i]!.ssrc, ssrc);
        assert.equal(rtp[i]!.payloadType, 96);
        const dt = (rtp[i]!.timestamp - rtp[i - 1]!.timestamp) >>> 0;
        if (dt !== 0) {
          assert.equal(rtp[i - 1]!.marker, true, 'marker on the last packet of each picture');
          assert.equal(dt, 3000, '90 kHz at 30 fps');
        } else assert.equal(rtp[i - 1]!.marker, false);
      }
      // The lead's depacketizer rebuilds whole pictures, first one a keyframe.
      const units: DepacketizedUnit[] = [];
      const dep = new H264Depacketizer((u) => units.push(u));
      for (const r of rtp) dep.push(r);
      assert.ok(units.length >= 5);
      assert.equal(units[0]!.keyframe, true);
      assert.equal(dep.dropped, 0);

      const rtcp = c.frames.filter((f) => f.channel === 1).map((f) => parseRtcp(f.payload)!);
      const sr = rtcp[0]!;
      assert.equal(sr[0]!.type, RTCP_SR);
      assert.equal(sr[0]!.ssrc, ssrc);
      const raw = c.frames.find((f) => f.channel === 1)!.payload;
      const ntpMs = ntpToEpochMs(raw.readUInt32BE(8), raw.readUInt32BE(12));
      assert.ok(Math.abs(ntpMs - Date.now()) < 10_000, 'NTP time is wall-clock time');
      assert.ok(raw.readUInt32BE(20) > 0, 'packet count');
    } finally {
      c.close();
    }
  });
});

test('RTP over UDP: server_port pair, packets to client_port, SR to client_port+1; receiver reports keep the session alive', async () => {
  await withServer({ sessionTimeoutSec: 2 }, async ({ server, url, port }) => {
    const rtpSock = dgram.createSocket('udp4');
    const rtcpSock = dgram.createSocket('udp4');
    const c = await RawRtspClient.connect(port);
    let rrTimer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((r) => rtpSock.bind(0, '127.0.0.1', () => r()));
      await new Promise<void>((r) => rtcpSock.bind(rtpSock.address().port + 1, '127.0.0.1', () => r())).catch(() => undefined);
      const cp = [rtpSock.address().port, rtcpSock.address().port];
      const got: { rtp: RtpPacket[]; rtcp: Buffer[] } = { rtp: [], rtcp: [] };
      rtpSock.on('message', (m) => got.rtp.push(parseRtp(m)!));
      rtcpSock.on('message', (m) => got.rtcp.push(m));
      const s = await c.request('SETUP', `${url}/track1`, { Transport: `RTP/AVP;unicast;client_port=${cp[0]}-${cp[1]}` });
      assert.equal(s.status, 200);
      const sp = /server_port=(\d+)-(\d+)/.exec(s.headers['transport']!)!;
      assert.deepEqual([Number(sp[1]), Number(sp[2])], [...server.udpPorts!]);
      assert.equal(Number(sp[1]) % 2, 0, 'RTP on an even port');
      assert.match(s.headers['transport']!, new RegExp(`client_port=${cp[0]}-${cp[1]}`));
      const id = s.headers['session']!.split(';')[0]!;
      assert.equal(s.headers['session'], `${id};timeout=2`);
      assert.equal((await c.request('PLAY', url, { Session: id })).status, 200);
      await waitFor(() => got.rtp.length > 30 && got.rtcp.length > 0, 10_000, 'RTP and RTCP over UDP');
      assert.deepEqual(got.rtp.map(nalTypeOf).filter((t) => t !== 6).slice(0, 3), [7, 8, 5]);
      assert.equal(parseRtcp(got.rtcp[0]!)![0]!.type, RTCP_SR);

      // A receiver report every 250 ms (players send them) keeps the session past its 2 s timeout:
      // counted in video received, not in time slept. 120 more packets at 30 fps (one or more per
      // frame) cover over 2 timeouts of the clip's frames.
      const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 7]);
      let rrs = 0;
      rrTimer = setInterval(() => { rtcpSock.send(rr, Number(sp[2]), '127.0.0.1'); rrs++; }, 250);
      const packets = got.rtp.length;
      await waitFor(() => got.rtp.length >= packets + 120 && rrs >= 16, 30_000, 'video while receiver reports come');
      assert.equal(server.stats().sessions, 1, 'alive thanks to receiver reports');
      clearInterval(rrTimer);
      rrTimer = undefined;
      await waitFor(() => server.stats().sessions === 0, 6000, 'session timeout');
      // The BYE datagram may still be on its way when the session is gone.
      const lastIsBye = () => parseRtcp(got.rtcp.at(-1)!)?.at(-1)?.type === RTCP_BYE;
      await waitFor(lastIsBye, 3000, 'BYE when the session ends');
      assert.equal(parseRtcp(got.rtcp.at(-1)!)!.at(-1)!.type, RTCP_BYE, 'BYE when the session ends');
      assert.equal((await c.request('GET_PARAMETER', url, { Session: id })).status, 454);
    } finally {
      if (rrTimer) clearInterval(rrTimer);
      c.close();
      rtpSock.close();
      rtcpSock.close();
    }
  });
});

test('a request never finished gets 408 and is closed; a silent connection is closed', async () => {
  await withServer({ requestTimeoutMs: 500 }, async ({ server, port, url }) => {
    const c = await RawRtspClient.connect(port);
    const reply = c.sendRaw(`OPTIONS ${url} RTSP/1.0\r\nCSeq: 1\r\n`);
    assert.equal((await reply).status, 408);
    await waitFor(() => c.closed, 5000, 'close');
    const silent = await RawRtspClient.connect(port);
    await waitFor(() => silent.closed, 5000, 'silent connection closed');
    await waitFor(() => server.stats().connections === 0, 3000, 'connections released');
  });
});

test('garbage, truncated and oversized requests are answered and closed; the server keeps serving', async () => {
  await withServer({}, async ({ server, port, url }) => {
    const cases: Array<[string | Buffer, number]> = [
      ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      [`DESCRIBE ${url} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 10000000\r\n\r\n`, 413],
      [`DESCRIBE rtsp://127.0.0.1/${'x'.repeat(5000)} RTSP/1.0\r\nCSeq: 1\r\n\r\n`, 414],
      [`DESCRIBE ${url} RTSP/1.0\r\nCSeq: 1\r\n${'X-Big: yyyyyyyyyyyyyyyyyyyyyyyyyy\r\n'.repeat(600)}\r\n`, 431],
      [`DESCRIBE ${url} RTSP/1.0\r\nCSeq: 1\r\nBroken header line\r\n\r\n`, 400],
    ];
    for (const [data, status] of cases) {
      const c = await RawRtspClient.connect(port);
      const r = await c.sendRaw(data);
      assert.equal(r.status, status, String(data).slice(0, 40));
      await waitFor(() => c.closed, 5000, 'close');
    }
    // Random bytes never crash the server.
    let seed = 3;
    for (let n = 0; n < 20; n++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      const b = Buffer.alloc(2000);
      for (let i = 0; i < b.length; i++) b[i] = (seed = (seed * 48271) % 2147483647) & 0xff;
      s.end(b);
    }
    // A request cut off by the client closing mid-way.
    const t = net.connect(port, '127.0.0.1');
    t.on('error', () => undefined);
    t.end(`DESCRIBE ${url} RTSP/1.0\r\nCSe`);
    const ok = await ffmpegPlay(url, { transport: 'tcp', frames: 10, width: 320, height: 240 });
    assert.equal(ok.frames, 10, ok.stderr);
    await waitFor(() => server.stats().connections === 0, 5000, 'all connections released');
  });
});

test('a TCP client that stops reading skips pictures, then is dropped; another client is unaffected', async () => {
  // A high-bitrate clip so the reader's kernel buffers fill quickly.
  const heavy = await encodeClip({ width: 640, height: 480, fps: 30, frames: 60, keyInt: 30, pattern: 'snow', bitrateKbps: 20000 });
  await withServer({ aus: heavy, maxClientBacklogBytes: 256 * 1024, stallTimeoutMs: 1500 }, async ({ server, mount, port, url }) => {
    const slow = await RawRtspClient.connect(port);
    const good = await RawRtspClient.connect(port);
    try {
      for (const c of [slow, good]) {
        const s = await c.request('SETUP', `${url}/track1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
        assert.equal((await c.request('PLAY', url, { Session: s.headers['session']!.split(';')[0]! })).status, 200);
      }
      slow.socket.pause(); // stops reading: the kernel buffers fill, then the server's backlog
      let maxBacklog = 0;
      await waitFor(() => {
        const st = mount.stats();
        maxBacklog = Math.max(maxBacklog, process.memoryUsage().arrayBuffers);
        return st.droppedClients === 1;
      }, 30_000, 'the slow client dropped');
      assert.ok(mount.stats().droppedUnits > 0, 'pictures were skipped before dropping');
      await waitFor(() => server.stats().sessions === 1, 3000, 'slow session gone');
      // The good client received a continuous stream all along.
      const rtp = good.frames.filter((f) => f.channel === 0).map((f) => parseRtp(f.payload)!);
      for (let i = 1; i < rtp.length; i++) assert.equal(rtp[i]!.sequence, (rtp[i - 1]!.sequence + 1) & 0xffff);
      const units: DepacketizedUnit[] = [];
      const dep = new H264Depacketizer((u) => units.push(u));
      for (const r of rtp) dep.push(r);
      assert.ok(units.length > 30, `good client got ${units.length} pictures`);
      assert.equal(dep.dropped, 0);
      assert.ok(maxBacklog < 200 * 2 ** 20, `buffers stayed bounded (${maxBacklog})`);
    } finally {
      slow.close();
      good.close();
    }
  });
});

test('auth: 401 with Digest and (asked for) Basic challenges; right credentials play, wrong ones do not; OPTIONS is open', async () => {
  const auth = { username: 'viewer', password: 'correct horse battery', realm: 'cams', schemes: ['digest', 'basic'] as Array<'digest' | 'basic'> };
  const log = captureLogger('debug');
  await withServer({ auth, logger: log.logger }, async ({ port, url }) => {
    const c = await RawRtspClient.connect(port);
    try {
      assert.equal((await c.request('OPTIONS', url)).status, 200);
      const r = await c.request('DESCRIBE', url);
      assert.equal(r.status, 401);
      const challenges = r.headers['www-authenticate']!;
      assert.match(challenges, /Digest realm="cams", nonce="[0-9a-f]+", algorithm="MD5"/);
      assert.match(challenges, /Basic realm="cams"/);
      const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
      assert.equal((await c.request('DESCRIBE', url, { Authorization: basic('viewer', 'wrong') })).status, 401);
      assert.equal((await c.request('DESCRIBE', url, { Authorization: basic('viewer', auth.password) })).status, 200);
      const nonce = /nonce="([0-9a-f]+)"/.exec(challenges)![1]!;
      const digest = (method: string, uri: string, password = auth.password) => digestAuthorization({ username: 'viewer', password, realm: 'cams', nonce, method, uri });
      assert.equal((await c.request('DESCRIBE', url, { Authorization: digest('DESCRIBE', url, 'nope') })).status, 401);
      assert.equal((await c.request('DESCRIBE', url, { Authorization: digest('DESCRIBE', url) })).status, 200);
      assert.equal((await c.request('SETUP', `${url}/track1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' })).status, 401);
      const s = await c.request('SETUP', `${url}/track1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1', Authorization: digest('SETUP', `${url}/track1`) });
      assert.equal(s.status, 200);
      // The session was authenticated at SETUP.
      assert.equal((await c.request('PLAY', url, { Session: s.headers['session']!.split(';')[0]! })).status, 200);
      const ff = await ffmpegPlay(url.replace('rtsp://', `rtsp://viewer:${encodeURIComponent(auth.password)}@`), { transport: 'tcp', frames: 10, width: 320, height: 240 });
      assert.equal(ff.frames, 10, ff.stderr);
      const bad = await ffmpegPlay(url.replace('rtsp://', 'rtsp://viewer:wrong@'), { transport: 'tcp', frames: 10, width: 320, height: 240 });
      assert.equal(bad.frames, 0);
      assert.match(bad.stderr, /401|Unauthorized/i);
    } finally {
      c.close();
    }
  });
  assert.ok(!log.text().includes(auth.password), 'the password never reaches the log');
  assert.match(log.text(), /authentication failed/);
});

test('DESCRIBE waits for a stream that has not started, and answers 503 when it does not start', async () => {
  // A wait far longer than a loaded machine needs to start the player: no race decides the answer.
  await withServer({ describeWaitMs: 3000, start: false }, async ({ port, url, player }) => {
    const c = await RawRtspClient.connect(port);
    try {
      assert.equal((await c.request('DESCRIBE', url)).status, 503);
      let answered = false;
      const pending = c.request('DESCRIBE', url).finally(() => (answered = true));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(answered, false, 'DESCRIBE waits while the stream has not started');
      player.start();
      // The stream starts within the wait: the waiting DESCRIBE is answered with the SDP.
      const waited = await pending;
      assert.equal(waited.status, 200);
      assert.match(waited.body.toString(), /a=rtpmap:96 H264\/90000/);
      const slow = await RawRtspClient.connect(port);
      const later = await slow.request('DESCRIBE', url);
      slow.close();
      assert.equal(later.status, 200);
    } finally {
      c.close();
    }
  });
});

test('several mounts on one server; ending a stream sends BYE and closes its clients only', async () => {
  await withServer({}, async ({ server, port, url, mount }) => {
    const other = server.mount('/other');
    assert.throws(() => server.mount('/other/'), /already mounted/);
    assert.throws(() => server.mount('/bad path'), /invalid/);
    const feeder = new ClipPlayer(clip, 30, (au) => other.pushAccessUnit(au));
    feeder.start();
    const a = await RawRtspClient.connect(port);
    const b = await RawRtspClient.connect(port);
    try {
      for (const [c, u] of [[a, url], [b, server.url('/other')]] as const) {
        const s = await c.request('SETUP', `${u}/track1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
        assert.equal(s.status, 200);
        assert.equal((await c.request('PLAY', u, { Session: s.headers['session']!.split(';')[0]! })).status, 200);
      }
      await waitFor(() => a.frames.length > 20 && b.frames.length > 20, 10_000, 'both streams flowing');
      mount.endStream();
      await waitFor(() => a.closed, 5000, 'client of the ended stream closed');
      const last = a.frames.filter((f) => f.channel === 1).at(-1)!;
      assert.equal(parseRtcp(last.payload)!.at(-1)!.type, RTCP_BYE);
      const before = b.frames.length;
      await waitFor(() => b.frames.length > before + 20, 5000, 'the other stream keeps flowing');
      assert.equal(b.closed, false);
      server.unmount('/other');
      await waitFor(() => b.closed, 5000, 'unmount closes its clients');
      assert.equal(server.stats().sessions, 0);
      feeder.stop();
    } finally {
      feeder.stop();
      a.close();
      b.close();
    }
  });
});

test('session timeouts: a TCP session set up but never played ends; a playing one lives with its connection', async () => {
  await withServer({ sessionTimeoutSec: 1 }, async ({ server, port, url }) => {
    const idle = await RawRtspClient.connect(port);
    const busy = await RawRtspClient.connect(port);
    try {
      assert.equal((await idle.request('SETUP', `${url}/track1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' })).status, 200);
      const s = await busy.request('SETUP', `${url}/track1`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
      assert.equal((await busy.request('PLAY', url, { Session: s.headers['session']!.split(';')[0]! })).status, 200);
      await waitFor(() => server.stats().sessions === 1, 5000, 'the idle session to time out');
      // The playing one outlives its 1 s timeout: counted in video received (90 more interleaved
      // frames, over 2 s of the clip at 30 fps), not in time slept.
      const before = busy.frames.length;
      await waitFor(() => busy.frames.length >= before + 90, 30_000, 'the playing session still receiving video');
      assert.equal(server.stats().sessions, 1);
    } finally {
      idle.close();
      busy.close();
    }
  });
});

test('IPv6 loopback: url in brackets, ffmpeg plays over UDP', async (t) => {
  const probe = net.createServer();
  const ok = await new Promise<boolean>((r) => {
    probe.once('error', () => r(false));
    probe.listen(0, '::1', () => r(true));
  });
  probe.close();
  if (!needTool(t, 'IPv6 loopback (::1)', ok, 'a kernel with IPv6 on lo; docker: --sysctl net.ipv6.conf.lo.disable_ipv6=0')) return;
  await withServer({ host: '::1' }, async ({ url }) => {
    assert.match(url, /^rtsp:\/\/\[::1\]:\d+\/live$/);
    const r = await ffmpegPlay(url, { transport: 'udp', frames: 10, width: 320, height: 240 });
    assert.equal(r.frames, 10, r.stderr);
  });
});
