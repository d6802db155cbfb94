// KVSSkyLine end to end: real GStreamer encoding, our PutMedia producer, the KVS emulator;
// what the emulator stored is decoded back with ffprobe/ffmpeg.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { KVSSkyLine, type KVSSkyLineOptions } from '../../src/kvs/kvs-skyline.js';
import type { KvsAckEvent } from '../../src/kvs/producer.js';
import { centreColour, decodeErrors, decodeRgb, frameInfo, probeVideo } from '../support/ffprobe.js';
import { solid, type Rgb } from '../support/frames.js';
import type { KvsEmulator } from '../support/kvs-emulator.js';
import { assertWireCarries, startEmulator, TEST_KEY, wirePackets } from '../support/kvs/harness.js';
import { captureLogger } from '../support/quiet.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skyline-kvs-e2e-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const W = 320;
const H = 240;
const FPS = 25;
const T0 = Date.UTC(2024, 4, 6, 7, 8, 9, 0);
const COLOURS: Rgb[] = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];

function skyline(emu: KvsEmulator, extra: Partial<KVSSkyLineOptions> = {}) {
  const log = captureLogger('debug');
  const sky = new KVSSkyLine({
    streamName: 'cam-1',
    region: emu.region,
    credentials: TEST_KEY,
    endpoint: emu.endpoint,
    sink: 'putmedia',
    keyframeInterval: 25,
    fragmentSeconds: 1,
    logger: log.logger,
    statsIntervalMs: 0,
    ...extra,
  });
  const errors: Error[] = [];
  sky.on('error', (e) => errors.push(e));
  return { sky, log, errors };
}

/** One second of each colour, capture times 40 ms apart from T0. */
async function putColours(sky: KVSSkyLine, seconds = COLOURS.length, start = 0): Promise<number> {
  let n = 0;
  for (let i = start * FPS; i < (start + seconds) * FPS; i++) {
    const rgb = COLOURS[Math.floor(i / FPS) % COLOURS.length]!;
    assert.equal(await sky.putAsync(solid(W, H, rgb), { timestamp: T0 + (i * 1000) / FPS }), true);
    n++;
  }
  return n;
}

async function storedFile(emu: KvsEmulator, name: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, emu.toMkv('cam-1'));
  return file;
}

test('frames put() reach KVS: stored fragments decode to exactly those frames, colours and capture times', async () => {
  const emu = await startEmulator();
  const { sky, log, errors } = skyline(emu);
  const acks: KvsAckEvent[] = [];
  sky.on('ack', (a) => acks.push(a));
  try {
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    assert.equal(sky.sinkMode, 'putmedia');
    const n = await putColours(sky);
    await sky.stopStreaming();
    assert.deepEqual(errors, []);

    const frags = emu.fragments('cam-1');
    assert.equal(frags.length, 3, 'keyframes each 25 frames, 75 frames put: three fragments of one second');
    assert.equal(frags[0]!.timecode, T0, 'ABSOLUTE timecodes: the first fragment starts at the first capture time');
    for (const f of frags) assert.equal(f.frames[0]!.keyframe, true);

    const file = await storedFile(emu, 'colours.mkv');
    const probed = await probeVideo(file);
    assert.equal(probed.frames, n);
    assert.deepEqual([probed.width, probed.height], [W, H]);
    const ptsMs = (await frameInfo(file)).map((f) => Math.round(f.time * 1000));
    assert.deepEqual(ptsMs.map((t) => t - ptsMs[0]!), Array.from({ length: n }, (_, i) => (i * 1000) / FPS));
    assert.equal(await decodeErrors(file), '');
    // The bytes on the wire, demuxed by ffprobe rather than our reader: one connection, one packet
    // per frame put, at its capture time, of the sizes stored, starting on a keyframe.
    const [wire, ...more] = await wirePackets(emu, 'cam-1', dir);
    assert.equal(more.length, 0, 'one PutMedia connection');
    assert.deepEqual(wire!.map((p) => p.ptsMs), Array.from({ length: n }, (_, i) => T0 + (i * 1000) / FPS));
    assert.deepEqual(wire!.map((p) => p.size), frags.flatMap((f) => f.frames.map((fr) => fr.data.length)));
    assert.deepEqual(wire!.filter((p) => p.keyframe).map((p) => p.ptsMs), frags.map((f) => f.timecode));
    // The pixels of what was sent, independent of our MKV reader and writer: ffmpeg decodes the
    // concatenated PutMedia body as it came off the wire.
    const sent = join(dir, 'colours-wire.mkv');
    await writeFile(sent, Buffer.concat(emu.connections.filter((c) => c.streamName === 'cam-1').flatMap((c) => c.wire)));
    const onTheWire = await decodeRgb(sent);
    assert.equal(onTheWire.frames.length, n, 'every frame put decodes from the wire bytes');
    assert.deepEqual([onTheWire.width, onTheWire.height], [W, H]);
    assert.equal(await decodeErrors(sent), '');
    for (let i = 0; i < n; i++) {
      const want = COLOURS[Math.floor(i / FPS)]!;
      const got = centreColour(onTheWire.frames[i]!, W, H);
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(got[c]! - want[c]!) < 30, `wire frame ${i}: ${got.map(Math.round)} vs ${want}`);
    }
    const { frames, width, height } = await decodeRgb(file);
    for (const i of [5, 30, 60]) {
      const want = COLOURS[Math.floor(i / FPS)]!;
      const got = centreColour(frames[i]!, width, height);
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(got[c]! - want[c]!) < 30, `frame ${i}: ${got} vs ${want}`);
    }

    const st = sky.stats();
    assert.equal(st.framesAccepted, n);
    assert.equal(st.kvs?.fragmentsPersisted, frags.length);
    assert.equal(st.kvs?.fragmentsDropped, 0);
    assert.ok((st.kvs?.persistLatencyMs.samples ?? 0) >= 3);
    const onWire = emu.connections.filter((c) => c.streamName === 'cam-1').reduce((a, c) => a + c.wire.reduce((b, w) => b + w.length, 0), 0);
    assert.equal(st.bytesOut, onWire, 'bytesOut: the PutMedia body bytes the service received');
    assert.ok(acks.some((a) => a.EventType === 'PERSISTED' && typeof a.latencyMs === 'number'));
    assert.ok(!log.text().includes(TEST_KEY.secretAccessKey), 'secret never logged');
  } finally {
    await sky.close();
    await emu.close();
  }
});

test('a connection reset mid-stream loses no frame', async () => {
  const emu = await startEmulator();
  const { sky, errors } = skyline(emu);
  try {
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    let n = await putColours(sky, 2, 0);
    emu.inject({ type: 'reset', afterFragments: 1 });
    n += await putColours(sky, 3, 2);
    await sky.stopStreaming();
    assert.deepEqual(errors, []);
    const probed = await probeVideo(await storedFile(emu, 'reset.mkv'));
    assert.equal(probed.frames, n);
    await assertWireCarries(emu, 'cam-1', dir, Array.from({ length: n }, (_, i) => T0 + (i * 1000) / FPS));
    assert.ok((sky.stats().kvs?.connections ?? 0) >= 2, 'reconnected');
  } finally {
    await sky.close();
    await emu.close();
  }
});

test('wrong credentials: startStreaming() fails with a clear error, no secret anywhere', async () => {
  const emu = await startEmulator();
  const secret = 'wrong-secret-key-for-the-emulator-0000';
  const { sky, log } = skyline(emu, { credentials: { accessKeyId: TEST_KEY.accessKeyId, secretAccessKey: secret } });
  try {
    await assert.rejects(sky.startStreaming({ fps: FPS, width: W, height: H }), (err: Error) => {
      assert.match(err.message, /signature/i);
      assert.ok(!err.message.includes(secret));
      return true;
    });
    assert.equal(sky.state, 'error');
    assert.ok(!log.text().includes(secret), 'secret never logged');
  } finally {
    await sky.close();
    await emu.close();
  }
});

test('stream deleted while streaming: state error with a clear message', async () => {
  const emu = await startEmulator();
  const { sky, errors } = skyline(emu);
  try {
    await sky.startStreaming({ fps: FPS, width: W, height: H });
    await putColours(sky, 2, 0);
    const deadline = Date.now() + 10_000;
    while (emu.fragments('cam-1').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    emu.deleteStream('cam-1');
    for (let i = 0; i < 100 && sky.state !== 'error'; i++) {
      sky.put(solid(W, H, [9, 9, 9]), { timestamp: T0 + 2000 + i * 40 });
      await new Promise((r) => setTimeout(r, 40));
    }
    assert.equal(sky.state, 'error');
    assert.match(errors[0]?.message ?? '', /cam-1.*(no longer active|does not exist)/);
  } finally {
    await sky.close();
    await emu.close();
  }
});

test("sink 'auto' uses PutMedia when kvssink is absent; sink 'kvssink' says how to get it", async () => {
  // Never skipped: a kvssink found through GST_PLUGIN_PATH is hidden from the plugin probe (a
  // gst-inspect-1.0 child, asked once per process; no other test in this file asks it) with an
  // empty GST_PLUGIN_PATH and a registry file of its own.
  const saved = { path: process.env.GST_PLUGIN_PATH, registry: process.env.GST_REGISTRY };
  process.env.GST_PLUGIN_PATH = '';
  process.env.GST_REGISTRY = join(dir, 'registry-without-kvssink.bin');
  const { kvssinkAvailable } = await import('../../src/kvs/kvssink.js');
  try {
    assert.equal(await kvssinkAvailable(), false, 'kvssink is hidden (a kvssink in a system plugin directory cannot be: install it under GST_PLUGIN_PATH)');
  } finally {
    if (saved.path === undefined) delete process.env.GST_PLUGIN_PATH;
    else process.env.GST_PLUGIN_PATH = saved.path;
    if (saved.registry === undefined) delete process.env.GST_REGISTRY;
    else process.env.GST_REGISTRY = saved.registry;
  }
  const emu = await startEmulator();
  const auto = skyline(emu, { sink: 'auto' });
  const forced = skyline(emu, { sink: 'kvssink' });
  try {
    await auto.sky.startStreaming({ fps: FPS, width: W, height: H });
    assert.equal(auto.sky.sinkMode, 'putmedia');
    await auto.sky.stopStreaming();
    await assert.rejects(forced.sky.startStreaming({ fps: FPS, width: W, height: H }), /GST_PLUGIN_PATH/);
  } finally {
    await auto.sky.close();
    await forced.sky.close();
    await emu.close();
  }
});

test('options are checked up front; the credentials never show when the SkyLine is inspected', async () => {
  assert.throws(() => new KVSSkyLine({ streamName: 'bad name!', region: 'us-west-2' }), /streamName/);
  assert.throws(() => new KVSSkyLine({ streamName: 'ok', region: '' }), /region/);
  assert.throws(() => new KVSSkyLine({ streamName: 'ok', region: 'us-west-2', fragmentSeconds: 12 }), /fragmentSeconds/);
  assert.throws(() => new KVSSkyLine({ streamName: 'ok', region: 'us-west-2', sink: 'x' as never }), /sink/);
  const sky = new KVSSkyLine({ streamName: 'ok', region: 'us-west-2', credentials: { ...TEST_KEY, sessionToken: 'session-token-0123456789' }, logger: captureLogger().logger });
  try {
    for (const text of [JSON.stringify(sky), inspect(sky, { depth: 8 })]) {
      for (const secret of [TEST_KEY.secretAccessKey, 'session-token-0123456789']) assert.ok(!text.includes(secret), 'a secret shows');
    }
  } finally {
    await sky.close();
  }
});
