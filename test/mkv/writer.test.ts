import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAvcDecoderConfig, parameterSets, parseAvcDecoderConfig, splitLengthPrefixed, toLengthPrefixed } from '../../src/h264/avcc.js';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { readChildren, readElementHeader } from '../../src/mkv/ebml.js';
import { ID } from '../../src/mkv/ids.js';
import { MkvReader, type MkvBlock, type MkvTrackEntry } from '../../src/mkv/reader.js';
import { cluster, clusterStart, simpleBlock, streamHeader, TIMESTAMP_SCALE_NS } from '../../src/mkv/writer.js';
import { encodeAccessUnits } from '../support/kvs/h264-source.js';
import { decodeErrors, frameInfo, probeVideo } from '../support/ffprobe.js';

let dir: string;
let aus: AccessUnit[];
const ORIGIN = 1_700_000_000_000;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skyline-mkv-'));
  aus = await encodeAccessUnits({ frames: 60, width: 320, height: 240, fps: 25, gop: 20, originMs: ORIGIN });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function codecPrivateOf(list: AccessUnit[]): Buffer {
  const ps = parameterSets(list[0]!.nalus);
  return buildAvcDecoderConfig(ps.sps, ps.pps);
}

/** Groups access units into GOP fragments and writes a whole live-style MKV. */
function writeMkv(list: AccessUnit[], unknownClusters: boolean): Buffer {
  const parts = [streamHeader({ width: 320, height: 240, codecPrivate: codecPrivateOf(list) })];
  let frags: AccessUnit[][] = [];
  for (const au of list) {
    if (au.keyframe || frags.length === 0) frags.push([]);
    frags[frags.length - 1]!.push(au);
  }
  for (const f of frags) {
    const tc = Math.round(f[0]!.captureMs);
    const frames = f.map((au) => ({ timecodeMs: Math.round(au.captureMs), keyframe: au.keyframe, data: toLengthPrefixed(au.nalus) }));
    if (unknownClusters) {
      parts.push(clusterStart(tc), ...frames.map((fr) => simpleBlock(fr.timecodeMs - tc, fr.keyframe, fr.data)));
    } else {
      parts.push(cluster(tc, frames));
    }
  }
  return Buffer.concat(parts);
}

test('avcC carries the SPS/PPS and profile of the stream (ISO 14496-15 5.3.3.1)', () => {
  const ps = parameterSets(aus[0]!.nalus);
  assert.equal(ps.sps.length, 1);
  assert.equal(ps.pps.length, 1);
  const avcc = buildAvcDecoderConfig(ps.sps, ps.pps);
  assert.equal(avcc[0], 1, 'configurationVersion');
  assert.equal(avcc[1], ps.sps[0]![1], 'AVCProfileIndication from SPS');
  assert.equal(avcc[3], ps.sps[0]![3], 'AVCLevelIndication from SPS');
  assert.equal(avcc[4]! & 3, 3, 'lengthSizeMinusOne');
  assert.equal(avcc[4]! & 0xfc, 0xfc, 'reserved bits');
  assert.equal(avcc[5], 0xe1, 'reserved bits + one SPS');
  const parsed = parseAvcDecoderConfig(avcc);
  assert.deepEqual(parsed.sps[0], ps.sps[0]);
  assert.deepEqual(parsed.pps[0], ps.pps[0]);
  assert.throws(() => buildAvcDecoderConfig([], ps.pps));
  assert.throws(() => parseAvcDecoderConfig(avcc.subarray(0, 9)));
});

test('a High profile avcC carries the chroma format and bit depths from the SPS, and decodes', async () => {
  const high = await encodeAccessUnits({ frames: 5, fps: 25, gop: 5, originMs: ORIGIN, preset: 'veryfast' });
  const parsed = parseAvcDecoderConfig(codecPrivateOf(high));
  assert.equal(parsed.profileIdc, 100);
  assert.deepEqual([parsed.chromaFormat, parsed.bitDepthLuma, parsed.bitDepthChroma], [1, 8, 8], '4:2:0, 8 bit');
  const file = join(dir, 'high.mkv');
  await writeFile(file, writeMkv(high, false));
  const probed = await probeVideo(file);
  assert.equal(probed.frames, 5);
  assert.equal(await decodeErrors(file), '');
});

test('samples are 4-byte length-prefixed and leave parameter sets and AUDs to avcC', () => {
  const sample = toLengthPrefixed(aus[0]!.nalus);
  const nals = splitLengthPrefixed(sample);
  assert.ok(nals.length >= 1);
  for (const n of nals) assert.ok(![7, 8, 9].includes(n[0]! & 0x1f));
  assert.ok(nals.some((n) => (n[0]! & 0x1f) === 5), 'IDR slice kept');
});

test('stream header: EBML DocType matroska, unknown-size Segment, 1 ms scale, one AVC track', () => {
  const hdr = streamHeader({ width: 320, height: 240, codecPrivate: codecPrivateOf(aus) });
  const ebml = readElementHeader(hdr, 0)!;
  assert.equal(ebml.id, ID.EBML);
  const ebmlKids = readChildren(hdr.subarray(ebml.headerLength, ebml.headerLength + ebml.size));
  assert.equal(ebmlKids.find((k) => k.id === ID.DocType)!.data.toString(), 'matroska');
  const segAt = ebml.headerLength + ebml.size;
  const seg = readElementHeader(hdr, segAt)!;
  assert.equal(seg.id, ID.Segment);
  assert.equal(seg.size, -1, 'live segment has unknown size');
  assert.equal(seg.headerLength, 12, '4-byte ID + 8-byte unknown size');

  let info: { timestampScale: number } | undefined;
  let tracks: MkvTrackEntry[] = [];
  new MkvReader({ info: (i) => (info = i), tracks: (t) => (tracks = t) }).push(hdr);
  assert.equal(info?.timestampScale, TIMESTAMP_SCALE_NS);
  assert.equal(tracks.length, 1);
  assert.equal(tracks[0]!.number, 1);
  assert.equal(tracks[0]!.type, 1);
  assert.equal(tracks[0]!.codecId, 'V_MPEG4/ISO/AVC');
  assert.equal(tracks[0]!.width, 320);
  assert.equal(tracks[0]!.height, 240);
  assert.deepEqual(tracks[0]!.codecPrivate, codecPrivateOf(aus));
  assert.throws(() => streamHeader({ width: 320, height: 240, codecPrivate: Buffer.alloc(0) }));
});

test('SimpleBlock: track vint, signed 16-bit offset, keyframe flag', () => {
  const b = simpleBlock(40, true, Buffer.from([1, 2, 3]));
  assert.deepEqual(b, Buffer.from([0xa3, 0x87, 0x81, 0x00, 0x28, 0x80, 1, 2, 3]));
  assert.equal(simpleBlock(-2, false, Buffer.alloc(0))[5], 0x00);
  assert.throws(() => simpleBlock(40000, false, Buffer.alloc(1)));
});

for (const unknownClusters of [true, false]) {
  test(`ffprobe reads back every frame with the right size and times (${unknownClusters ? 'unknown' : 'known'}-size clusters)`, async () => {
    const file = join(dir, `out-${unknownClusters}.mkv`);
    const mkv = writeMkv(aus, unknownClusters);
    await writeFile(file, mkv);

    // Our own reader agrees with what was written, byte for byte.
    const blocks: MkvBlock[] = [];
    const clusterTimes: number[] = [];
    const reader = new MkvReader({ clusterTimestamp: (t) => clusterTimes.push(t), block: (b) => blocks.push(b) });
    for (let i = 0; i < mkv.length; i += 777) reader.push(mkv.subarray(i, i + 777));
    reader.end();
    assert.equal(blocks.length, aus.length);
    assert.deepEqual(blocks.map((b) => b.data), aus.map((au) => toLengthPrefixed(au.nalus)), 'every frame byte for byte');
    assert.equal(clusterTimes.length, 3, 'one cluster per GOP');
    assert.ok(blocks.filter((b) => b.keyframe).length === 3);

    const probed = await probeVideo(file);
    assert.equal(probed.codec, 'h264');
    assert.equal(probed.width, 320);
    assert.equal(probed.height, 240);
    assert.equal(probed.frames, aus.length);
    const frames = await frameInfo(file);
    const ptsMs = frames.map((f) => Math.round(f.time * 1000));
    // Cluster times are epoch ms: compare spacing, not the absolute value ffprobe shows.
    assert.deepEqual(
      ptsMs.map((t) => t - ptsMs[0]!),
      aus.map((au) => Math.round(au.captureMs) - Math.round(aus[0]!.captureMs)),
    );
    assert.deepEqual(frames.map((f) => f.keyframe), aus.map((au) => au.keyframe));
    assert.equal(await decodeErrors(file), '');
  });
}
