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
import { listeningPorts } from '../support/proc.js';
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

test('a foreign local connection to the tap neither freezes the stream nor injects video', async () => {
  const sky = new RTSPSkyLine({ port: 0, logger: captureLogger('warn').logger, statsIntervalMs: 0, stopTimeoutMs: 3000, keyframeInterval: 30 });
  const errors: Error[] = [];
  sky.on('error', (e) => errors.push(e));
  await sky.startStreaming({ fps: FPS, width: W, height: H });
  const feed = feedLive(sky, { fps: FPS, width: W, height: H });
  const sockets: net.Socket[] = [];
  try {
    // Every port this process listens on except the RTSP server's: one of them is the tap today.
    const ports = listeningPorts().filter((p) => p !== sky.server.port);
    for (const port of ports) {
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('error', () => undefined);
      s.on('connect', () => {
        for (let i = 0; i < 50; i++) s.write(fakeRtp(i, 0x1234_5678 + i));
      });
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 500));
    const r = await ffmpegPlay(sky.url, { transport: 'tcp', frames: 30, width: W, height: H, timeoutMs: 20_000 });
    assert.equal(r.timedOut, false, `the viewer timed out: the stream froze (${r.stderr.slice(-300)})`);
    assert.equal(r.frames, 30);
    assert.doesNotMatch(r.stderr, DECODE_ERRORS);
    assert.equal(sky.state, 'streaming');
  } finally {
    for (const s of sockets) s.destroy();
    feed.stop();
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
