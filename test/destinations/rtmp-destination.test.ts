// RtmpDestination against a real relay (nginx + RTMP module) fed with a real x264 clip's access
// units at real time; what the relay serves is decoded back with ffmpeg, what it records is
// read tag by tag. Outages are real: the relay is killed and restarted, down at open, or refuses.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import type { DestinationError, DestinationReconnect, VideoInfo } from '../../src/destinations/destination.js';
import { RtmpDestination, type RtmpDestinationOptions } from '../../src/destinations/rtmp/rtmp-destination.js';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { RtmpUrlError } from '../../src/rtmp/url.js';
import { encodeClip } from '../support/encoded-clip.js';
import { probeVideo } from '../support/ffprobe.js';
import { NginxRtmp } from '../support/nginx-rtmp.js';
import { freePort } from '../support/ports.js';
import { commandWorks, requireTool } from '../support/require-tool.js';
import { testLink, type TestLink } from '../support/destination-link.js';
import { waitFor } from '../support/wait.js';
import { flvVideoTags, medianFrameIntervalMs, readFrames } from '../rtmp/read-back.js';

const KEY = 'sk_live_d3st1n4t10n_9c2e';
const W = 320;
const H = 240;
const FPS = 30;
const VIDEO: VideoInfo = { width: W, height: H, fps: FPS, framerate: `${FPS}/1` };

let dir: string;
let clip: AccessUnit[];
const cleanups: Array<() => Promise<void> | void> = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dest-rtmp-'));
  clip = await encodeClip(join(dir, 'clip.h264'), { frames: 90, width: W, height: H, fps: FPS, keyInt: 30 });
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

interface Harness {
  d: RtmpDestination;
  link: TestLink;
  states: string[];
  errors: DestinationError[];
  reconnects: DestinationReconnect[];
}

function destination(url: string, extra: Partial<RtmpDestinationOptions> = {}): Harness {
  const d = new RtmpDestination({ url, reconnect: { initialDelayMs: 200, maxDelayMs: 1000 }, ...extra });
  // An unscrubbed logger: a key the destination itself logs shows up here.
  const h: Harness = { d, link: testLink({ scrub: false }), states: [], errors: [], reconnects: [] };
  d.on('state', (s) => h.states.push(s));
  d.on('error', (e) => h.errors.push(e));
  d.on('reconnect', (r) => h.reconnects.push(r));
  cleanups.push(() => d.close(AbortSignal.timeout(10_000)));
  return h;
}

async function relay(options: Parameters<typeof NginxRtmp.start>[0] = {}): Promise<NginxRtmp> {
  const r = await NginxRtmp.start(options);
  cleanups.push(() => r.dispose());
  return r;
}

/**
 * Writes the clip over and over at FPS like a live encoder, PTS on one session clock starting
 * 7 s in (a destination attached to a running SkyLine); counts what write() did.
 */
function feed(d: RtmpDestination, from = 0) {
  const counts = { written: 0, refused: 0 };
  let i = from;
  const t0 = Date.now();
  const timer = setInterval(() => {
    // Catch up on ticks a busy machine delayed, so the stream keeps real-time pace.
    while (i - from < ((Date.now() - t0) * FPS) / 1000) {
      const au = clip[i % clip.length]!;
      const ptsNs = 7e9 + Math.round((i * 1e9) / FPS);
      if (d.write({ ...au, ptsNs, captureMs: 1_700_000_000_000 + ptsNs / 1e6 })) counts.written++;
      else counts.refused++;
      i++;
    }
  }, 1000 / FPS / 2);
  cleanups.push(() => clearInterval(timer));
  return { counts, stop: () => clearInterval(timer) };
}

function assertNoKey(h: Harness): void {
  assert.ok(h.link.secrets.includes(KEY), 'the key was registered with the producer');
  assert.ok(!h.link.text().includes(KEY), 'the stream key is in the log output');
  for (const e of h.errors) {
    assert.ok(!e.message.includes(KEY), `the stream key is in an error: ${e.message}`);
    assert.ok(!(e.stack ?? '').includes(KEY), 'the stream key is in an error stack');
    const cause = e.cause as (Error & { debug?: string }) | undefined;
    assert.ok(!String(cause?.debug ?? '').includes(KEY), 'the stream key is in error debug text');
  }
  for (const r of h.reconnects) assert.ok(!r.reason.includes(KEY), 'the stream key is in a reconnect event');
  assert.ok(!JSON.stringify(h.d.stats()).includes(KEY), 'the stream key is in stats');
}

/** Each recorded publish starts with the AVC header, then a keyframe, at FLV time near 0. */
function assertRecordingsStartClean(files: string[]): void {
  for (const file of files) {
    const tags = flvVideoTags(readFileSync(file));
    const pictures = tags.filter((x) => !x.sequenceHeader);
    assert.ok(tags[0]?.sequenceHeader, `${file} starts with the AVC sequence header`);
    assert.ok(pictures[0]?.keyframe, `${file}: first picture is a keyframe`);
    assert.ok(pictures[0]!.tsMs < 100, `${file}: first picture at ${pictures[0]!.tsMs} ms, not near 0`);
  }
}

const tools = () => NginxRtmp.available() && commandWorks('ffmpeg');

describe('RtmpDestination', { skip: requireTool('nginx with the RTMP module and ffmpeg', tools, 'apt-get install nginx libnginx-mod-rtmp ffmpeg'), timeout: 120_000 }, () => {
  it('publishes units that decode back from the relay at the right size and rate, from a keyframe, timestamps from 0', async () => {
    const r = await relay({ apps: { live: { record: true } } });
    const h = destination(r.url(KEY));
    assert.equal(h.d.name, `rtmp://127.0.0.1:${r.port}/live/****`);
    assert.equal(h.d.live, true);
    await h.d.open(VIDEO, h.link.link);
    assert.equal(h.d.state, 'streaming');
    assert.equal(h.d.connected, true);
    assert.equal(h.d.sinkElement, 'rtmp2sink');
    // Attached mid-GOP: what comes before the next keyframe cannot be decoded and is dropped.
    const from = 10;
    const firstKey = clip.findIndex((au, n) => n >= from && au.keyframe);
    const f = feed(h.d, from);

    const frames = await readFrames(r.url(KEY), 45, 15_000);
    assert.equal(frames.length, 45);
    for (const fr of frames) assert.deepEqual([fr.width, fr.height], [W, H]);
    // FLV keeps milliseconds: 1/30 s is 33 or 34.
    assert.ok([33, 34].includes(medianFrameIntervalMs(frames)), `median interval ${medianFrameIntervalMs(frames)} ms`);
    assert.ok(frames[0]!.keyframe, 'a player joining mid-stream starts at a keyframe');

    f.stop();
    await h.d.close(AbortSignal.timeout(10_000));
    assert.deepEqual(h.states, ['opening', 'streaming', 'closing', 'idle']);
    const s = h.d.stats();
    assert.equal(s.state, 'idle');
    assert.equal(s.unitsIn, f.counts.written);
    assert.equal(s.unitsDropped, firstKey - from);
    assert.equal(h.link.keyframeRequests, 1);
    assert.equal(s.reconnects, 0);
    assert.ok(s.bytesOut > 0);
    assert.deepEqual(h.errors, []);
    const recordings = await r.recordings();
    assert.equal(recordings.length, 1);
    assertRecordingsStartClean(recordings);
    // Every unit written reached the relay: its recording decodes to one frame per unit.
    const recorded = await probeVideo(recordings[0]!);
    assert.equal(recorded.frames, f.counts.written - (firstKey - from));
    assert.deepEqual([recorded.width, recorded.height], [W, H]);
    assertNoKey(h);
  });

  it('survives the relay being killed and restarted: reconnecting, then streaming at a keyframe, reconnects 1', async () => {
    const r = await relay({ apps: { live: { record: true } } });
    const h = destination(r.url(KEY));
    await h.d.open(VIDEO, h.link.link);
    const f = feed(h.d);
    assert.equal((await readFrames(r.url(KEY), 10, 15_000)).length, 10);

    await r.kill();
    await waitFor(() => h.d.state === 'reconnecting', 10_000, 'state reconnecting after the relay died');
    await waitFor(() => h.reconnects.length >= 2, 10_000, 'reconnect attempts while the relay is down');
    assert.equal(h.d.connected, false);
    const droppedBefore = h.d.stats().unitsDropped;
    await waitFor(() => h.d.stats().unitsDropped > droppedBefore + 5, 5000, 'units dropped while the relay is down');
    const requestsBefore = h.link.keyframeRequests;

    await r.restart();
    await waitFor(() => h.d.state === 'streaming', 15_000, 'streaming again once the relay is back');
    assert.equal(h.d.stats().reconnects, 1);
    assert.ok(h.link.keyframeRequests > requestsBefore, 'asked the producer for a keyframe after reconnecting');
    const frames = await readFrames(r.url(KEY), 10, 15_000);
    assert.equal(frames.length, 10);
    assert.deepEqual([frames[0]!.width, frames[0]!.height], [W, H]);

    f.stop();
    await h.d.close(AbortSignal.timeout(10_000));
    const i = h.states.indexOf('reconnecting');
    assert.ok(i > 0 && h.states.slice(0, i).includes('streaming') && h.states.slice(i).includes('streaming'), h.states.join(','));
    assert.equal(h.states.at(-1), 'idle');
    const codes = h.errors.map((e) => e.code);
    assert.equal(codes[0], 'RTMP_CONNECTION_LOST');
    assert.ok(codes.includes('RTMP_CONNECTION_REFUSED'), codes.join(','));
    assert.ok(h.errors.every((e) => e.destination === h.d.name && e.message.startsWith(`${h.d.name}: `)));
    const attempts = h.reconnects.map((x) => x.attempt);
    assert.deepEqual(attempts, attempts.map((_, n) => n + 1), 'attempts count up within one outage');
    assert.ok(h.reconnects.every((x) => x.delayMs <= 1000), 'backoff is capped');
    const s = h.d.stats();
    assert.equal(s.reconnects, 1);
    assert.ok(s.unitsDropped > 0);
    assert.ok(s.bytesOut > 0);

    // nginx recorded each publish to its own file (the first may be cut short by the kill).
    const recordings = await r.recordings();
    assert.equal(recordings.length, 2);
    assertRecordingsStartClean(recordings);
    assertNoKey(h);
  });

  it('resolves open() in reconnecting while the relay is down, and streams once it comes up', async () => {
    const port = await freePort();
    const h = destination(`rtmp://127.0.0.1:${port}/live/${KEY}`);
    await h.d.open(VIDEO, h.link.link);
    assert.equal(h.d.state, 'reconnecting');
    assert.equal(h.errors[0]?.code, 'RTMP_CONNECTION_REFUSED');
    assert.match(h.errors[0]!.message, /nothing accepts connections at 127\.0\.0\.1:\d+/);
    const f = feed(h.d);
    await waitFor(() => h.d.stats().unitsDropped > 3, 5000, 'units dropped until connected');

    const r = await relay({ port });
    await waitFor(() => h.d.state === 'streaming', 10_000, 'streaming once the relay is up');
    assert.equal((await readFrames(r.url(KEY), 5, 15_000)).length, 5);
    assert.equal(h.d.stats().reconnects, 0, 'the first connection is no reconnect');
    f.stop();
    await h.d.close(AbortSignal.timeout(10_000));
    assertNoKey(h);
  });

  it('a relay that refuses the publish gives RTMP_PUBLISH_REJECTED and keeps retrying; close() ends it', async () => {
    const r = await relay({ apps: { closed: { publish: 'none' } } });
    const h = destination(r.url(KEY, 'closed'));
    await h.d.open(VIDEO, h.link.link);
    assert.equal(h.d.state, 'reconnecting');
    await waitFor(() => h.errors.length >= 2, 10_000, 'repeated attempts');
    assert.equal(h.errors[0]!.code, 'RTMP_PUBLISH_REJECTED');
    assert.match(h.errors[0]!.message, /closed the connection right after the publish .* refuses this stream key or app/);
    assert.equal((h.errors[0]!.cause as Error).name, 'RtmpError');
    assert.equal(h.d.stats().lastError, h.errors.at(-1)!.message);
    await h.d.close(AbortSignal.timeout(10_000));
    assert.equal(h.d.state, 'idle');
    assert.ok(!h.states.includes('streaming'), h.states.join(','));
    assertNoKey(h);
  });

  it('close() returns while a publish is pending and during a backoff wait; open() again publishes', async () => {
    // Accepts TCP connections and says nothing: an RTMP handshake that never completes.
    const held = new Set<Socket>();
    const silent: Server = createServer((sock) => {
      held.add(sock);
      sock.on('error', () => undefined);
    });
    await new Promise<void>((res) => silent.listen(0, '127.0.0.1', () => res()));
    cleanups.push(() => {
      for (const sock of held) sock.destroy();
      return new Promise<void>((res) => silent.close(() => res()));
    });
    const port = (silent.address() as { port: number }).port;
    const h = destination(`rtmp://127.0.0.1:${port}/live/${KEY}`, { connectTimeoutMs: 1500, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    const opening = h.d.open(VIDEO, h.link.link);
    await waitFor(() => held.size > 0, 5000, 'the sink connected');
    await h.d.close(AbortSignal.timeout(10_000));
    await opening;
    assert.equal(h.d.state, 'idle');
    assert.equal(h.errors.length, 0, 'closing a pending publish is no error');

    await h.d.open(VIDEO, h.link.link);
    assert.equal(h.d.state, 'reconnecting');
    assert.equal(h.errors[0]?.code, 'RTMP_CONNECT_TIMEOUT');
    assert.match(h.errors[0]!.message, /did not accept the publish .* within 1\.5 s/);
    assert.equal(h.reconnects.length, 1);
    // Waiting 60 s for the next attempt: close() does not.
    await h.d.close(AbortSignal.timeout(10_000));
    assert.equal(h.d.state, 'idle');
    assert.equal(h.reconnects.length, 1);
    assertNoKey(h);
  });

  it('rejects bad destinations in the constructor without showing the key', () => {
    assert.throws(() => new RtmpDestination({ url: `http://relay/live/${KEY}` }), RtmpUrlError);
    assert.throws(() => new RtmpDestination({ url: `rtmp://relay/${KEY}` }), (e: Error) => e instanceof RtmpUrlError && !e.message.includes(KEY));
    assert.throws(() => new RtmpDestination({ host: 'relay' }), /needs a streamKey/);
    assert.throws(() => new RtmpDestination({ host: 'relay', streamKey: KEY, sinkElement: 'bogus' as 'rtmpsink' }), RangeError);
    assert.throws(() => new RtmpDestination({ host: 'relay', streamKey: KEY, connectTimeoutMs: 0 }), RangeError);
    const d = new RtmpDestination({ host: 'relay.example.com', streamKey: KEY });
    assert.equal(d.name, 'rtmp://relay.example.com:1935/live/****');
    assert.equal(d.state, 'idle');
    for (const text of [inspect(d, { depth: 8 }), JSON.stringify(d.stats())]) assert.ok(!text.includes(KEY), 'the key shows when the destination is inspected');
  });
});
