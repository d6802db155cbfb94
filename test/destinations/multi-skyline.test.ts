// One encode, many destinations, end to end: a MultiSkyLine feeding a file, our RTSP server, an
// nginx-rtmp relay and the KVS emulator at once, each read back by an independent reader, with
// the relay killed and restarted mid-stream; attach and detach while streaming; a pre-roll clip.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

/** Open descriptors, sockets and timers of this process, to check that nothing is left behind. */
function resources(): { fds: number; handles: Record<string, number> } {
  const handles: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) handles[r] = (handles[r] ?? 0) + 1;
  const fds = Number(readFileSync('/proc/self/status', 'utf8').match(/FDSize/) ? require_fds() : 0);
  return { fds, handles };
}
function require_fds(): number {
  return readdirCount('/proc/self/fd');
}
import { readdirSync } from 'node:fs';
function readdirCount(p: string): number {
  return readdirSync(p).length;
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
      assert.deepEqual(states.get(name), ['closing', 'idle'], `${name} left 'streaming' only at the stop`);
    }
    assert.ok(states.get(rtmp.name)!.includes('reconnecting'));
    assert.ok(errors.some((e) => (e as { destination?: string }).destination === rtmp.name), 'the relay loss is reported, named');
    assert.ok(errors.every((e) => (e as { destination?: string }).destination === rtmp.name), errors.map((e) => e.message).join('; '));
    assert.equal(sky.stats().destinations.find((d) => d.name === rtmp.name)!.reconnects >= 1, true);
  } finally {
    await sky.close();
    await relay.dispose();
    await emu.close();
  }
});
