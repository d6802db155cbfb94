// KvsDestination against the strict KVS emulator: real H.264 (gst-launch x264enc) cut into access
// units, written to the destination as a producer would; what went over the wire is demuxed by
// ffprobe, not by our own MKV reader.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { DestinationError, type DestinationLink, type DestinationState, type VideoInfo } from '../../src/destinations/destination.js';
import { KvsDestination, type KvsDestinationOptions } from '../../src/destinations/kvs/kvs-destination.js';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { KvsError } from '../../src/kvs/errors.js';
import type { KvsAckEvent } from '../../src/kvs/producer.js';
import { accessUnitsOf } from '../support/access-units.js';
import { packets, probeVideo } from '../support/ffprobe.js';
import type { KvsEmulator } from '../support/kvs-emulator.js';
import { assertWireCarries, expectedFragmentTimecodes, startEmulator, TEST_KEY } from '../support/kvs/harness.js';
import { captureLogger } from '../support/quiet.js';
import { commandWorks, requireTool } from '../support/require-tool.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const W = 320;
const H = 240;
const FPS = 30;
const ORIGIN = Date.UTC(2025, 1, 3, 4, 5, 6, 0);
const VIDEO: VideoInfo = { width: W, height: H, fps: FPS, framerate: '30/1' };

const skip = requireTool('gst-launch-1.0 with x264enc, and ffprobe', () => commandWorks('gst-inspect-1.0', ['x264enc']) && commandWorks('ffprobe'), 'apt-get install gstreamer1.0-tools gstreamer1.0-plugins-ugly ffmpeg');

let dir: string;
let aus: AccessUnit[];

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'skyline-kvs-dest-'));
  // 150 frames, a keyframe every 30: 5 GOPs of 1 s, each unit led by an access unit delimiter.
  const clip = join(dir, 'clip.h264');
  await run('gst-launch-1.0', [
    '-q', 'videotestsrc', 'num-buffers=150', 'pattern=ball', '!', `video/x-raw,width=${W},height=${H},framerate=${FPS}/1`,
    '!', 'videoconvert', '!', 'video/x-raw,format=I420', '!',
    'x264enc', 'aud=true', 'bframes=0', 'key-int-max=30', 'speed-preset=ultrafast', 'tune=zerolatency', '!',
    'video/x-h264,stream-format=byte-stream,alignment=au', '!', 'filesink', `location=${clip}`,
  ], { timeout: 60_000 });
  aus = accessUnitsOf(await readFile(clip), FPS, ORIGIN);
  assert.equal(aus.length, 150);
  assert.equal(aus.filter((a) => a.keyframe).length, 5);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface TestLink extends DestinationLink {
  secrets: string[];
  keyframeRequests: number;
  text(): string;
}

/** The producer's side of the link; its log does not scrub, so a secret the destination logged would show. */
function link(): TestLink {
  const log = captureLogger('debug');
  const l = {
    secrets: [] as string[],
    keyframeRequests: 0,
    log: log.logger as Logger,
    requestKeyframe() {
      l.keyframeRequests++;
    },
    addSecret(s: string | undefined) {
      if (s) l.secrets.push(s);
    },
    text: () => log.text(),
  };
  return l;
}

function destination(emu: KvsEmulator, extra: Partial<KvsDestinationOptions> = {}) {
  const dest = new KvsDestination({
    streamName: 'cam-1',
    region: emu.region,
    credentials: TEST_KEY,
    endpoint: emu.endpoint,
    fragmentSeconds: 1,
    networkTimeoutMs: 3000,
    ...extra,
  });
  const states: DestinationState[] = [];
  const errors: DestinationError[] = [];
  const acks: KvsAckEvent[] = [];
  dest.on('state', (s) => states.push(s));
  dest.on('error', (e) => errors.push(e));
  dest.on('ack', (a) => acks.push(a));
  return { dest, states, errors, acks };
}

/** Writes units as a live producer would, yielding now and then so acks and faults interleave. */
async function writeAll(dest: KvsDestination, units: AccessUnit[]): Promise<void> {
  for (let i = 0; i < units.length; i++) {
    assert.equal(dest.write(units[i]!), true);
    if (i % 5 === 4) await new Promise((r) => setTimeout(r, 10));
  }
}

function closeWithin(dest: KvsDestination, ms: number): Promise<void> {
  return dest.close(AbortSignal.timeout(ms));
}

function assertNoSecrets(text: string): void {
  for (const s of [TEST_KEY.accessKeyId, TEST_KEY.secretAccessKey]) assert.ok(!text.includes(s), 'a secret reached a log line or error');
}

describe('KvsDestination (PutMedia) against the KVS emulator', { skip }, () => {
  test('every unit written is persisted: the wire demuxed by ffprobe has every frame at its capture time', async () => {
    const emu = await startEmulator();
    const { dest, states, errors, acks } = destination(emu);
    const l = link();
    try {
      assert.equal(dest.kind, 'kvs');
      assert.equal(dest.live, true);
      assert.equal(dest.name, `kvs:${emu.region}/cam-1`);
      await dest.open(VIDEO, l);
      assert.equal(dest.state, 'streaming');
      assert.equal(dest.stream?.created, false);
      await writeAll(dest, aus);
      await closeWithin(dest, 20_000);
      assert.deepEqual(states, ['opening', 'streaming', 'closing', 'idle']);
      assert.deepEqual(errors, []);

      // One fragment per keyframe, its timecode the keyframe's capture time (ABSOLUTE timecodes).
      assert.deepEqual(emu.fragments('cam-1').map((f) => f.timecode), expectedFragmentTimecodes(aus));
      assert.equal(acks.filter((a) => a.EventType === 'PERSISTED').length, 5);
      // The body of the one PutMedia connection, read by ffprobe: every frame, in order, at its capture time.
      assert.equal(emu.connections.length, 1);
      const wire = join(dir, 'wire-plain.mkv');
      await writeFile(wire, Buffer.concat(emu.connections[0]!.wire));
      const pk = await packets(wire);
      assert.deepEqual(pk.map((p) => p.ptsMs), aus.map((a) => Math.round(a.captureMs)));
      assert.deepEqual(pk.map((p) => p.keyframe), aus.map((a) => a.keyframe));
      const probed = await probeVideo(wire);
      assert.equal(probed.frames, aus.length);
      assert.equal(probed.width, W);
      assert.equal(probed.height, H);
      await assertWireCarries(emu, 'cam-1', dir, aus.map((a) => a.captureMs));

      const st = dest.stats();
      assert.equal(st.state, 'idle');
      assert.equal(st.unitsIn, aus.length);
      assert.equal(st.unitsDropped, 0);
      assert.equal(st.reconnects, 0);
      assert.equal(st.behindMs, 0);
      assert.equal(st.backlogBytes, 0);
      // bytesOut is what the producer sent: exactly the body bytes the service received.
      assert.equal(st.bytesOut, emu.connections[0]!.wire.reduce((n, b) => n + b.length, 0));
      assert.equal(st.kvs?.fragmentsPersisted, 5);
      assert.equal(dest.kvs?.fragmentsPersisted, 5);
      assert.equal(emu.rejections.length, 0, emu.rejections.join(', '));
      assert.ok(l.secrets.includes(TEST_KEY.secretAccessKey), 'the secret key was registered with the link');
      assertNoSecrets(l.text());
    } finally {
      await closeWithin(dest, 1000);
      await emu.close();
    }
  });

  test('a connection reset mid-stream loses nothing: reconnecting, then streaming, every frame persisted once', async () => {
    const emu = await startEmulator();
    const { dest, states, errors } = destination(emu);
    const reconnects: string[] = [];
    dest.on('reconnect', (r) => reconnects.push(r.reason));
    const l = link();
    try {
      await dest.open(VIDEO, l);
      await writeAll(dest, aus.slice(0, 60));
      await waitFor(() => emu.fragments('cam-1').length >= 1, 10_000, 'first fragment persisted');
      emu.inject({ type: 'reset', afterFragments: 1 });
      await writeAll(dest, aus.slice(60));
      // Back to streaming once the new connection's acks come.
      await waitFor(() => states.includes('reconnecting') && dest.state === 'streaming', 15_000, 'streaming again after the reset');
      await closeWithin(dest, 30_000);
      assert.deepEqual(errors, []);
      assert.ok(emu.connections.length >= 2, 'a second PutMedia connection');
      assert.ok(reconnects.length >= 1, 'a reconnect event');
      const i = states.indexOf('reconnecting');
      assert.ok(i > 0 && states.slice(i).includes('streaming'), `states: ${states.join(' ')}`);
      assert.deepEqual(emu.fragments('cam-1').map((f) => f.timecode), expectedFragmentTimecodes(aus));
      await assertWireCarries(emu, 'cam-1', dir, aus.map((a) => a.captureMs));
      const file = join(dir, 'stored-reset.mkv');
      await writeFile(file, emu.toMkv('cam-1'));
      assert.equal((await probeVideo(file)).frames, aus.length);
      const st = dest.stats();
      assert.ok(st.reconnects >= 1);
      assert.equal(st.unitsDropped, 0);
      assertNoSecrets(l.text());
    } finally {
      await closeWithin(dest, 1000);
      await emu.close();
    }
  });

  test('open() rejects with a KvsError for a missing stream and for refused credentials; close() makes it idle again', async () => {
    const emu = await startEmulator({ streams: [] });
    try {
      const missing = destination(emu);
      const l = link();
      await assert.rejects(missing.dest.open(VIDEO, l), (e: Error) => e instanceof KvsError && /does not exist/.test(e.message) && e.details.remedy === 'fatal');
      assert.equal(missing.dest.state, 'failed');
      assert.match(missing.dest.stats().lastError ?? '', /^kvs:.*does not exist/);
      await closeWithin(missing.dest, 1000);
      assert.equal(missing.dest.state, 'idle');

      emu.addStream('cam-1');
      const wrongKey = { accessKeyId: 'AKIAWRONGWRONG000001', secretAccessKey: 'not/the/right/secret/at/all+0123456789ab' };
      const refused = destination(emu, { credentials: wrongKey });
      const l2 = link();
      await assert.rejects(refused.dest.open(VIDEO, l2), (e: Error) => {
        assert.ok(e instanceof KvsError, String(e));
        assert.ok(!e.message.includes(wrongKey.secretAccessKey) && !e.message.includes(wrongKey.accessKeyId), 'no secret in the error');
        return true;
      });
      assert.equal(refused.dest.state, 'failed');
      assert.ok(!l2.text().includes(wrongKey.secretAccessKey));
      await closeWithin(refused.dest, 1000);

      // createStream: true creates it instead.
      const created = destination(emu, { streamName: 'new-cam', createStream: true, retentionHours: 3 });
      await created.dest.open(VIDEO, link());
      assert.equal(created.dest.stream?.created, true);
      assert.equal(emu.streams.get('new-cam')?.retentionHours, 3);
      await writeAll(created.dest, aus.slice(0, 60));
      await closeWithin(created.dest, 20_000);
      assert.equal(emu.fragments('new-cam').length, 2);
    } finally {
      await emu.close();
    }
  });

  test('the stream deleted mid-stream: state failed, an error event naming the destination, close() still releases', async () => {
    const emu = await startEmulator();
    const { dest, errors } = destination(emu);
    try {
      await dest.open(VIDEO, link());
      await writeAll(dest, aus.slice(0, 45));
      await waitFor(() => emu.fragments('cam-1').length >= 1, 10_000, 'first fragment');
      emu.deleteStream('cam-1');
      await writeAll(dest, aus.slice(45, 90));
      await waitFor(() => dest.state === 'failed', 10_000, 'failed');
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof DestinationError);
      assert.equal(errors[0]!.destination, dest.name);
      assert.ok(errors[0]!.cause instanceof KvsError);
      assert.match(errors[0]!.message, /^kvs:us-west-2\/cam-1: .*(4008|not active)/);
      // Units written after the failure are taken and counted as dropped, never thrown at the producer.
      assert.equal(dest.write(aus[90]!), true);
      assert.ok(dest.stats().unitsDropped >= 1);
      // dispose() closes a failed destination too.
      await dest.dispose();
      assert.equal(dest.state, 'idle');
    } finally {
      await closeWithin(dest, 1000);
      await emu.close();
    }
  });

  test('a control plane that cannot be reached: open() resolves in reconnecting and retries; close() ends it', async () => {
    // A port nobody listens on: connection refused on every attempt.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const dest = new KvsDestination({ streamName: 'cam-1', region: 'us-west-2', credentials: TEST_KEY, endpoint: `http://127.0.0.1:${port}`, networkTimeoutMs: 1000 });
    const reconnects: number[] = [];
    dest.on('reconnect', (r) => reconnects.push(r.attempt));
    const l = link();
    await dest.open(VIDEO, l);
    assert.equal(dest.state, 'reconnecting');
    await writeAll(dest, aus.slice(0, 10));
    await waitFor(() => reconnects.length >= 2, 15_000, 'retries');
    await closeWithin(dest, 2000);
    assert.equal(dest.state, 'idle');
    assert.match(dest.stats().lastError ?? '', /DescribeStream/);
    assertNoSecrets(l.text());
  });

  test('options are checked like KVSSkyLine\'s; the credentials never show when the destination is inspected', async () => {
    const base = { streamName: 'cam-1', region: 'us-west-2' };
    assert.throws(() => new KvsDestination({ ...base, streamName: 'bad name!' }), /streamName/);
    assert.throws(() => new KvsDestination({ ...base, region: '' }), /region/);
    assert.throws(() => new KvsDestination({ ...base, fragmentSeconds: 12 }), /fragmentSeconds/);
    assert.throws(() => new KvsDestination({ ...base, fragmentSeconds: 4, bufferSeconds: 2 }), /bufferSeconds/);
    assert.throws(() => new KvsDestination({ ...base, retentionHours: 1.5 }), /retentionHours/);
    assert.throws(() => new KvsDestination({ ...base, networkTimeoutMs: 0 }), /networkTimeoutMs/);
    assert.throws(() => new KvsDestination({ ...base, mode: 'rtp' as 'putmedia' }), /mode/);
    const d = new KvsDestination({ ...base, credentials: TEST_KEY });
    const { inspect } = await import('node:util');
    assertNoSecrets(inspect(d, { depth: 10, showHidden: true }));
    assertNoSecrets(JSON.stringify(d.stats()));
  });
});
