// One encode, many destinations, end to end: a MultiSkyLine feeding a file, our RTSP server, an
// nginx-rtmp relay and the KVS emulator at once, each read back by an independent reader, with
// the relay killed and restarted mid-stream; attach and detach while streaming; a pre-roll clip.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FileDestination, KvsDestination, MultiSkyLine, RtmpDestination, RtspDestination, WebDestination, parseSidecar,
  type Destination, type DestinationState, type SkyLineOptions,
} from '../../src/index.js';
import { decodeErrors, decodeRgb, frameInfo, probeVideo } from '../support/ffprobe.js';
import { indexed, indexOf } from '../support/frames.js';
import { assertWireCarries, startEmulator, TEST_KEY } from '../support/kvs/harness.js';
import { NginxRtmp } from '../support/nginx-rtmp.js';
import { captureLogger } from '../support/quiet.js';
import { ffmpegPlay } from '../support/rtsp-players.js';
import { RawRtspClient } from '../support/rtsp-client.js';
import { waitFor } from '../support/wait.js';
import { readFrames } from '../rtmp/read-back.js';

const W = 320;
const H = 240;
const FPS = 25;
const dir = mkdtempSync(join(tmpdir(), 'skyline-multi-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function multi(extra: Partial<SkyLineOptions> = {}) {
  const log = captureLogger('info');
  const sky = new MultiSkyLine({ logger: log.logger, statsIntervalMs: 0, keyframeInterval: FPS, stopTimeoutMs: 8000, ...extra });
  const errors: Error[] = [];
  const states = new Map<string, DestinationState[]>();
  sky.on('error', (e) => errors.push(e));
  sky.on('destination', (name, state) => states.set(name, [...(states.get(name) ?? []), state]));
  return { sky, log, errors, states };
}

/** Puts frames with the index band at real-time pace; frame i captured at t0 + i / FPS. */
async function putFrames(sky: MultiSkyLine, from: number, count: number, t0: number, during?: (i: number) => Promise<void> | void): Promise<void> {
  const start = Date.now() - (from * 1000) / FPS;
  for (let i = from; i < from + count; i++) {
    const wait = start + (i * 1000) / FPS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    assert.equal(await sky.putAsync(indexed(W, H, i), { timestamp: t0 + (i * 1000) / FPS }), true, `frame ${i} accepted`);
    await during?.(i);
  }
}

/** Open descriptors and libuv handles of this process: what a detach must give back. */
function resources(): { fds: number; handles: number; list: string[] } {
  const list = readdirSync('/proc/self/fd').map((f) => { try { return readlinkSync(`/proc/self/fd/${f}`); } catch { return '?'; } });
  return { fds: list.length, list, handles: process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length };
}

test('file + RTSP + RTMP + KVS from one encoder: the relay dies and returns; every other destination keeps streaming and gets every frame', async () => {
  const relay = await NginxRtmp.start();
  const emu = await startEmulator();
  const { sky, errors, states } = multi();
  const file = new FileDestination({ path: join(dir, 'all.mp4') });
  const rtsp = new RtspDestination({ port: 0, path: '/all' });
  const rtmp = new RtmpDestination({ url: relay.url('all-key'), reconnect: { initialDelayMs: 200, maxDelayMs: 500 }, connectTimeoutMs: 3000 });
  const kvs = new KvsDestination({ streamName: 'cam-all', region: emu.region, credentials: TEST_KEY, endpoint: emu.endpoint, createStream: true, fragmentSeconds: 1 });
  const T0 = Date.now();
  const N = 8 * FPS;
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    for (const d of [file, rtsp, rtmp, kvs]) await sky.attach(d);
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    assert.deepEqual(sky.stats().destinations.map((d) => d.state), ['streaming', 'streaming', 'streaming', 'streaming']);
    // A viewer watching across the outage: it decodes frames the whole time.
    const viewer = ffmpegPlay(rtsp.url, { transport: 'tcp', frames: 6 * FPS, width: W, height: H, timeoutMs: 30_000 });
    await putFrames(sky, 0, N, T0, async (i) => {
      if (i === 2 * FPS) await relay.kill();
      if (i === 4 * FPS) await relay.restart();
    });
    await waitFor(() => rtmp.state === 'streaming', 15_000, 'the relay publishing again');
    const again = readFrames(relay.url('all-key'), 10, 15_000);
    await putFrames(sky, N, 2 * FPS, T0);
    const relayed = await again;
    await sky.stopStreaming();
    const watched = await viewer;

    assert.equal(relayed.length, 10, 'the relay gets video again after its restart');
    assert.deepEqual([relayed[0]!.width, relayed[0]!.height], [W, H]);
    assert.equal(watched.frames, 6 * FPS, `the RTSP viewer decoded through the relay's outage: ${watched.stderr.slice(-300)}`);
    const total = N + 2 * FPS;
    const p = await probeVideo(join(dir, 'all.mp4'));
    assert.equal(p.frames, total, 'the file holds every frame');
    const decoded = await decodeRgb(join(dir, 'all.mp4'));
    assert.deepEqual(decoded.frames.map((f) => indexOf({ data: f, width: W, height: H, format: 'RGB' })), Array.from({ length: total }, (_, i) => i), 'in order, none repeated');
    await assertWireCarries(emu, 'cam-all', dir, Array.from({ length: total }, (_, i) => T0 + (i * 1000) / FPS));
    for (const name of [file.name, rtsp.name, kvs.name]) {
      assert.deepEqual(states.get(name), ['opening', 'streaming', 'closing', 'idle'], `${name} left 'streaming' only at the stop`);
    }
    assert.ok(states.get(rtmp.name)!.includes('reconnecting'));
    assert.ok(errors.some((e) => (e as { destination?: string }).destination === rtmp.name), 'the relay loss is reported, named');
    assert.ok(errors.every((e) => (e as { destination?: string }).destination === rtmp.name), errors.map((e) => e.message).join('; '));
    assert.equal(sky.stats().destinations.find((d) => d.name === rtmp.name)!.reconnects >= 1, true);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => w.startsWith('MaxListeners')), [], 'the stop leaves no listener behind on its signal');
  } finally {
    process.off('warning', onWarning);
    await sky.close();
    await relay.dispose();
    await emu.close();
  }
});

test('attach and detach while streaming, for each kind: each gets video from a keyframe on, gives back what it took, leaves nothing open', async () => {
  const relay = await NginxRtmp.start();
  const emu = await startEmulator();
  const { sky, errors } = multi({ keyframeInterval: 1000, warmupFrames: 20 });
  const T0 = Date.now();
  let next = 0;
  const put = (n: number) => putFrames(sky, (next += n) - n, n, T0);
  try {
    // attach() during warmup resolves once the session has opened.
    await sky.startStreaming({ fps: null, width: W, height: H });
    assert.equal(sky.state, 'warmup');
    const early = new FileDestination({ path: join(dir, 'early.mkv') });
    let attached = false;
    const attaching = sky.attach(early).then(() => (attached = true));
    await putFrames(sky, 0, 10, T0);
    assert.equal(attached, false, 'not while warming up');
    await putFrames(sky, 10, 20, T0);
    await attaching;
    next = 30;
    assert.equal(early.state, 'streaming');
    // Two rounds of the same kinds: the first may build GStreamer pipelines (kept for reuse, the
    // binding never frees one); the second must leave the process exactly as it found it.
    let before = resources();
    for (const round of [1, 2]) {
      if (round === 2) before = resources();
      const kinds: Destination[] = [
        new FileDestination({ path: join(dir, `late-${round}.mp4`) }),
        new RtspDestination({ port: 0, path: '/late' }),
        new WebDestination({ port: 0, path: '/late' }),
        new RtmpDestination({ url: relay.url(`late-key-${round}`) }),
        new KvsDestination({ streamName: `cam-late-${round}`, region: emu.region, credentials: TEST_KEY, endpoint: emu.endpoint, createStream: true, fragmentSeconds: 1 }),
      ];
      for (const d of kinds) {
        await sky.attach(d);
        // Keyframe requests are at most one a second: the asked-for keyframe comes within that.
        const took = () => sky.stats().destinations.find((x) => x.name === d.name)!.unitsIn > 0;
        for (let k = 0; k < 3 * FPS && !took(); k += 5) await put(5);
        await put(5);
        const s = sky.stats().destinations.find((x) => x.name === d.name)!;
        assert.equal(s.state, 'streaming', d.name);
        assert.ok(s.unitsIn > 0, `${d.name} took video`);
        await sky.detach(d);
        assert.equal(d.state, 'idle', `${d.name} closed by detach`);
        assert.equal(sky.destinations.includes(d), false);
        await d.dispose();
      }
      const late = await probeVideo(join(dir, `late-${round}.mp4`));
      const took = kinds[0]!.stats();
      assert.ok(late.frames > 0);
      assert.equal(late.frames, took.unitsIn - took.unitsDropped, 'the detached file is complete: every unit it took, playable');
      assert.equal(await decodeErrors(join(dir, `late-${round}.mp4`)), '', 'it decodes from its first frame');
      await waitFor(() => emu.fragments(`cam-late-${round}`).length > 0, 5000, 'KVS persisted the detached destination');
    }
    const after = resources();
    assert.ok(after.fds <= before.fds, `descriptors: ${before.fds} before, ${after.fds} after: ${after.list.filter((x) => !before.list.includes(x)).join(' ')}`);
    assert.ok(after.handles <= before.handles, `handles (sockets, timers): ${before.handles} before, ${after.handles} after`);
    // Detach during the destination's own reconnect: the relay is gone, the detach still returns.
    const lost = new RtmpDestination({ url: relay.url('lost-key'), reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    await sky.attach(lost);
    await relay.kill();
    await put(FPS);
    await waitFor(() => lost.state === 'reconnecting', 15_000, 'the RTMP destination reconnecting');
    await sky.detach(lost);
    assert.equal(lost.state, 'idle');
    await lost.dispose();
    await relay.restart();
    await sky.stopStreaming();
    const p = await probeVideo(join(dir, 'early.mkv'));
    assert.equal(p.frames, next, 'the destination attached during warmup has every frame, warmup ones included');
    assert.ok(errors.every((e) => (e as { destination?: string }).destination === lost.name), errors.map((e) => e.message).join('; '));
  } finally {
    await sky.close();
    await relay.dispose();
    await emu.close();
  }
});

test('a pre-roll clip starts at the keyframe at or before now - preRollMs, decodes from its first frame, ends at detach, colours and capture times true', async () => {
  const { sky, errors } = multi({ keyframeInterval: 10 });
  const T0 = Date.now();
  try {
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    await putFrames(sky, 0, 3 * FPS, T0);
    const clip = new FileDestination({ path: join(dir, 'clip.mp4') });
    const askedAt = Date.now();
    await sky.attach(clip, { preRollMs: 1000 });
    await putFrames(sky, 3 * FPS, 2 * FPS, T0);
    await sky.detach(clip);
    const last = 5 * FPS - 1;
    await putFrames(sky, 5 * FPS, FPS, T0); // after the detach: not in the clip
    await sky.stopStreaming();

    const rows = parseSidecar(readFileSync(clip.timestampsPath!, 'utf8'));
    const firstIndex = Math.round(((rows[0]!.captureTimeUs / 1000 - T0) * FPS) / 1000);
    assert.ok(rows[0]!.captureTimeUs / 1000 <= askedAt - 1000, 'the clip starts at or before now - preRollMs');
    assert.ok(askedAt - 1000 - rows[0]!.captureTimeUs / 1000 < (10 * 1000) / FPS + 50, 'at the newest keyframe that early, not an older one');
    assert.equal(firstIndex % 10, 0, 'the clip starts at a keyframe (one every 10 frames)');
    const info = await frameInfo(clip.path!);
    assert.equal(info[0]!.keyframe, true);
    assert.equal(await decodeErrors(clip.path!), '', 'decodes from its first frame');
    const decoded = await decodeRgb(clip.path!);
    const indices = decoded.frames.map((f) => indexOf({ data: f, width: W, height: H, format: 'RGB' }));
    // The clip ends at detach(): with what the encoder had handed out by then (a frame or two
    // put just before may still be in the encoder).
    const end = indices[indices.length - 1]!;
    assert.ok(end <= last && end >= last - 2, `the clip ends at the detach: last frame ${end}, last put ${last}`);
    assert.deepEqual(indices, Array.from({ length: end - firstIndex + 1 }, (_, i) => firstIndex + i), 'every frame from the keyframe on, in order');
    assert.equal(rows.length, indices.length);
    rows.forEach((r, i) => assert.equal(Math.round(r.captureTimeUs / 1000), Math.round(T0 + ((firstIndex + i) * 1000) / FPS), `sidecar row ${i}: the frame's capture time`));
    assert.equal(rows[0]!.ptsUs, 0, 'the clip timeline starts at 0');
    assert.deepEqual(errors, []);
  } finally {
    await sky.close();
  }
});

test('viewers reconnecting in a loop get the shared encoder at most one keyframe per keyframeGapMs: a recording beside them keeps its GOPs', async () => {
  const { sky, errors } = multi({ keyframeInterval: 1000, keyframeGapMs: 1000 });
  const rec = new FileDestination({ path: join(dir, 'gop.mp4') });
  const rtsp = new RtspDestination({ port: 0, path: '/gop' });
  const T0 = Date.now();
  const SECONDS = 3;
  let joins = 0;
  try {
    await sky.attach(rec);
    await sky.attach(rtsp);
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    const url = rtsp.url;
    const port = Number(new URL(url).port);
    await putFrames(sky, 0, SECONDS * FPS, T0, async (i) => {
      if (i % 5 !== 0) return;
      // A viewer that joins and leaves at once, five times a second: each join asks for a keyframe.
      const c = await RawRtspClient.connect(port);
      const d = await c.request('DESCRIBE', url, { Accept: 'application/sdp' });
      const control = /a=control:(\S+)/.exec(d.body.toString().split('m=video')[1] ?? '')?.[1] ?? 'track1';
      const s = await c.request('SETUP', `${url}/${control}`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
      await c.request('PLAY', url, { Session: String(s.headers.session).split(';')[0]! });
      joins++;
      c.socket.destroy();
    });
    await sky.stopStreaming();
    const keyframes = (await frameInfo(join(dir, 'gop.mp4'))).filter((f) => f.keyframe).length;
    assert.equal(joins, (SECONDS * FPS) / 5, 'every viewer joined');
    // The first keyframe, then at most one per second of the session: not one per viewer.
    assert.ok(keyframes >= 2 && keyframes <= 1 + SECONDS + 1, `${keyframes} keyframes for ${joins} joins in ${SECONDS} s`);
    assert.deepEqual(errors, []);
  } finally {
    await sky.close();
  }
});
