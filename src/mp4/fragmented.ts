/**
 * Fragmented MP4 (ISO/IEC 14496-12, §8.8) for one live H.264 track, the shape Media Source
 * Extensions want: an init segment (ftyp + moov with avcC and mvex, no samples), then media
 * segments of one moof + mdat each, here one per access unit so nothing waits for a GOP.
 * No B-frames: decode time equals presentation time, so trun carries no composition offsets.
 */
import { box, fullBox, u16, u32, u64, UNITY_MATRIX, zeros } from './boxes.js';

/** The only track. */
export const TRACK_ID = 1;
/** Media timescale: the 90 kHz clock H.264 timestamps use. */
export const TIMESCALE = 90_000;

/** sample_flags (§8.8.3.1): a sync sample that depends on no other. */
export const SYNC_SAMPLE_FLAGS = 0x02000000;
/** sample_flags: depends on others, is_non_sync_sample set. */
export const NON_SYNC_SAMPLE_FLAGS = 0x01010000;

/** trun flags we set: data-offset, sample-duration, sample-size and sample-flags present. */
export const TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400;
/** tfhd flags: default-base-is-moof (offsets count from the moof, as MSE expects). */
export const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;

export interface InitOptions {
  width: number;
  height: number;
  /** AVCDecoderConfigurationRecord (src/h264/avcc.ts). */
  avcC: Buffer;
}

export interface Sample {
  /** Length-prefixed NAL units (4-byte lengths, as in the avcC). */
  data: Uint8Array;
  /** Duration in TIMESCALE ticks. */
  duration: number;
  keyframe: boolean;
}

export interface FragmentOptions {
  /** mfhd sequence_number: starts at 1 and increases with every fragment. */
  sequence: number;
  /** tfdt: decode time of the first sample, TIMESCALE ticks. */
  baseDecodeTime: number;
  samples: readonly Sample[];
}

/** ftyp + moov: what a decoder needs before the first media segment. */
export function initSegment(o: InitOptions): Buffer {
  if (!Number.isInteger(o.width) || !Number.isInteger(o.height) || o.width <= 0 || o.height <= 0 || o.width > 0xffff || o.height > 0xffff) {
    throw new RangeError(`init segment needs a width and height in 1..65535, got ${o.width}x${o.height}`);
  }
  const ftyp = box('ftyp', Buffer.from('iso5', 'latin1'), u32(0x200), Buffer.from('iso5iso6avc1mp41', 'latin1'));
  const mvhd = fullBox(
    'mvhd', 0, 0,
    u32(0, 0, 1000, 0), // creation, modification, timescale (ms), duration unknown
    u32(0x00010000), u16(0x0100), zeros(10), // rate 1.0, volume 1.0, reserved
    UNITY_MATRIX, zeros(24), u32(TRACK_ID + 1), // pre_defined, next_track_ID
  );
  const tkhd = fullBox(
    'tkhd', 0, 0x000003, // enabled, in movie
    u32(0, 0, TRACK_ID, 0, 0), // creation, modification, track_ID, reserved, duration
    zeros(8), u16(0, 0, 0, 0), // reserved, layer, alternate_group, volume (video: 0), reserved
    UNITY_MATRIX, u32(o.width * 0x10000, o.height * 0x10000),
  );
  const mdhd = fullBox('mdhd', 0, 0, u32(0, 0, TIMESCALE, 0), u16(0x55c4, 0)); // language "und"
  const hdlr = fullBox('hdlr', 0, 0, u32(0), Buffer.from('vide', 'latin1'), zeros(12), Buffer.from('VideoHandler\0', 'latin1'));
  const vmhd = fullBox('vmhd', 0, 1, u16(0, 0, 0, 0));
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
  const avc1 = box(
    'avc1',
    zeros(6), u16(1), // reserved, data_reference_index
    zeros(16), // pre_defined, reserved, pre_defined[3]
    u16(o.width, o.height), u32(0x00480000, 0x00480000, 0), u16(1), // 72 dpi, reserved, frame_count
    zeros(32), // compressorname
    u16(0x0018, 0xffff), // depth, pre_defined -1
    box('avcC', o.avcC),
  );
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), avc1),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0, 0)),
    fullBox('stco', 0, 0, u32(0)),
  );
  const trak = box('trak', tkhd, box('mdia', mdhd, hdlr, box('minf', vmhd, dinf, stbl)));
  const mvex = box('mvex', fullBox('trex', 0, 0, u32(TRACK_ID, 1, 0, 0, 0)));
  return Buffer.concat([ftyp, box('moov', mvhd, trak, mvex)]);
}

/** moof + mdat for the given samples (decode order, contiguous in time). */
export function mediaSegment(o: FragmentOptions): Buffer {
  if (o.samples.length === 0) throw new RangeError('a media segment needs at least one sample');
  if (!Number.isInteger(o.sequence) || o.sequence < 1 || o.sequence > 0xffffffff) {
    throw new RangeError(`sequence must be an integer in 1..2^32-1, got ${o.sequence}`);
  }
  if (!(o.baseDecodeTime >= 0) || !Number.isSafeInteger(Math.round(o.baseDecodeTime))) {
    throw new RangeError(`baseDecodeTime must be a non-negative tick count, got ${o.baseDecodeTime}`);
  }
  let mdatSize = 8;
  const entries: Buffer[] = [];
  for (const s of o.samples) {
    entries.push(u32(Math.max(0, Math.round(s.duration)), s.data.length, s.keyframe ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS));
    mdatSize += s.data.length;
  }
  // moof size is fixed by the sample count: mfhd 16, traf header 8, tfhd 16, tfdt 20, trun 20 + 12 per sample.
  const moofSize = 8 + 16 + 8 + 16 + 20 + 20 + 12 * o.samples.length;
  const trun = fullBox('trun', 0, TRUN_FLAGS, u32(o.samples.length, moofSize + 8), ...entries);
  const moof = box(
    'moof',
    fullBox('mfhd', 0, 0, u32(o.sequence)),
    box('traf', fullBox('tfhd', 0, TFHD_DEFAULT_BASE_IS_MOOF, u32(TRACK_ID)), fullBox('tfdt', 1, 0, u64(o.baseDecodeTime)), trun),
  );
  if (moof.length !== moofSize) throw new Error(`moof size ${moof.length}, computed ${moofSize}`);
  const out = Buffer.allocUnsafe(moof.length + mdatSize);
  moof.copy(out, 0);
  out.writeUInt32BE(mdatSize, moof.length);
  out.write('mdat', moof.length + 4, 'latin1');
  let off = moof.length + 8;
  for (const s of o.samples) {
    out.set(s.data, off);
    off += s.data.length;
  }
  return out;
}
