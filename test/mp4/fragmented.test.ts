// Fragmented MP4 writer: each box checked field by field against ISO/IEC 14496-12 (offsets
// and values as the spec lays them out), then an init segment plus one segment per frame
// concatenated into a file that ffprobe must read frame for frame: count, times, keyframes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { AccessUnit } from '../../src/h264/access-unit.js';
import { buildAvcDecoderConfig, parameterSets, splitLengthPrefixed, toLengthPrefixed } from '../../src/h264/avcc.js';
import { avcCodecString } from '../../src/h264/codec-string.js';
import { box, fullBox } from '../../src/mp4/boxes.js';
import {
  initSegment, mediaSegment, NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS, TFHD_DEFAULT_BASE_IS_MOOF, TIMESCALE, TRACK_ID, TRUN_FLAGS,
} from '../../src/mp4/fragmented.js';
import { decodeErrors, frameInfo, probeVideo } from '../support/ffprobe.js';
import { encodeAccessUnits } from '../support/kvs/h264-source.js';

interface Box { type: string; start: number; size: number; body: Buffer }

/** Splits a buffer into its top-level boxes (test-side reader: size + type, nothing of ours). */
function boxes(buf: Buffer): Box[] {
  const out: Box[] = [];
  let off = 0;
  while (off < buf.length) {
    const size = buf.readUInt32BE(off);
    assert.ok(size >= 8 && off + size <= buf.length, `box at ${off} has size ${size} within ${buf.length}`);
    out.push({ type: buf.toString('latin1', off + 4, off + 8), start: off, size, body: buf.subarray(off + 8, off + size) });
    off += size;
  }
  return out;
}

function child(parent: Buffer, path: string[]): Box {
  let cur = parent;
  let found: Box | undefined;
  for (const t of path) {
    found = boxes(cur).find((b) => b.type === t);
    assert.ok(found, `box ${path.join('/')} (missing ${t})`);
    cur = found.body;
  }
  return found!;
}

let dir: string;
let aus: AccessUnit[];
let avcC: Buffer;
const W = 320, H = 240, FPS = 25;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skyline-mp4-'));
  aus = await encodeAccessUnits({ frames: 50, width: W, height: H, fps: FPS, gop: 10 });
  const ps = parameterSets(aus[0]!.nalus);
  avcC = buildAvcDecoderConfig(ps.sps, ps.pps);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('box framing: 32-bit size including the header, four-character type; full boxes add version and flags', () => {
  const b = box('free', Buffer.from([1, 2, 3]));
  assert.deepEqual([...b], [0, 0, 0, 11, 0x66, 0x72, 0x65, 0x65, 1, 2, 3]);
  const f = fullBox('tfdt', 1, 0x020001, Buffer.alloc(0));
  assert.deepEqual([...f], [0, 0, 0, 12, 0x74, 0x66, 0x64, 0x74, 1, 0x02, 0x00, 0x01]);
  assert.throws(() => box('toolong', Buffer.alloc(0)), /four characters/);
});

test('init segment: ftyp brands, then moov with mvhd, trak (tkhd, mdia: mdhd, hdlr vide, minf/stbl/stsd/avc1/avcC) and mvex/trex', () => {
  const init = initSegment({ width: W, height: H, avcC });
  const top = boxes(init);
  assert.deepEqual(top.map((b) => b.type), ['ftyp', 'moov']);
  const ftyp = top[0]!.body;
  assert.equal(ftyp.toString('latin1', 0, 4), 'iso5', 'major brand');
  assert.ok(['iso5', 'iso6', 'avc1'].every((b) => ftyp.toString('latin1', 8).includes(b)), 'compatible brands');

  const moov = top[1]!.body;
  assert.deepEqual(boxes(moov).map((b) => b.type), ['mvhd', 'trak', 'mvex']);
  const mvhd = child(moov, ['mvhd']).body; // §8.2.2, version 0
  assert.equal(mvhd[0], 0);
  assert.equal(mvhd.readUInt32BE(12), 1000, 'mvhd timescale');
  assert.equal(mvhd.readUInt32BE(20), 0x00010000, 'rate 1.0');
  assert.equal(mvhd.readUInt16BE(24), 0x0100, 'volume 1.0');
  assert.equal(mvhd.readUInt32BE(36), 0x00010000, 'matrix a');
  assert.equal(mvhd.readUInt32BE(68), 0x40000000, 'matrix w');
  assert.equal(mvhd.readUInt32BE(96), TRACK_ID + 1, 'next_track_ID');
  assert.equal(mvhd.length, 100);

  const tkhd = child(moov, ['trak', 'tkhd']).body; // §8.3.2
  assert.equal(tkhd.readUInt32BE(0) & 0xffffff, 3, 'enabled | in_movie');
  assert.equal(tkhd.readUInt32BE(12), TRACK_ID);
  assert.equal(tkhd.readUInt32BE(76), W * 65536, 'width 16.16');
  assert.equal(tkhd.readUInt32BE(80), H * 65536, 'height 16.16');
  assert.equal(tkhd.length, 84);

  const mdhd = child(moov, ['trak', 'mdia', 'mdhd']).body; // §8.4.2
  assert.equal(mdhd.readUInt32BE(12), TIMESCALE);
  assert.equal(mdhd.readUInt16BE(20), 0x55c4, 'language und');
  const hdlr = child(moov, ['trak', 'mdia', 'hdlr']).body; // §8.4.3
  assert.equal(hdlr.toString('latin1', 8, 12), 'vide');
  assert.equal(hdlr[hdlr.length - 1], 0, 'name NUL-terminated');
  assert.equal(child(moov, ['trak', 'mdia', 'minf', 'vmhd']).body.readUInt32BE(0), 1, 'vmhd flags 1');
  const dref = child(moov, ['trak', 'mdia', 'minf', 'dinf', 'dref']).body;
  assert.equal(dref.readUInt32BE(4), 1, 'one data reference');
  assert.equal(dref.toString('latin1', 12, 16), 'url ');
  assert.equal(dref.readUInt32BE(16), 1, 'self-contained');

  const stbl = child(moov, ['trak', 'mdia', 'minf', 'stbl']).body;
  assert.deepEqual(boxes(stbl).map((b) => b.type), ['stsd', 'stts', 'stsc', 'stsz', 'stco']);
  for (const t of ['stts', 'stsc', 'stco']) assert.equal(child(stbl, [t]).body.readUInt32BE(4), 0, `${t} empty`);
  assert.equal(child(stbl, ['stsz']).body.readUInt32BE(8), 0, 'stsz empty');
  const stsd = child(stbl, ['stsd']).body;
  assert.equal(stsd.readUInt32BE(4), 1, 'one sample entry');
  const avc1 = boxes(stsd.subarray(8))[0]!;
  assert.equal(avc1.type, 'avc1');
  const e = avc1.body; // §8.5.2 VisualSampleEntry
  assert.equal(e.readUInt16BE(6), 1, 'data_reference_index');
  assert.equal(e.readUInt16BE(24), W);
  assert.equal(e.readUInt16BE(26), H);
  assert.equal(e.readUInt32BE(28), 0x00480000, '72 dpi');
  assert.equal(e.readUInt16BE(40), 1, 'frame_count');
  assert.equal(e.readUInt16BE(74), 0x18, 'depth');
  assert.equal(e.readInt16BE(76), -1);
  const avcCBox = boxes(e.subarray(78))[0]!;
  assert.equal(avcCBox.type, 'avcC');
  assert.ok(avcCBox.body.equals(avcC), 'the avcC record as given');

  const trex = child(moov, ['mvex', 'trex']).body; // §8.8.3
  assert.equal(trex.readUInt32BE(4), TRACK_ID);
  assert.equal(trex.readUInt32BE(8), 1, 'default sample description');
  assert.throws(() => initSegment({ width: 0, height: H, avcC }), /width and height/);
});

test('media segment: moof (mfhd, traf: tfhd base-is-moof, tfdt v1, trun) then mdat; data_offset points at the first sample byte', () => {
  const samples = [
    { data: toLengthPrefixed(aus[0]!.nalus), duration: 3600, keyframe: true },
    { data: toLengthPrefixed(aus[1]!.nalus), duration: 3601, keyframe: false },
  ];
  const seg = mediaSegment({ sequence: 7, baseDecodeTime: 2 ** 33 + 5, samples });
  const top = boxes(seg);
  assert.deepEqual(top.map((b) => b.type), ['moof', 'mdat']);
  const moof = top[0]!;
  assert.equal(child(moof.body, ['mfhd']).body.readUInt32BE(4), 7, 'sequence_number');
  const tfhd = child(moof.body, ['traf', 'tfhd']).body;
  assert.equal(tfhd.readUInt32BE(0) & 0xffffff, TFHD_DEFAULT_BASE_IS_MOOF);
  assert.equal(tfhd.readUInt32BE(4), TRACK_ID);
  const tfdt = child(moof.body, ['traf', 'tfdt']).body;
  assert.equal(tfdt[0], 1, 'version 1: 64-bit time');
  assert.equal(tfdt.readBigUInt64BE(4), BigInt(2 ** 33 + 5));
  const trun = child(moof.body, ['traf', 'trun']).body;
  assert.equal(trun.readUInt32BE(0) & 0xffffff, TRUN_FLAGS);
  assert.equal(trun.readUInt32BE(4), 2, 'sample_count');
  const dataOffset = trun.readInt32BE(8);
  assert.equal(dataOffset, moof.size + 8, 'data_offset: moof size plus the mdat header');
  const rows = [0, 1].map((i) => [trun.readUInt32BE(12 + i * 12), trun.readUInt32BE(16 + i * 12), trun.readUInt32BE(20 + i * 12)]);
  assert.deepEqual(rows, [[3600, samples[0]!.data.length, SYNC_SAMPLE_FLAGS], [3601, samples[1]!.data.length, NON_SYNC_SAMPLE_FLAGS]]);
  // The first sample's bytes are where data_offset says, and split back into NAL units.
  const first = seg.subarray(dataOffset, dataOffset + samples[0]!.data.length);
  assert.ok(Buffer.from(first).equals(Buffer.from(samples[0]!.data)));
  assert.ok(splitLengthPrefixed(Buffer.from(first)).length >= 1);
  assert.equal(top[1]!.size, 8 + samples[0]!.data.length + samples[1]!.data.length);
  assert.throws(() => mediaSegment({ sequence: 0, baseDecodeTime: 0, samples }), /sequence/);
  assert.throws(() => mediaSegment({ sequence: 1, baseDecodeTime: 0, samples: [] }), /at least one sample/);
});

test('media segment sizes add up for any samples (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ len: fc.integer({ min: 1, max: 300 }), duration: fc.integer({ min: 0, max: 90000 }), keyframe: fc.boolean() }), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 1, max: 0xffffffff }),
      fc.integer({ min: 0, max: 2 ** 40 }),
      (specs, sequence, baseDecodeTime) => {
        const samples = specs.map((s) => ({ data: Buffer.alloc(s.len, 7), duration: s.duration, keyframe: s.keyframe }));
        const seg = mediaSegment({ sequence, baseDecodeTime, samples });
        const top = boxes(seg);
        const trun = child(top[0]!.body, ['traf', 'trun']).body;
        return top.length === 2 && trun.readUInt32BE(4) === samples.length && trun.readInt32BE(8) === top[0]!.size + 8
          && top[1]!.size === 8 + specs.reduce((a, s) => a + s.len, 0);
      },
    ),
  );
});

test('codec string avc1.PPCCLL from the SPS', () => {
  const sps = parameterSets(aus[0]!.nalus).sps[0]!;
  assert.match(avcCodecString(sps), /^avc1\.[0-9A-F]{6}$/);
  assert.equal(avcCodecString(Buffer.from([0x67, 0x42, 0xc0, 0x1e])), 'avc1.42C01E');
  assert.throws(() => avcCodecString(Buffer.from([0x68, 1, 2, 3])), /SPS/);
});

test('ffprobe reads init + one segment per frame back frame for frame: count, times, keyframes, no decode errors', async () => {
  const tick = TIMESCALE / FPS;
  const parts = [initSegment({ width: W, height: H, avcC })];
  aus.forEach((au, i) => {
    parts.push(mediaSegment({ sequence: i + 1, baseDecodeTime: Math.round((au.ptsNs * TIMESCALE) / 1e9), samples: [{ data: toLengthPrefixed(au.nalus), duration: tick, keyframe: au.keyframe }] }));
  });
  const file = join(dir, 'frames.mp4');
  await writeFile(file, Buffer.concat(parts));
  const p = await probeVideo(file);
  assert.equal(p.codec, 'h264');
  assert.equal(p.width, W);
  assert.equal(p.height, H);
  assert.equal(p.frames, aus.length, 'every frame decoded');
  const frames = await frameInfo(file);
  assert.equal(frames.length, aus.length);
  frames.forEach((f, i) => {
    assert.ok(Math.abs(f.time - aus[i]!.ptsNs / 1e9) < 1e-4, `frame ${i} at ${f.time}, expected ${aus[i]!.ptsNs / 1e9}`);
    assert.equal(f.keyframe, aus[i]!.keyframe, `frame ${i} keyframe flag`);
  });
  assert.equal(await decodeErrors(file), '');
});
