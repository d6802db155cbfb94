/**
 * ISO/IEC 14496-15 "avcC" (AVCDecoderConfigurationRecord) and length-prefixed
 * samples: the H.264 form Matroska's V_MPEG4/ISO/AVC and MP4 carry.
 */

import { NAL_AUD, NAL_PPS, NAL_SPS, nalType, parseSps } from './nal.js';

/** Profiles whose avcC record carries the chroma format and bit depth extension. */
const HIGH_PROFILES = new Set([100, 110, 122, 144, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** NAL size field width we write: 4 bytes (lengthSizeMinusOne = 3). */
export const NAL_LENGTH_SIZE = 4;

export interface AvcDecoderConfig {
  profileIdc: number;
  profileCompatibility: number;
  levelIdc: number;
  lengthSize: number;
  sps: Buffer[];
  pps: Buffer[];
  /** Present for high profiles when the record carries the extension. */
  chromaFormat?: number;
  bitDepthLuma?: number;
  bitDepthChroma?: number;
}

/** Builds the avcC record from the stream's SPS and PPS NAL units (no start codes). */
export function buildAvcDecoderConfig(sps: Buffer | Buffer[], pps: Buffer | Buffer[]): Buffer {
  const spsList = Array.isArray(sps) ? sps : [sps];
  const ppsList = Array.isArray(pps) ? pps : [pps];
  const first = spsList[0];
  if (!first || first.length < 4 || nalType(first) !== NAL_SPS) throw new Error('avcC needs an SPS NAL unit');
  if (ppsList.length === 0 || ppsList.some((p) => p.length < 1 || nalType(p) !== NAL_PPS)) {
    throw new Error('avcC needs at least one PPS NAL unit');
  }
  if (spsList.length > 31 || ppsList.length > 255) throw new Error('too many parameter sets for avcC');
  const parts: Buffer[] = [
    Buffer.from([1, first[1]!, first[2]!, first[3]!, 0xfc | (NAL_LENGTH_SIZE - 1), 0xe0 | spsList.length]),
  ];
  const withLength = (nal: Buffer): Buffer => {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(nal.length);
    return Buffer.concat([len, nal]);
  };
  parts.push(...spsList.map(withLength), Buffer.from([ppsList.length]), ...ppsList.map(withLength));
  if (HIGH_PROFILES.has(first[1]!)) {
    const c = parseSps(first);
    parts.push(
      Buffer.from([0xfc | c.chromaFormatIdc, 0xf8 | (c.bitDepthLuma - 8), 0xf8 | (c.bitDepthChroma - 8), 0]),
    );
  }
  return Buffer.concat(parts);
}

/** Parses an avcC record; throws on anything malformed. */
export function parseAvcDecoderConfig(buf: Buffer): AvcDecoderConfig {
  if (buf.length < 7) throw new Error('avcC too short');
  if (buf[0] !== 1) throw new Error(`avcC configurationVersion ${buf[0]} (expected 1)`);
  let off = 5;
  const readSets = (count: number, want: number, what: string): Buffer[] => {
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      if (off + 2 > buf.length) throw new Error(`avcC truncated in ${what}`);
      const len = buf.readUInt16BE(off);
      off += 2;
      if (off + len > buf.length || len === 0) throw new Error(`avcC truncated in ${what}`);
      const nal = buf.subarray(off, off + len);
      if (nalType(nal) !== want) throw new Error(`avcC ${what} entry has NAL type ${nalType(nal)}`);
      out.push(nal);
      off += len;
    }
    return out;
  };
  const sps = readSets(buf[off++]! & 0x1f, NAL_SPS, 'SPS');
  if (off >= buf.length) throw new Error('avcC truncated before PPS count');
  const pps = readSets(buf[off++]!, NAL_PPS, 'PPS');
  if (sps.length === 0 || pps.length === 0) throw new Error('avcC without SPS or PPS');
  const cfg: AvcDecoderConfig = {
    profileIdc: buf[1]!,
    profileCompatibility: buf[2]!,
    levelIdc: buf[3]!,
    lengthSize: (buf[4]! & 3) + 1,
    sps,
    pps,
  };
  if (HIGH_PROFILES.has(cfg.profileIdc) && off + 4 <= buf.length) {
    cfg.chromaFormat = buf[off]! & 3;
    cfg.bitDepthLuma = (buf[off + 1]! & 7) + 8;
    cfg.bitDepthChroma = (buf[off + 2]! & 7) + 8;
  }
  return cfg;
}

/**
 * One access unit as a length-prefixed sample. Parameter sets and access unit
 * delimiters stay out: they live in avcC, where V_MPEG4/ISO/AVC readers expect them.
 */
export function toLengthPrefixed(nalus: readonly Buffer[]): Buffer {
  const kept = nalus.filter((nal) => nal.length > 0 && ![NAL_SPS, NAL_PPS, NAL_AUD].includes(nalType(nal)));
  let size = 0;
  for (const nal of kept) size += NAL_LENGTH_SIZE + nal.length;
  // One allocation per frame: this runs for every frame KVS gets.
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (const nal of kept) {
    out.writeUInt32BE(nal.length, off);
    off += NAL_LENGTH_SIZE + nal.copy(out, off + NAL_LENGTH_SIZE);
  }
  return out;
}

/** Splits a length-prefixed sample back into NAL units (for checks and the emulator). */
export function splitLengthPrefixed(sample: Buffer, lengthSize = NAL_LENGTH_SIZE): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < sample.length) {
    if (off + lengthSize > sample.length) throw new Error('truncated NAL length');
    const len = sample.readUIntBE(off, lengthSize);
    off += lengthSize;
    if (len === 0 || off + len > sample.length) throw new Error('NAL length overruns the sample');
    out.push(sample.subarray(off, off + len));
    off += len;
  }
  return out;
}

/** The SPS and PPS NAL units of an access unit, if it carries them. */
export function parameterSets(nalus: readonly Buffer[]): { sps: Buffer[]; pps: Buffer[] } {
  return {
    sps: nalus.filter((n) => n.length > 0 && nalType(n) === NAL_SPS),
    pps: nalus.filter((n) => n.length > 0 && nalType(n) === NAL_PPS),
  };
}
