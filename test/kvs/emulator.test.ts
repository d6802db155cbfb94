// The KVS emulator is only useful if it is as strict as the service: these tests send it
// hand-made bodies and requests and check it refuses what KVS refuses.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { buildAvcDecoderConfig, parameterSets, toLengthPrefixed } from '../../src/h264/avcc.js';
import type { Ack } from '../../src/kvs/acks.js';
import { PutMediaConnection } from '../../src/kvs/putmedia-connection.js';
import type { KvsError } from '../../src/kvs/errors.js';
import { MkvReader, type MkvTrackEntry } from '../../src/mkv/reader.js';
import { cluster, streamHeader, type MkvFrame } from '../../src/mkv/writer.js';
import type { KvsEmulator } from '../support/kvs-emulator.js';
import { encodeAccessUnits } from '../support/kvs/h264-source.js';
import { startEmulator, TEST_KEY } from '../support/kvs/harness.js';

let emu: KvsEmulator;
let aus: AccessUnit[];
let codecPrivate: Buffer;
const T0 = 1_700_000_000_000;

before(async () => {
  emu = await startEmulator();
  aus = await encodeAccessUnits({ frames: 20, fps: 25, gop: 10, originMs: T0 });
  const ps = parameterSets(aus[0]!.nalus);
  codecPrivate = buildAvcDecoderConfig(ps.sps, ps.pps);
});
after(async () => {
  await emu.close();
});

const frame = (i: number, tc = Math.round(aus[i]!.captureMs), keyframe = aus[i]!.keyframe): MkvFrame => ({
  timecodeMs: tc,
  keyframe,
  data: toLengthPrefixed(aus[i]!.nalus),
});

/** Sends one putMedia body and returns the acks and how the call ended. */
async function putMedia(body: Buffer, creds = TEST_KEY): Promise<{ acks: Ack[]; err?: KvsError }> {
  const conn = new PutMediaConnection({ dataEndpoint: emu.dataEndpoint, streamName: 'cam-1', region: emu.region, credentials: creds, producerStartMs: T0 });
  const acks: Ack[] = [];
  conn.on('ack', (a) => acks.push(a));
  const closed = new Promise<KvsError | undefined>((resolve) => conn.once('close', resolve));
  conn.write(body);
  conn.end();
  await conn.open();
  const err = await closed;
  return { acks, err };
}

const header = (cp: Buffer = codecPrivate) => streamHeader({ width: 320, height: 240, codecPrivate: cp });

test('a valid body is persisted fragment by fragment', async () => {
  const body = Buffer.concat([
    header(),
    cluster(T0, Array.from({ length: 10 }, (_, i) => frame(i))),
    cluster(T0 + 400, Array.from({ length: 10 }, (_, i) => frame(i + 10))),
  ]);
  const { acks, err } = await putMedia(body);
  assert.equal(err, undefined);
  assert.deepEqual(
    acks.filter((a) => a.EventType === 'PERSISTED').map((a) => a.FragmentTimecode),
    [T0, T0 + 400],
  );
});

test('a cluster not starting with a keyframe: ERROR 4006', async () => {
  const { acks } = await putMedia(Buffer.concat([header(), cluster(T0 + 10_000, [frame(1, T0 + 10_000, false)])]));
  assert.equal(acks.find((a) => a.EventType === 'ERROR')?.ErrorId, 4006);
});

test('no CodecPrivate: ERROR 4006', async () => {
  // Our writer refuses to leave CodecPrivate out, so turn it into a Void element of the
  // same length: ID 63 A2 + 1-byte size + data becomes ID EC + 2-byte size + data.
  const patched = Buffer.from(header());
  const at = patched.indexOf(Buffer.from([0x63, 0xa2]));
  assert.ok(codecPrivate.length < 127 && patched[at + 2] === (0x80 | codecPrivate.length));
  patched[at] = 0xec;
  patched[at + 1] = 0x40 | (codecPrivate.length >> 8);
  patched[at + 2] = codecPrivate.length & 0xff;
  const tracks: MkvTrackEntry[] = [];
  new MkvReader({ tracks: (t) => tracks.push(...t) }).push(patched);
  assert.equal(tracks.length, 1, 'still valid MKV');
  assert.equal(tracks[0]!.codecPrivate, undefined);
  const { acks } = await putMedia(Buffer.concat([patched, cluster(T0 + 20_000, [frame(0, T0 + 20_000)])]));
  assert.equal(acks.find((a) => a.EventType === 'ERROR')?.ErrorId, 4006);
});

test('timecodes going backwards: ERROR 4004', async () => {
  const body = Buffer.concat([
    header(),
    cluster(T0 + 30_000, [frame(0, T0 + 30_000)]),
    cluster(T0 + 29_000, [frame(10, T0 + 29_000)]),
  ]);
  const { acks } = await putMedia(body);
  assert.equal(acks.find((a) => a.EventType === 'ERROR')?.ErrorId, 4004);
});

test('a fragment over 10 s: ERROR 4002', async () => {
  const body = Buffer.concat([header(), cluster(T0 + 40_000, [frame(0, T0 + 40_000), frame(1, T0 + 50_001)])]);
  const { acks } = await putMedia(body);
  assert.equal(acks.find((a) => a.EventType === 'ERROR')?.ErrorId, 4002);
});

test('bytes that are not MKV: ERROR 4006', async () => {
  const { acks } = await putMedia(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  assert.equal(acks.find((a) => a.EventType === 'ERROR')?.ErrorId, 4006);
});

test('wrong secret: 403 InvalidSignatureException; unknown key: UnrecognizedClient', async () => {
  const wrong = await putMedia(header(), { ...TEST_KEY, secretAccessKey: 'not-the-secret-0000000000000000000000' });
  assert.equal(wrong.err?.details.status, 403);
  assert.equal(wrong.err?.details.errorType, 'InvalidSignatureException');
  const unknown = await putMedia(header(), { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x'.repeat(40) });
  assert.equal(unknown.err?.details.errorType, 'UnrecognizedClientException');
});

test('an unsigned request is refused', async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const u = new URL(emu.dataEndpoint);
    const req = request({ host: u.hostname, port: u.port, path: '/putMedia', method: 'POST', headers: { 'x-amzn-stream-name': 'cam-1' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 403);
});
