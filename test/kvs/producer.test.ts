import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import type { KvsAckEvent } from '../../src/kvs/producer.js';
import type { KvsEmulator } from '../support/kvs-emulator.js';
import { encodeAccessUnits } from '../support/kvs/h264-source.js';
import { assertWireCarries, expectedFragmentTimecodes, feed, makeProducer, startEmulator, TEST_KEY } from '../support/kvs/harness.js';
import { waitFor } from '../support/wait.js';
import { decodeErrors, frameInfo, probeVideo } from '../support/ffprobe.js';

let dir: string;
let aus: AccessUnit[];
const ORIGIN = Date.UTC(2024, 0, 2, 3, 4, 5, 0);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skyline-kvs-'));
  // 120 frames at 25 fps, keyframe every 10 frames: 12 fragments of 400 ms.
  aus = await encodeAccessUnits({ frames: 120, fps: 25, gop: 10, originMs: ORIGIN });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every fragment stored once, the stored stream decodes to exactly the frames put. */
async function assertComplete(emu: KvsEmulator, name = 'cam-1'): Promise<void> {
  const stored = emu.fragments(name);
  assert.deepEqual(stored.map((f) => f.timecode), expectedFragmentTimecodes(aus), 'every fragment persisted, no gap');
  const file = join(dir, `${name}-${Date.now()}-${Math.random()}.mkv`);
  await writeFile(file, emu.toMkv(name));
  const probed = await probeVideo(file);
  assert.equal(probed.frames, aus.length);
  // And the bytes actually sent, demuxed by ffprobe: every frame went over the wire, as stored.
  await assertWireCarries(emu, name, dir, aus.map((a) => a.captureMs));
  assert.equal(probed.width, 320);
  assert.equal(probed.height, 240);
  const ptsMs = (await frameInfo(file)).map((f) => Math.round(f.time * 1000));
  assert.deepEqual(
    ptsMs.map((t) => t - ptsMs[0]!),
    aus.map((a) => Math.round(a.captureMs) - ORIGIN),
  );
  assert.equal(await decodeErrors(file), '');
}

describe('PutMedia producer against the KVS emulator', () => {
  test('frames stream end to end; stored fragments decode to exactly the frames put', async () => {
    const emu = await startEmulator();
    const p = makeProducer(emu);
    const acks: KvsAckEvent[] = [];
    p.on('ack', (a) => acks.push(a));
    try {
      await p.start();
      await feed(p, aus);
      assert.equal(await p.stop(), 0);
      await assertComplete(emu);
      const st = p.stats();
      assert.equal(st.fragmentsPersisted, 12);
      assert.equal(st.fragmentsDropped, 0);
      assert.equal(st.framesDropped, 0);
      assert.equal(st.connections, 1);
      for (const type of ['BUFFERING', 'RECEIVED', 'PERSISTED'] as const) {
        assert.equal(acks.filter((a) => a.EventType === type).length, 12, type);
      }
      assert.ok(acks.filter((a) => a.EventType === 'PERSISTED').every((a) => typeof a.latencyMs === 'number'));
      assert.equal(st.persistLatencyMs.samples, 12);
      const conn = emu.connections[0]!;
      assert.equal(conn.timecodeType, 'ABSOLUTE');
      assert.equal(conn.producerStartTimestamp, (ORIGIN / 1000).toFixed(3));
      assert.equal(emu.rejections.length, 0, emu.rejections.join(', '));
    } finally {
      p.destroy();
      await emu.close();
    }
  });

  test('createStream creates a missing stream with the retention asked for', async () => {
    const emu = await startEmulator({ streams: [] });
    const p = makeProducer(emu, { streamName: 'new-cam', createStream: true });
    try {
      const d = await p.start();
      assert.equal(d.created, true);
      assert.equal(emu.streams.get('new-cam')?.retentionHours, 2);
      await feed(p, aus.slice(0, 30));
      assert.equal(await p.stop(), 0);
      assert.equal(emu.fragments('new-cam').length, 3);
    } finally {
      p.destroy();
      await emu.close();
    }
  });

  const faults: { name: string; inject: (emu: KvsEmulator) => void | Promise<void>; check?: (emu: KvsEmulator) => void }[] = [
    { name: 'connection reset', inject: (emu) => emu.inject({ type: 'reset', afterFragments: 3 }) },
    {
      name: 'HTTP 500 and 503',
      inject: (emu) => {
        emu.inject({ type: 'http', status: 500 });
        emu.inject({ type: 'http', status: 503 });
        emu.inject({ type: 'reset', afterFragments: 1 });
      },
    },
    {
      name: 'throttling (ClientLimitExceeded)',
      inject: (emu) => {
        emu.inject({ type: 'throttle', count: 2 });
        emu.inject({ type: 'reset', afterFragments: 1 });
      },
    },
    { name: 'ERROR ack 5000', inject: (emu) => emu.inject({ type: 'errorAck', errorId: 5000, afterFragments: 2 }) },
    { name: 'ERROR ack 5001', inject: (emu) => emu.inject({ type: 'errorAck', errorId: 5001, afterFragments: 2 }) },
    { name: 'endpoint change', inject: (emu) => emu.changeDataEndpoint() },
  ];
  for (const f of faults) {
    test(`survives ${f.name} with no PERSISTED gap`, async () => {
      const emu = await startEmulator();
      const p = makeProducer(emu);
      const fatal: Error[] = [];
      p.on('error', (e) => fatal.push(e));
      try {
        await p.start();
        // The first fault-free connection is up; faults hit a live stream.
        await feed(p, aus.slice(0, 30));
        await waitFor(() => emu.fragments('cam-1').length >= 2, 10_000, 'first fragments');
        await f.inject(emu);
        await feed(p, aus.slice(30));
        assert.equal(await p.stop(15_000), 0);
        assert.deepEqual(fatal, []);
        await assertComplete(emu);
        assert.ok(p.stats().connections >= 2, 'reconnected');
        assert.equal(p.stats().fragmentsDropped, 0);
      } finally {
        p.destroy();
        await emu.close();
      }
    });
  }

  test('rotates the connection before the service limit and before credentials expire', async () => {
    const emu = await startEmulator({ maxConnectionMs: 1500 });
    const p = makeProducer(emu, { rotateAfterMs: 600 });
    try {
      await p.start();
      await feed(p, aus, 5, 60); // ~1.4 s of wall time
      assert.equal(await p.stop(), 0);
      await assertComplete(emu);
      assert.ok(p.stats().rotations >= 1, 'rotated');
      assert.ok(emu.connections.every((c) => !c.errors.includes(4003)), 'never hit the 4003 limit');
    } finally {
      p.destroy();
      await emu.close();
    }
  });

  test('temporary credentials rotate mid-stream without a gap', async () => {
    const emu = await startEmulator();
    let n = 0;
    const issued: string[] = [];
    // Each set lives 1.2 s; the producer refreshes 0.8 s ahead and rotates its connection.
    const provider = async () => {
      n++;
      const key = { accessKeyId: `ASIATEMP${String(n).padStart(12, '0')}`, secretAccessKey: `temp-secret-${n}-xxxxxxxxxxxxxxxx`, sessionToken: `token-${n}-${'z'.repeat(40)}` };
      const expiresAtMs = Date.now() + 1200;
      emu.addKey({ ...key, expiresAtMs });
      issued.push(key.accessKeyId);
      return { ...key, expiration: new Date(expiresAtMs) };
    };
    const p = makeProducer(emu, { creds: provider, refreshMarginMs: 800 });
    try {
      await p.start();
      await feed(p, aus, 5, 80); // ~1.9 s
      assert.equal(await p.stop(), 0);
      await assertComplete(emu);
      assert.ok(issued.length >= 2, `credentials refreshed (${issued.length})`);
      const used = new Set(emu.connections.map((c) => c.accessKeyId));
      assert.ok(used.size >= 2, 'connections signed with fresh credentials');
      assert.ok(emu.connections.every((c) => c.closedBy !== 'expired'), 'no connection outlived its credentials');
      assert.ok(!emu.rejections.some((r) => r.includes('Expired')), emu.rejections.join(', '));
    } finally {
      p.destroy();
      await emu.close();
    }
  });

  test('credentials expiring under a live connection: refreshed and resent', async () => {
    const emu = await startEmulator();
    let n = 0;
    const provider = async () => {
      n++;
      const key = { accessKeyId: `ASIAEXP${String(n).padStart(13, '0')}`, secretAccessKey: `exp-secret-${n}-yyyyyyyyyyyyyyyyy`, sessionToken: `tok-${n}` };
      emu.addKey(key);
      return { ...key, expiration: new Date(Date.now() + 3600_000) };
    };
    const p = makeProducer(emu, { creds: provider });
    try {
      await p.start();
      await feed(p, aus.slice(0, 30));
      await waitFor(() => emu.fragments('cam-1').length >= 2, 10_000, 'first fragments');
      emu.expireKey('ASIAEXP0000000000001');
      await feed(p, aus.slice(30));
      assert.equal(await p.stop(15_000), 0);
      await assertComplete(emu);
      assert.ok(n >= 2, 'provider asked again');
    } finally {
      p.destroy();
      await emu.close();
    }
  });

  test('wrong secret key: start() fails with a clear error that shows no secret', async () => {
    const emu = await startEmulator();
    const wrong = { accessKeyId: TEST_KEY.accessKeyId, secretAccessKey: 'definitely-not-the-right-secret-key-000' };
    const p = makeProducer(emu, { creds: wrong });
    try {
      await assert.rejects(p.start(), (err: Error) => {
        assert.match(err.message, /signature/i);
        assert.ok(!err.message.includes(wrong.secretAccessKey));
        return true;
      });
      assert.ok(emu.rejections.some((r) => r === '403 InvalidSignatureException'));
    } finally {
      p.destroy();
      await emu.close();
    }
  });

  test('unknown access key: clear error', async () => {
    const emu = await startEmulator();
    const p = makeProducer(emu, { creds: { accessKeyId: 'AKIANOBODY0000000000', secretAccessKey: 'x'.repeat(40) } });
    try {
      await assert.rejects(p.start(), /does not recognise the AWS access key/);
    } finally {
      p.destroy();
      await emu.close();
    }
  });

  test('missing stream without createStream: clear error', async () => {
    const emu = await startEmulator({ streams: [] });
    const p = makeProducer(emu, { streamName: 'nope' });
    try {
      await assert.rejects(p.start(), /"nope" does not exist/);
    } finally {
      p.destroy();
      await emu.close();
    }
  });

  for (const kind of ['stream deleted', 'access denied'] as const) {
    test(`${kind} mid-stream stops with a clear error instead of retrying forever`, async () => {
      const emu = await startEmulator();
      const p = makeProducer(emu);
      try {
        await p.start();
        const failed = new Promise<Error>((resolve) => p.once('error', resolve));
        await feed(p, aus.slice(0, 30));
        await waitFor(() => emu.fragments('cam-1').length >= 1, 10_000, 'first fragment');
        if (kind === 'stream deleted') emu.deleteStream('cam-1');
        else {
          emu.denyAccess(TEST_KEY.accessKeyId);
          emu.inject({ type: 'reset', afterFragments: 0 });
          emu.changeDataEndpoint();
        }
        await feed(p, aus.slice(30, 60));
        const err = await failed;
        if (kind === 'stream deleted') assert.match(err.message, /no longer active|does not exist/);
        else assert.match(err.message, /not allowed to write to KVS stream "cam-1"/);
        const connections = emu.connections.length;
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(emu.connections.length, connections, 'no more retries');
      } finally {
        p.destroy();
        await emu.close();
      }
    });
  }

  test('fragments older than bufferSeconds are dropped and counted while KVS is unreachable', async () => {
    const emu = await startEmulator();
    const p = makeProducer(emu, { bufferSeconds: 1 });
    try {
      await p.start();
      await feed(p, aus.slice(0, 20));
      await waitFor(() => emu.fragments('cam-1').length >= 1, 10_000, 'first fragment');
      emu.inject({ type: 'http', status: 503, count: 1000 });
      emu.inject({ type: 'reset', afterFragments: 0 });
      await emu.changeDataEndpoint();
      await feed(p, aus.slice(20));
      const left = await p.stop(500);
      const st = p.stats();
      assert.ok(st.fragmentsDropped >= 5, `dropped ${st.fragmentsDropped}`);
      assert.ok(left <= 4, `${left} left at stop (about 1 s of buffer)`);
    } finally {
      p.destroy();
      await emu.close();
    }
  });
});
