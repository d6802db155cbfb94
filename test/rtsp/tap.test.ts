// The tap (encoded video coming back from GStreamer into Node) belongs to the SkyLine: another
// local process can neither take it over nor feed it, and a tap that dies or stalls is noticed
// and recovered. Issue 9, defect 4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { MultiSkyLine, RTSPSkyLine } from '../../src/index.js';
import { encoderPipelines } from '../support/encoder-pipelines.js';
import { RecordingDestination } from '../support/recording-destination.js';
import { feedLive } from '../support/rtsp-source.js';
import { ffmpegPlay, DECODE_ERRORS } from '../support/rtsp-players.js';
import { captureLogger } from '../support/quiet.js';
import { waitFor } from '../support/wait.js';

const W = 320;
const H = 240;
const FPS = 30;

/** One RTP packet framed as RFC 4571 (length, then the packet): a single-NAL IDR slice of garbage. */
function fakeRtp(seq: number, ssrc: number): Buffer {
  const rtp = Buffer.alloc(12 + 20);
  rtp[0] = 0x80;
  rtp[1] = 0x80 | 96;
  rtp.writeUInt16BE(seq & 0xffff, 2);
  rtp.writeUInt32BE(seq * 3000, 4);
  rtp.writeUInt32BE(ssrc >>> 0, 8);
  rtp[12] = 0x65; // IDR slice
  return Buffer.concat([Buffer.from([rtp.length >> 8, rtp.length & 0xff]), rtp]);
}

/**
 * Watches this process's listeners: each loopback listener on an ephemeral port (the tap's, by
 * contract: 127.0.0.1, port 0) is reported the moment it listens, before the code that opened it
 * runs on (the 'listening' event is emitted in a tick, the opener resumes in a later microtask),
 * so an attack connects before the encoder's tcpclientsink can.
 */
function watchLoopbackListens(onListen: (port: number) => void): () => void {
  const original = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    if (args[0] === 0 && args[1] === '127.0.0.1') this.once('listening', () => onListen((this.address() as net.AddressInfo).port));
    return (original as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof original;
  return () => {
    net.Server.prototype.listen = original;
  };
}

test('a foreign local connection in the tap\'s window, sending RTP of another SSRC, is cut; the stream recovers and viewers decode only our video', async () => {
  const { freePort } = await import('../support/ports.js');
  // A fixed RTSP port: the only port-0 loopback listener left is the tap.
  const sky = new RTSPSkyLine({ port: await freePort(), logger: captureLogger('error').logger, statsIntervalMs: 0, stopTimeoutMs: 3000, keyframeInterval: 30, reconnect: { initialDelayMs: 100, maxDelayMs: 500 } });
  const errors: Error[] = [];
  const states: string[] = [];
  sky.on('error', (e) => errors.push(e));
  sky.on('state', (st) => states.push(st));
  const tapPorts: number[] = [];
  const attack = { connected: false, packetsSent: 0, cutByTap: false };
  const sockets: net.Socket[] = [];
  const unwatch = watchLoopbackListens((port) => {
    tapPorts.push(port);
    if (tapPorts.length > 1) return; // the first tap only: the next attempt must get through
    const s = net.connect({ host: '127.0.0.1', port });
    sockets.push(s);
    s.on('error', () => undefined);
    s.on('connect', () => {
      attack.connected = true;
      for (let i = 0; i < 50; i++) s.write(fakeRtp(i, 0x1234_5678));
      attack.packetsSent = 50;
    });
    s.on('close', () => (attack.cutByTap = attack.connected));
  });
  let feed: { stop(): void } | undefined;
  try {
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    feed = feedLive(sky, { fps: FPS, width: W, height: H });
    await waitFor(() => attack.cutByTap && tapPorts.length >= 2 && sky.state === 'streaming', 20_000, 'the attack cut off and a new tap streaming');
    assert.equal(attack.connected, true, 'the foreign connection reached the tap in its window');
    assert.equal(attack.packetsSent, 50);
    assert.match(errors.map((e) => e.message).join('\n'), /a connection that was not our encoder reached the tap; it was closed/);
    assert.ok(states.includes('reconnecting'), states.join(','));
    assert.notEqual(tapPorts[1], tapPorts[0], 'the new attempt listens on a fresh port');

    // The tap in use takes no second connection: its listener closed once the encoder came.
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: tapPorts.at(-1)! });
      s.on('connect', () => { s.destroy(); resolve('connected'); });
      s.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
    });
    assert.equal(refused, 'ECONNREFUSED');

    const errorsBefore = errors.length;
    const r = await ffmpegPlay(sky.url, { transport: 'tcp', frames: 30, width: W, height: H, timeoutMs: 20_000 });
    assert.equal(r.timedOut, false, `the viewer timed out: the stream froze (${r.stderr.slice(-300)})`);
    assert.equal(r.frames, 30);
    assert.doesNotMatch(r.stderr, DECODE_ERRORS);
    assert.equal(errors.length, errorsBefore, errors.map((e) => e.message).join('; '));
    assert.equal(sky.state, 'streaming');
  } finally {
    unwatch();
    for (const s of sockets) s.destroy();
    feed?.stop();
    await sky.close();
  }
});


for (const fault of ['killed', 'stalled'] as const) {
  test(`a ${fault} tap is reported as an error and recovered`, async () => {
    // A destination keeps what comes back through the tap; the test gets at the encoder pipeline.
    const d = new RecordingDestination();
    const pipelines = encoderPipelines();
    const sky = new MultiSkyLine({ destinations: [d], logger: captureLogger('error').logger, statsIntervalMs: 0, stopTimeoutMs: 3000, reconnect: { initialDelayMs: 100, maxDelayMs: 500 } });
    const units = d.units;
    const errors: Error[] = [];
    const states: string[] = [];
    sky.on('error', (e) => errors.push(e));
    sky.on('state', (s) => states.push(s));
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    const feed = feedLive(sky, { fps: FPS, width: W, height: H });
    try {
      await waitFor(() => units.length >= 10, 10_000, 'units to come back');
      // The pipeline dies (to NULL: its socket closes) or stops moving (PAUSED: the socket stays open).
      if (fault === 'killed') pipelines.last!.stop();
      else pipelines.last!.pause();
      await waitFor(() => errors.length > 0, 15_000, 'an error event about the tap');
      const n = units.length;
      await waitFor(() => units.length >= n + 30, 20_000, 'units to flow again after recovery');
      assert.equal(sky.state, 'streaming');
      assert.ok(states.includes('reconnecting'), states.join(','));
      assert.ok(units.slice(n).some((u) => u.keyframe), 'the recovered encoder starts with a keyframe');
    } finally {
      feed.stop();
      await sky.close();
      pipelines.restore();
    }
  });
}
